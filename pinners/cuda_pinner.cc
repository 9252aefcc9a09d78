#include "pinners/cuda_pinner.h"

#include <xxhash.h>

#include <bit>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>

#include "core/kernel_release.h"
#include "pinners/cuda_stamp.h"

#if LONGPIN_HAVE_CUDA
#include <cuda_runtime_api.h>
#include <sys/vfs.h>

#include <cstdlib>
#endif

namespace longpin {

// ---- the stamp header on the host (cuda_stamp.h) ----

namespace cuda_stamp {

StampArgs MakeStampArgs(const StampId& id, size_t block_size) {
  StampArgs a{};
  a.header[0] = kStampMagic;
  a.header[1] = uint64_t{kStampVersion} | uint64_t{static_cast<uint8_t>(id.kind)} << 16 |
                uint64_t(std::countr_zero(block_size)) << 24 | uint64_t{id.writer_id} << 32;
  a.header[2] = id.run_id;
  a.header[3] = id.block;
  a.header[4] = id.generation;
  a.header[5] = id.pin_epoch;
  a.header[6] = 0;
  a.header[7] = XXH64(a.header, 56, 0);
  a.run_id = id.run_id;
  a.block = id.block;
  a.generation = id.generation;
  a.words = block_size / 8;
  return a;
}

std::optional<StampId> ParseStampHeader(const std::byte* block, size_t block_size) {
  uint64_t h[kHeaderWords];
  std::memcpy(h, block, sizeof h);
  if (h[0] != kStampMagic || XXH64(h, 56, 0) != h[7]) return std::nullopt;
  if ((h[1] & 0xffff) != kStampVersion || ((h[1] >> 24) & 0xff) != uint64_t(std::countr_zero(block_size)))
    return std::nullopt;
  StampId id;
  id.kind = static_cast<WriterKind>((h[1] >> 16) & 0xff);
  id.writer_id = uint32_t(h[1] >> 32);
  id.run_id = h[2];
  id.block = h[3];
  id.generation = h[4];
  id.pin_epoch = h[5];
  return id;
}

}  // namespace cuda_stamp

// ---- pure logic ----

Result<CudaPinPlan> PlanCudaPin(const std::string& flags, const std::string& write, PinAccess access) {
  CudaPinPlan plan;
  size_t start = 0;
  while (start <= flags.size()) {
    size_t comma = flags.find(',', start);
    if (comma == std::string::npos) comma = flags.size();
    const std::string f = flags.substr(start, comma - start);
    if (f == "portable") plan.register_flags |= kCudaRegisterPortable;
    else if (f == "mapped") plan.register_flags |= kCudaRegisterMapped;
    else if (f == "readonly") plan.register_flags |= kCudaRegisterReadOnly;
    else if (!f.empty() && f != "default")
      return Status(EINVAL, "--cuda-flags " + flags + ": unknown flag '" + f +
                                "' (default, portable, mapped, readonly)");
    start = comma + 1;
  }
  if (write == "kernel") plan.write = CudaWriteMode::kKernel;
  else if (!write.empty() && write != "copy")
    return Status(EINVAL, "--cuda-write " + write + ": must be copy or kernel");
  if (access == PinAccess::kReadOnly) plan.register_flags |= kCudaRegisterReadOnly;
  if (plan.write == CudaWriteMode::kKernel) plan.register_flags |= kCudaRegisterMapped;
  plan.device_writes = !(plan.register_flags & kCudaRegisterReadOnly);
  return plan;
}

int CudaErrorErrno(int cuda_error) {
  // The runtime's enum values (driver_types.h), stable across releases; static_asserts below where built.
  switch (cuda_error) {
    case 0: return 0;
    case 1: return EINVAL;        // cudaErrorInvalidValue
    case 2: return ENOMEM;        // cudaErrorMemoryAllocation
    case 3:                       // cudaErrorInitializationError
    case 35:                      // cudaErrorInsufficientDriver
    case 100:                     // cudaErrorNoDevice
    case 803: return ENODEV;      // cudaErrorSystemDriverMismatch
    case 46: return EBUSY;        // cudaErrorDevicesUnavailable
    case 700: return EFAULT;      // cudaErrorIllegalAddress
    case 712: return EEXIST;      // cudaErrorHostMemoryAlreadyRegistered
    case 713: return ENOENT;      // cudaErrorHostMemoryNotRegistered
    case 800: return EPERM;       // cudaErrorNotPermitted
    case 801: return EOPNOTSUPP;  // cudaErrorNotSupported
    default: return EIO;
  }
}

// ---- errors in words ----

namespace {

std::string CudaErrorLabel(int cuda_error, const char* error_name) {
  if (error_name && *error_name) return error_name;
  return "cudaError " + std::to_string(cuda_error);
}

// The oldest driver branch that runs a CUDA runtime of this major version (minor version compatibility).
int MinimumDriverBranch(int runtime_version) {
  switch (runtime_version / 1000) {
    case 11: return 450;
    case 12: return 525;
    case 13: return 580;
    default: return 0;
  }
}

std::string KernelVersionString(int v) {
  return std::to_string(v / 100) + "." + std::to_string(v % 100);
}

}  // namespace

std::string CudaVersionString(int version) {
  if (version <= 0) return "unknown";
  return std::to_string(version / 1000) + "." + std::to_string(version % 1000 / 10);
}

std::string CudaUnavailableReason(int cuda_error, const char* error_name, int device_count,
                                  const CudaDriverFacts& f) {
  if (cuda_error == 0 && device_count > 0) return {};
  const std::string err = CudaErrorLabel(cuda_error, error_name);
  const std::string prefix = "no CUDA device: ";
  if (!f.module_loaded)
    return prefix + "no NVIDIA driver loaded (/proc/driver/nvidia/version missing; cudaGetDeviceCount: " +
           (cuda_error == 0 ? std::string("no device") : err) + ")";
  const std::string driver =
      "NVIDIA driver " + (f.module_version.empty() ? std::string("(version unknown)") : f.module_version);
  switch (cuda_error) {
    case 35:  // cudaErrorInsufficientDriver
      if (f.driver_cuda_version <= 0)
        return prefix + driver + " is loaded but its libcuda.so.1 could not be loaded (" + err +
               "): install the driver's user-space library of the same version";
      {
        std::string s = prefix + driver + " supports CUDA " + CudaVersionString(f.driver_cuda_version) +
                        ", older than this build's CUDA runtime " + CudaVersionString(f.runtime_version) +
                        " (" + err + ")";
        if (int branch = MinimumDriverBranch(f.runtime_version))
          s += ": CUDA " + std::to_string(f.runtime_version / 1000) + ".x needs driver " +
               std::to_string(branch) + " or newer, or build longpin with a CUDA " +
               CudaVersionString(f.driver_cuda_version) + " toolkit";
        return s;
      }
    case 803:  // cudaErrorSystemDriverMismatch
      return prefix + "libcuda.so.1 and the loaded kernel module (" + driver + ") are different versions (" +
             err + "): finish the driver upgrade (reboot or reload the nvidia modules)";
    case 34:  // cudaErrorStubLibrary
      return prefix + "the CUDA stub libcuda.so was loaded instead of the driver's (" + err +
             "): remove the toolkit's stubs directory from LD_LIBRARY_PATH";
    case 46:  // cudaErrorDevicesUnavailable
      return prefix + "every GPU is busy or in a prohibited compute mode (" + err +
             "): see nvidia-smi -q -d COMPUTE";
    case 0:
    case 100:  // cudaErrorNoDevice
      return prefix + driver + " is loaded but the runtime sees no GPU (" +
             (cuda_error == 0 ? std::string("cudaGetDeviceCount found none") : err) +
             "; CUDA_VISIBLE_DEVICES=" +
             (f.visible_devices.empty() ? std::string("(unset)") : f.visible_devices) + "): see nvidia-smi";
    case 3:    // cudaErrorInitializationError
    case 999:  // cudaErrorUnknown
      return prefix + driver + " is loaded but the CUDA runtime failed to initialise (" + err +
             "): see nvidia-smi and the kernel log's NVRM lines";
    default: return prefix + "cudaGetDeviceCount failed with " + err + " (" + driver + ")";
  }
}

bool KernelRefusesWritableLongtermPin(const CudaRegisterContext& c) {
  return c.shared && c.file_backed && c.writable && c.kernel_version >= 605;
}

std::string CudaRegisterRefusal(int cuda_error, const CudaRegisterContext& c) {
  if (cuda_error == 0) return {};
  if (cuda_error == 712)  // cudaErrorHostMemoryAlreadyRegistered
    return "part of the range is already registered: cudaHostRegister does not nest, an overlapping window "
           "must be unregistered first";
  if (cuda_error == 713)  // cudaErrorHostMemoryNotRegistered
    return "the range is not registered (unregistered twice, or never granted)";
  const std::string mapping = c.mapping.empty() ? std::string("file mapping") : c.mapping;
  if (KernelRefusesWritableLongtermPin(c))
    return "kernel " + KernelVersionString(c.kernel_version) +
           " refuses writable long-term pins (FOLL_PIN|FOLL_LONGTERM) of a " + mapping +
           " since 6.5: the pin fails with EFAULT, which the NVIDIA driver reports as "
           "NV_ERR_INVALID_ADDRESS; "
           "memfd/shmem, MAP_PRIVATE and --cuda-flags readonly registrations are granted";
  switch (cuda_error) {
    case 1:  // cudaErrorInvalidValue
      return "the driver refused the range or the flags (not mapped, an IO/PFN mapping, or readonly on a GPU "
             "without cudaDevAttrHostRegisterReadOnlySupported); not the kernel's 6.5 rule: " +
             std::string(!c.shared        ? "the mapping is private"
                         : !c.file_backed ? "the mapping needs no dirty tracking"
                         : !c.writable
                             ? "the registration is read-only"
                             : "kernel " + KernelVersionString(c.kernel_version) + " is older than 6.5");
    case 2:  // cudaErrorMemoryAllocation
      return "the driver could not pin or map the pages: out of memory, or a long-term pin could not migrate "
             "them out of movable/CMA memory";
    case 801:  // cudaErrorNotSupported
      return "this GPU or platform cannot register this memory with these flags";
    default: return {};
  }
}

int CudaRegisterErrno(int cuda_error, const CudaRegisterContext& c) {
  if (cuda_error != 0 && cuda_error != 712 && cuda_error != 713 && KernelRefusesWritableLongtermPin(c))
    return EFAULT;
  return CudaErrorErrno(cuda_error);
}

int ParseKernelVersion(const std::string& release) {
  int major = 0, minor = 0;
  if (std::sscanf(release.c_str(), "%d.%d", &major, &minor) != 2) return 0;
  return major * 100 + minor;
}

std::string ClassifyCudaPinKind(const CudaPinProbe& p) {
  const std::string kv = KernelVersionString(p.kernel_version);
  std::string counters = "memfd: nr_foll_pin_acquired +" + std::to_string(p.acquired) + ", released +" +
                         std::to_string(p.released) + " for " + std::to_string(p.pages) + " pages" +
                         (p.refreshed ? "" : ", without stat_refresh");
  if (!p.counters_available) counters = "no nr_foll_pin_* counters in /proc/vmstat";
  if (p.file_tried && p.file_refused && p.kernel_version >= 605)
    return "FOLL_PIN|FOLL_LONGTERM (a writable registration of a shared file mapping was refused on kernel " +
           kv + " >= 6.5; " + counters + ")";
  if (!p.counters_available) return "unknown (" + counters + ")";
  const bool moved_all = p.acquired >= int64_t(p.pages);
  if (moved_all) {
    if (p.file_tried && !p.file_refused && p.kernel_version >= 605)
      return "FOLL_PIN (not long-term: a writable registration of a shared file mapping was granted on "
             "kernel " +
             kv + " >= 6.5; " + counters + ")";
    return "FOLL_PIN (long-term or not cannot be told: " +
           std::string(p.file_tried ? "kernel " + kv + " is older than 6.5"
                                    : "no shared file mapping on a filesystem with writeback was tried") +
           "; " + counters + ")";
  }
  if (p.acquired == 0 && p.refreshed)
    return "FOLL_GET (get_user_pages: the pin counters did not move; " + counters + ")";
  return "unknown (" + counters + (p.refreshed ? "" : ": run as root so stat_refresh shows small counts") +
         ")";
}

Status CheckCudaOptions(const PinnerOptions& options) {
  return PlanCudaPin(options.Get("flags").value_or(""), options.Get("write").value_or(""), options.access)
      .status();
}

#if !LONGPIN_HAVE_CUDA

namespace {
constexpr const char* kCudaCompiledOut = "built without CUDA (LONGPIN_WITH_CUDA)";
}  // namespace

std::optional<std::string> CudaUnavailable() {
  return kCudaCompiledOut;
}
Result<std::unique_ptr<Pinner>> CreateCudaPinner(const PinTarget&, const PinnerOptions&) {
  return Status(ENOTSUP, kCudaCompiledOut);
}

#else

static_assert(kCudaRegisterPortable == cudaHostRegisterPortable &&
              kCudaRegisterMapped == cudaHostRegisterMapped &&
              kCudaRegisterReadOnly == cudaHostRegisterReadOnly);
static_assert(cudaErrorInvalidValue == 1 && cudaErrorMemoryAllocation == 2 &&
              cudaErrorInitializationError == 3 && cudaErrorInsufficientDriver == 35 &&
              cudaErrorDevicesUnavailable == 46 && cudaErrorNoDevice == 100 &&
              cudaErrorIllegalAddress == 700 && cudaErrorHostMemoryAlreadyRegistered == 712 &&
              cudaErrorHostMemoryNotRegistered == 713 && cudaErrorNotPermitted == 800 &&
              cudaErrorNotSupported == 801 && cudaErrorSystemDriverMismatch == 803 &&
              cudaErrorStubLibrary == 34 && cudaErrorUnknown == 999);

namespace {

// The mapping as the kernel's 6.5 rule sees it: shared or private from /proc/self/maps, whether its file
// needs dirty tracking from fstatfs (tmpfs/memfd and hugetlbfs do not), and the running kernel.
CudaRegisterContext RegisterContext(const PinTarget& t, const CudaPinPlan& plan) {
  CudaRegisterContext c;
  c.writable = !(plan.register_flags & kCudaRegisterReadOnly);
  c.kernel_version = ParseKernelVersion(KernelRelease());
  const auto addr = reinterpret_cast<uintptr_t>(t.base);
  if (std::FILE* maps = std::fopen("/proc/self/maps", "re")) {
    char line[4096];
    while (std::fgets(line, sizeof line, maps)) {
      unsigned long lo = 0, hi = 0;
      char perms[8] = {};
      if (std::sscanf(line, "%lx-%lx %7s", &lo, &hi, perms) == 3 && addr >= lo && addr < hi) {
        c.shared = perms[3] == 's';
        break;
      }
    }
    std::fclose(maps);
  }
  std::string fs = "file";
  struct statfs sf {};
  if (t.fd >= 0 && ::fstatfs(t.fd, &sf) == 0) {
    switch (static_cast<unsigned long>(sf.f_type)) {
      case 0x01021994: fs = "tmpfs/memfd"; break;  // TMPFS_MAGIC
      case 0x958458f6: fs = "hugetlbfs"; break;    // HUGETLBFS_MAGIC
      case 0xef53: fs = "ext4"; break;
      case 0x58465342: fs = "xfs"; break;
      case 0x9123683e: fs = "btrfs"; break;
      case 0xf2f52010: fs = "f2fs"; break;
      default: break;
    }
    c.file_backed = fs != "tmpfs/memfd" && fs != "hugetlbfs";
  }
  c.mapping = std::string(c.shared ? "shared " : "private ") + (t.fd >= 0 ? fs : "anonymous") + " mapping";
  return c;
}

// "CALL WHERE: cudaErrorX (the runtime's string)" with the errno that best fits. Clears the runtime's
// last-error slot so the next call does not report this one again.
Status CudaError(const char* call, const std::string& where, cudaError_t e) {
  (void)cudaGetLastError();
  std::string what = call;
  if (!where.empty()) what += " " + where;
  what += std::string(": ") + cudaGetErrorName(e) + " (" + cudaGetErrorString(e) + ")";
  return Status(CudaErrorErrno(int(e)), std::move(what));
}

class CudaPinner final : public Pinner {
 public:
  CudaPinner(const PinTarget& t, const CudaPinPlan& plan) : target_(t), plan_(plan) {}

  ~CudaPinner() override {
    for (auto& [epoch, w] : windows_) cudaHostUnregister(w.host);
    if (device_block_) cudaFree(device_block_);
    if (done_) cudaEventDestroy(done_);
    if (stream_) cudaStreamDestroy(stream_);
  }

  Status Open(const PinnerOptions& o) {
    int device = 0;
    if (const auto wanted = o.Get("device"); wanted && !wanted->empty()) {
      char* end = nullptr;
      device = int(std::strtol(wanted->c_str(), &end, 10));
      if (*end) return Status(EINVAL, "CUDA device " + *wanted + ": give the device index (0, 1, ...)");
    }
    if (cudaError_t e = cudaSetDevice(device); e != cudaSuccess)
      return CudaError("cudaSetDevice", std::to_string(device), e);
    cudaDeviceProp prop{};
    if (cudaError_t e = cudaGetDeviceProperties(&prop, device); e != cudaSuccess)
      return CudaError("cudaGetDeviceProperties", std::to_string(device), e);
    name_ = std::string("GPU ") + std::to_string(device) + " (" + prop.name + ")";
    if ((plan_.register_flags & kCudaRegisterMapped) && !prop.canMapHostMemory)
      return Status(ENOTSUP, name_ + " cannot map host memory (--cuda-write kernel, --cuda-flags mapped)");
    if (cudaError_t e = cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking); e != cudaSuccess)
      return CudaError("cudaStreamCreateWithFlags", name_, e);
    // Blocking sync: the pinner thread sleeps on the event instead of spinning a CPU the writers need.
    if (cudaError_t e = cudaEventCreateWithFlags(&done_, cudaEventDisableTiming | cudaEventBlockingSync);
        e != cudaSuccess)
      return CudaError("cudaEventCreateWithFlags", name_, e);
    if (cudaError_t e = cudaMalloc(&device_block_, kMaxBlockSize); e != cudaSuccess)
      return CudaError("cudaMalloc", "of the stamp buffer on " + name_, e);
    return {};
  }

  Result<PinGrant> Pin(const PinWindow& w) override {
    void* host = target_.base + w.offset;
    if (cudaError_t e = cudaHostRegister(host, w.length, plan_.register_flags); e != cudaSuccess) {
      // The CUDA error alone does not say why (the kernel's refusal arrives as a generic driver error): name
      // the kernel rule where it applies, and record the kernel's errno under it.
      const CudaRegisterContext ctx = RegisterContext(target_, plan_);
      Status s = CudaError("cudaHostRegister", Where(w), e);
      std::string what = s.what();
      if (std::string why = CudaRegisterRefusal(int(e), ctx); !why.empty()) what += ": " + why;
      return Status(CudaRegisterErrno(int(e), ctx), std::move(what));
    }
    Window win{host, nullptr};
    if (plan_.register_flags & kCudaRegisterMapped) {
      if (cudaError_t e = cudaHostGetDevicePointer(&win.device, host, 0); e != cudaSuccess) {
        Status s = CudaError("cudaHostGetDevicePointer", Where(w), e);
        cudaHostUnregister(host);
        return s;
      }
    }
    windows_[w.epoch] = win;
    return PinGrant{w.length};
  }

  Status Unpin(const PinWindow& w) override {
    auto it = windows_.find(w.epoch);
    if (it == windows_.end()) return {};
    cudaError_t e = cudaHostUnregister(it->second.host);
    windows_.erase(it);
    if (e != cudaSuccess) return CudaError("cudaHostUnregister", Where(w), e);
    return {};
  }

  bool can_write() const override { return plan_.device_writes; }

  // The GPU regenerates the block from the StampId in src's header; src itself only checks the result.
  Status DmaWrite(const PinWindow& w, uint64_t offset, const std::byte* src, size_t len) override {
    auto it = windows_.find(w.epoch);
    if (it == windows_.end())
      return Status(EINVAL, "GPU write into epoch " + std::to_string(w.epoch) + ": not registered");
    if (offset < w.offset || offset + len > w.offset + w.length || len > kMaxBlockSize)
      return Status(EINVAL, "GPU write at offset " + std::to_string(offset) + ": outside the window");
    auto id = cuda_stamp::ParseStampHeader(src, len);
    if (!id)
      return Status(EINVAL,
                    "GPU write at offset " + std::to_string(offset) + ": source is not a stamped block");
    const cuda_stamp::StampArgs args = cuda_stamp::MakeStampArgs(*id, len);
    std::byte* host = target_.base + offset;
    if (plan_.write == CudaWriteMode::kKernel) {
      auto* dst = static_cast<uint64_t*>(it->second.device) + (offset - w.offset) / 8;
      if (int e = cuda_stamp::LaunchStamp(args, dst, stream_))
        return CudaError("stamp kernel launch", "into mapped window at offset " + std::to_string(offset),
                         cudaError_t(e));
    } else {
      if (int e = cuda_stamp::LaunchStamp(args, static_cast<uint64_t*>(device_block_), stream_))
        return CudaError("stamp kernel launch", name_, cudaError_t(e));
      if (cudaError_t e = cudaMemcpyAsync(host, device_block_, len, cudaMemcpyDeviceToHost, stream_);
          e != cudaSuccess)
        return CudaError("cudaMemcpyAsync", "to mapping offset " + std::to_string(offset), e);
    }
    if (cudaError_t e = cudaEventRecord(done_, stream_); e != cudaSuccess)
      return CudaError("cudaEventRecord", name_, e);
    if (cudaError_t e = cudaEventSynchronize(done_); e != cudaSuccess)
      return CudaError("cudaEventSynchronize", "after the write at offset " + std::to_string(offset), e);
    // The block is ours alone (ownership by partition), so it must now equal the CPU's stamp of the same
    // StampId. A difference is a bug in the GPU stamp path, reported as a failed write rather than logged
    // as a completed one the verifier would then blame on the kernel.
    if (std::memcmp(host, src, len) != 0)
      return Status(EIO,
                    "GPU write at offset " + std::to_string(offset) + ": block differs from the CPU stamp");
    return {};
  }

 private:
  struct Window {
    void* host;
    void* device;  // mapped registrations only
  };

  std::string Where(const PinWindow& w) const {
    return "of mapping offset " + std::to_string(w.offset) + " length " + std::to_string(w.length) + " on " +
           name_;
  }

  PinTarget target_;
  CudaPinPlan plan_;
  std::string name_;
  cudaStream_t stream_ = nullptr;
  cudaEvent_t done_ = nullptr;
  void* device_block_ = nullptr;
  std::map<uint32_t, Window> windows_;
};

}  // namespace

std::optional<std::string> CudaUnavailable() {
  int count = 0;
  cudaError_t e = cudaGetDeviceCount(&count);
  if (e == cudaSuccess && count > 0) return std::nullopt;
  (void)cudaGetLastError();
  CudaDriverFacts f;
  if (std::FILE* v = std::fopen("/proc/driver/nvidia/version", "re")) {
    f.module_loaded = true;
    // "NVRM version: NVIDIA UNIX x86_64 Kernel Module  580.65.06  Sun Jul 27 ..." or "... Open Kernel Module
    // for x86_64  580.65.06  Release Build ...": the first word that starts with a digit and has a dot.
    char line[512] = {};
    if (std::fgets(line, sizeof line, v)) {
      for (char* tok = std::strtok(line, " \t\n"); tok; tok = std::strtok(nullptr, " \t\n"))
        if (*tok >= '0' && *tok <= '9' && std::strchr(tok, '.')) {
          f.module_version = tok;
          break;
        }
    }
    std::fclose(v);
  }
  if (cudaDriverGetVersion(&f.driver_cuda_version) != cudaSuccess) f.driver_cuda_version = 0;
  if (cudaRuntimeGetVersion(&f.runtime_version) != cudaSuccess) f.runtime_version = CUDART_VERSION;
  (void)cudaGetLastError();
  if (const char* vis = std::getenv("CUDA_VISIBLE_DEVICES")) f.visible_devices = *vis ? vis : "(empty)";
  return CudaUnavailableReason(int(e), e == cudaSuccess ? nullptr : cudaGetErrorName(e), count, f);
}

Result<std::unique_ptr<Pinner>> CreateCudaPinner(const PinTarget& target, const PinnerOptions& options) {
  if (auto why = CudaUnavailable()) return Status(ENODEV, *why);
  auto plan =
      PlanCudaPin(options.Get("flags").value_or(""), options.Get("write").value_or(""), options.access);
  if (!plan.ok()) return plan.status();
  auto p = std::make_unique<CudaPinner>(target, *plan);
  if (Status s = p->Open(options); !s.ok()) return s;
  return std::unique_ptr<Pinner>(std::move(p));
}

#endif  // LONGPIN_HAVE_CUDA

}  // namespace longpin
