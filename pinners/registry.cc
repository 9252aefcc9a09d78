// The pinner table: one entry per pinner, compiled in or not (stress-ng's habit: the user always sees every
// module and why one is missing). Explicit, not static constructors, so static linking keeps every entry.
#include <unistd.h>

#include "pinners/pinner.h"
#include "pinners/vmsplice_pinner.h"
// [pinners without hardware: includes]
#include "pinners/fuse_pinner.h"
#include "pinners/io_uring_pinner.h"
#include "pinners/odirect_pinner.h"
#include "pinners/process_vm_pinner.h"
// [rdma and cuda pinners: includes]
#include "pinners/cuda_pinner.h"
#include "pinners/rdma_pinner.h"

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
      {"io_uring", "io_uring fixed buffers (one registered buffer per window); READ_FIXED from a file is the DMA write",
       PinReference::kFollPinLongterm, IoUringPinnerUnavailable, CreateIoUringPinner},
      {"odirect", "O_DIRECT read from a scratch file into the window: the kernel pins the pages for each IO",
       PinReference::kFollPin, Always, CreateOdirectPinner},
      {"process-vm", "a helper child writes the window with process_vm_writev (short-term pins, unpinned dirty)",
       PinReference::kFollPin, ProcessVmPinnerUnavailable, CreateProcessVmPinner},
#ifdef LONGPIN_HAVE_FUSE
      {"fuse", kFusePinnerDescription, kFusePinnerReference, FusePinnerUnavailable, CreateFusePinner},
#else
      {"fuse", kFusePinnerDescription, kFusePinnerReference,
       []() -> std::optional<std::string> { return std::string(kFuseCompiledOut); }, nullptr},
#endif
      // [rdma and cuda pinners: entries]
      {"rdma", "ibv_reg_mr over each window; DMA writer: RDMA WRITE through a loopback RC QP pair",
       PinReference::kFollPinLongterm, RdmaUnavailable, kCreateRdmaPinner},
      {"rdma-odp", "ibv_reg_mr with IBV_ACCESS_ON_DEMAND: no pin, the control for rdma",
       PinReference::kMmuNotifier, RdmaOdpUnavailable, kCreateRdmaOdpPinner},
      {"cuda", "cudaHostRegister over each window; DMA writer: GPU-stamped blocks by copy or mapped store",
       PinReference::kFollPinLongterm, CudaUnavailable, kCreateCudaPinner},
  };
  return table;
}

const PinnerInfo* FindPinner(const std::string& name) {
  for (const auto& p : PinnerRegistry())
    if (name == p.name) return &p;
  return nullptr;
}

}  // namespace longpin
