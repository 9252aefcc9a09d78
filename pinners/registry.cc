// The pinner table: one entry per pinner, compiled in or not (stress-ng's habit: the user always sees every
// module and why one is missing). Explicit, not static constructors, so static linking keeps every entry.
#include <unistd.h>

#include "pinners/pinner.h"
#include "pinners/vmsplice_pinner.h"
// [pinners without hardware: includes]
// [rdma and cuda pinners: includes]

namespace longpin {
namespace {

std::optional<std::string> Always() { return std::nullopt; }

class NonePinner final : public Pinner {
 public:
  PinReference reference() const override { return PinReference::kNone; }
  Result<PinGrant> Pin(const PinWindow&) override { return PinGrant{0}; }
  Status Unpin(const PinWindow&) override { return {}; }
};

Result<std::unique_ptr<Pinner>> CreateNonePinner(const PinTarget&, const PinnerOptions&) {
  return std::unique_ptr<Pinner>(new NonePinner);
}

}  // namespace

const char* PinAccessName(PinAccess a) { return a == PinAccess::kReadOnly ? "ro" : "rw"; }

const char* PinReferenceName(PinReference r) {
  switch (r) {
    case PinReference::kNone: return "none";
    case PinReference::kFollGet: return "FOLL_GET";
    case PinReference::kFollPin: return "FOLL_PIN";
    case PinReference::kFollPinLongterm: return "FOLL_PIN|FOLL_LONGTERM";
    case PinReference::kMmuNotifier: return "mmu-notifier (no pin)";
  }
  return "?";
}

const std::vector<PinnerInfo>& PinnerRegistry() {
  static const std::vector<PinnerInfo> table = {
      {"none", "no pin: the control", PinReference::kNone, Always, CreateNonePinner},
      {"vmsplice", "vmsplice the window into a pipe that is not read until the window rotates",
       PinReference::kFollGet, Always, CreateVmsplicePinner},
      // [pinners without hardware: entries]
      // [rdma and cuda pinners: entries]
  };
  return table;
}

const PinnerInfo* FindPinner(const std::string& name) {
  for (const auto& p : PinnerRegistry())
    if (name == p.name) return &p;
  return nullptr;
}

}  // namespace longpin
