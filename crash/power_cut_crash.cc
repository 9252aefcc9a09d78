#include "crash/crash_model.h"

namespace longpin {

namespace {

// A real power cut: the run writes its expected log and state durably (group commit) to the state directory;
// the cut itself comes from outside, and `longpin verify` checks the target after the machine is back.
class PowerCutCrash final : public CrashModel {
 public:
  CrashKind kind() const override { return CrashKind::kPowerCut; }
  bool durable_state() const override { return true; }
};

}  // namespace

std::unique_ptr<CrashModel> MakePowerCutCrash() {
  return std::make_unique<PowerCutCrash>();
}

}  // namespace longpin
