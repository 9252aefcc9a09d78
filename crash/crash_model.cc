#include "crash/crash_model.h"

namespace longpin {

const char* CrashModelName(CrashKind c) {
  switch (c) {
    case CrashKind::kNone: return "none";
    case CrashKind::kShutdown: return "shutdown";
    case CrashKind::kPowerCut: return "power-cut";
    case CrashKind::kLogWrites: return "log-writes";
  }
  return "?";
}

// What a model does not need to do, it leaves to these: no device, no crash, nothing to recover or replay.
Result<std::unique_ptr<ScratchFs>> CrashModel::MakeScratchFs(const ScratchSpec&, std::string*) {
  return std::unique_ptr<ScratchFs>();
}
Status CrashModel::Prepare(ScratchFs&, const std::string&) {
  return {};
}
void CrashModel::OnSync(uint64_t) {}
Status CrashModel::Fire(ScratchFs*) {
  return {};
}
void CrashModel::Recover(ScratchFs*, RunReport&) {}
void CrashModel::VerifyCrashStates(const CrashStatesInput&, RunReport&) {}
Status CrashModel::Cleanup(bool) {
  return {};
}

namespace {

// No crash: the run syncs once more after the phases and verifies what that sync promised.
class NoCrash final : public CrashModel {
 public:
  CrashKind kind() const override { return CrashKind::kNone; }
};

}  // namespace

std::unique_ptr<CrashModel> MakeCrashModel(CrashKind kind, const CrashModelOptions& options) {
  switch (kind) {
    case CrashKind::kShutdown: return MakeShutdownCrash(options);
    case CrashKind::kPowerCut: return MakePowerCutCrash();
    case CrashKind::kLogWrites: return MakeLogWritesCrash();
    case CrashKind::kNone: break;
  }
  return std::make_unique<NoCrash>();
}

}  // namespace longpin
