// The pinner table: one entry per pinner, compiled in or not (stress-ng's habit: the user always sees every
// module and why one is missing). Explicit, not static constructors, so static linking keeps every entry.
#include <unistd.h>

#include <algorithm>

#include "core/units.h"
#include "pinners/cuda_pinner.h"
#include "pinners/fuse_pinner.h"
#include "pinners/io_uring_pinner.h"
#include "pinners/kernel_rules.h"
#include "pinners/odirect_pinner.h"
#include "pinners/pinner.h"
#include "pinners/process_vm_pinner.h"
#include "pinners/rdma_pinner.h"
#include "pinners/vmsplice_pinner.h"

namespace longpin {
namespace {

std::optional<std::string> Always() {
  return std::nullopt;
}

class NonePinner final : public Pinner {
 public:
  Result<PinGrant> Pin(const PinWindow&) override { return PinGrant{0}; }
  Status Unpin(const PinWindow&) override { return {}; }
};

Result<std::unique_ptr<Pinner>> CreateNonePinner(const PinTarget&, const PinnerOptions&) {
  return std::unique_ptr<Pinner>(new NonePinner);
}

Status CheckOdirectHold(const PinnerOptions& o) {
  return PinnerDurationOption(o, "odirect", "hold").status();
}
Status CheckFuseHold(const PinnerOptions& o) {
  return PinnerDurationOption(o, "fuse", "hold").status();
}

// Whether `key` is one of the comma-and-space separated `keys`.
bool TakesKey(const char* keys, const std::string& key) {
  std::string_view rest(keys);
  while (!rest.empty()) {
    const size_t end = std::min(rest.find(','), rest.size());
    if (rest.substr(0, end) == key) return true;
    rest.remove_prefix(std::min(end + 2, rest.size()));
  }
  return false;
}

}  // namespace

void PinnerOptions::Set(const std::string& key, const std::string& value, bool from_shared_flag) {
  std::erase_if(pairs, [&](const PinnerOption& o) { return o.key == key; });
  pairs.push_back({key, value, from_shared_flag});
}

std::optional<std::string> PinnerOptions::Get(const std::string& key) const {
  for (const auto& o : pairs)
    if (o.key == key) return o.value;
  return std::nullopt;
}

bool Pinner::holds_per_io() const {
  return info_ && info_->hold == PinHold::kPerIo;
}

Status PinnerInfo::CheckOptions(const PinnerOptions& options) const {
  for (const auto& o : options.pairs)
    if (!o.from_shared_flag && !TakesKey(option_keys, o.key))
      return Status(EINVAL, std::string("pinner ") + name + ": unknown option " + o.key +
                                " (known: " + (*option_keys ? option_keys : "none") + ")");
  return check_options ? check_options(options) : Status();
}

Result<std::unique_ptr<Pinner>> PinnerInfo::create(const PinTarget& target,
                                                   const PinnerOptions& options) const {
  if (Status s = CheckOptions(options); !s.ok()) return s;
  auto made = factory(target, options);
  if (made.ok()) made.value()->info_ = this;
  return made;
}

Status CheckPinnerOptions(const std::string& pinner, const PinnerOptions& options) {
  for (const auto& info : PinnerRegistry()) {
    const bool takes_a_shared_key =
        std::any_of(options.pairs.begin(), options.pairs.end(),
                    [&](const auto& o) { return o.from_shared_flag && TakesKey(info.option_keys, o.key); });
    Status s = pinner == info.name                        ? info.CheckOptions(options)
               : takes_a_shared_key && info.check_options ? info.check_options(options)
                                                          : Status();
    if (!s.ok()) return s;
  }
  return {};
}

Result<double> PinnerDurationOption(const PinnerOptions& options, const char* pinner, const char* key) {
  const auto text = options.Get(key);
  if (!text) return 0.0;
  const auto seconds = ParseDuration(*text);
  if (!seconds)
    return Status(EINVAL,
                  std::string("pinner ") + pinner + ": option " + key + "=" + *text + ": not a duration");
  return *seconds;
}

const char* PinAccessName(PinAccess a) {
  return a == PinAccess::kReadOnly ? "ro" : "rw";
}

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
  using enum PinReference;
  using enum PinHold;
  static const std::vector<PinnerInfo> table = {
      {"none", "no pin: the control", kNone, kWindow, Always, "", nullptr, CreateNonePinner, {"none"}},
      {"vmsplice",
       "vmsplice the window into a pipe that is not read until the window rotates",
       kFollGet,
       kWindow,
       Always,
       "",
       nullptr,
       CreateVmsplicePinner,
       {"FOLL_GET"}},
      {"io_uring",
       "io_uring fixed buffers (one registered buffer per window); READ_FIXED from a file is the DMA write",
       kFollPinLongterm,
       kWindow,
       IoUringPinnerUnavailable,
       "",
       nullptr,
       CreateIoUringPinner,
       {"FOLL_PIN, long-term"}},
      {"odirect",
       "O_DIRECT read from a scratch file into the window: the kernel pins the pages for each IO",
       kFollPin,
       kPerIo,
       Always,
       "hold",
       CheckOdirectHold,
       CreateOdirectPinner,
       {"FOLL_PIN", 6, 5, "FOLL_GET"}},
      {"process-vm",
       "a helper child writes the window with process_vm_writev (short-term pins, unpinned dirty)",
       kFollPin,
       kPerIo,
       ProcessVmPinnerUnavailable,
       "",
       nullptr,
       CreateProcessVmPinner,
       {"FOLL_PIN"}},
      {"fuse",
       kFusePinnerDescription,
       kFusePinnerReference,
       kPerIo,
       FusePinnerUnavailable,
       "hold",
       CheckFuseHold,
       CreateFusePinner,
       {"FOLL_PIN", 6, 9, "FOLL_GET"}},
      {"rdma",
       "ibv_reg_mr over each window; DMA writer: RDMA WRITE through a loopback RC QP pair",
       kFollPinLongterm,
       kWindow,
       RdmaUnavailable,
       kRdmaOptionKeys,
       nullptr,
       CreateRdmaPinner,
       {"FOLL_PIN, long-term"}},
      {"rdma-odp",
       "ibv_reg_mr with IBV_ACCESS_ON_DEMAND: no pin, the control for rdma",
       kMmuNotifier,
       kWindow,
       RdmaOdpUnavailable,
       kRdmaOptionKeys,
       nullptr,
       CreateRdmaOdpPinner,
       {"none"}},
      {"cuda",
       "cudaHostRegister over each window; DMA writer: GPU-stamped blocks by copy or mapped store",
       kFollPinLongterm,
       kWindow,
       CudaUnavailable,
       kCudaOptionKeys,
       CheckCudaOptions,
       CreateCudaPinner,
       {"FOLL_PIN (driver 525+), long-term from 550.67"}},
  };
  return table;
}

const PinnerInfo* FindPinner(const std::string& name) {
  for (const auto& p : PinnerRegistry())
    if (name == p.name) return &p;
  return nullptr;
}

std::string ExpectedPinReference(const std::string& pinner, const std::string& release) {
  const PinnerInfo* info = FindPinner(pinner);
  if (!info) return "none";
  const ExpectedReference& e = info->expected;
  if (!e.before) return e.kind;
  const KernelVersion v = ParseKernelRelease(release).value_or(KernelVersion{});
  return v >= KernelVersion{e.since_major, e.since_minor, 0} ? e.kind : e.before;
}

}  // namespace longpin
