#include "pinners/cuda_pinner.h"

#include <xxhash.h>

#include <bit>
#include <cstring>
#include <map>

#include "pinners/cuda_stamp.h"

#if LONGPIN_HAVE_CUDA
#include <cuda_runtime_api.h>
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
      return Status(EINVAL, "--cuda-flags " + flags + ": unknown flag '" + f + "' (default, portable, mapped, readonly)");
    start = comma + 1;
  }
  if (write == "kernel") plan.write = CudaWriteMode::kKernel;
  else if (!write.empty() && write != "copy") return Status(EINVAL, "--cuda-write " + write + ": must be copy or kernel");
  if (access == PinAccess::kReadOnly) plan.register_flags |= kCudaRegisterReadOnly;
  if (plan.write == CudaWriteMode::kKernel) plan.register_flags |= kCudaRegisterMapped;
  plan.device_writes = !(plan.register_flags & kCudaRegisterReadOnly);
  return plan;
}

int CudaErrorErrno(int cuda_error) {
  // The runtime's enum values (driver_types.h), stable across releases; static_asserts below where built.
  switch (cuda_error) {
    case 0: return 0;
    case 1: return EINVAL;      // cudaErrorInvalidValue
    case 2: return ENOMEM;      // cudaErrorMemoryAllocation
    case 3:                     // cudaErrorInitializationError
    case 35:                    // cudaErrorInsufficientDriver
    case 100:                   // cudaErrorNoDevice
    case 803: return ENODEV;    // cudaErrorSystemDriverMismatch
    case 46: return EBUSY;      // cudaErrorDevicesUnavailable
    case 700: return EFAULT;    // cudaErrorIllegalAddress
    case 712: return EEXIST;    // cudaErrorHostMemoryAlreadyRegistered
    case 713: return ENOENT;    // cudaErrorHostMemoryNotRegistered
    case 800: return EPERM;     // cudaErrorNotPermitted
    case 801: return EOPNOTSUPP;  // cudaErrorNotSupported
    default: return EIO;
  }
}

#if !LONGPIN_HAVE_CUDA

std::optional<std::string> CudaUnavailable() { return "built without CUDA (LONGPIN_WITH_CUDA)"; }

#else

static_assert(kCudaRegisterPortable == cudaHostRegisterPortable && kCudaRegisterMapped == cudaHostRegisterMapped &&
              kCudaRegisterReadOnly == cudaHostRegisterReadOnly);
static_assert(cudaErrorInvalidValue == 1 && cudaErrorMemoryAllocation == 2 && cudaErrorInitializationError == 3 &&
              cudaErrorInsufficientDriver == 35 && cudaErrorDevicesUnavailable == 46 && cudaErrorNoDevice == 100 &&
              cudaErrorIllegalAddress == 700 && cudaErrorHostMemoryAlreadyRegistered == 712 &&
              cudaErrorHostMemoryNotRegistered == 713 && cudaErrorNotPermitted == 800 &&
              cudaErrorNotSupported == 801 && cudaErrorSystemDriverMismatch == 803);

namespace {

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
    if (!o.device.empty()) {
      char* end = nullptr;
      device = int(std::strtol(o.device.c_str(), &end, 10));
      if (*end) return Status(EINVAL, "CUDA device " + o.device + ": give the device index (0, 1, ...)");
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

  PinReference reference() const override { return PinReference::kFollPinLongterm; }

  Result<PinGrant> Pin(const PinWindow& w) override {
    void* host = target_.base + w.offset;
    if (cudaError_t e = cudaHostRegister(host, w.length, plan_.register_flags); e != cudaSuccess)
      return CudaError("cudaHostRegister", Where(w), e);
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
    if (it == windows_.end()) return Status(EINVAL, "GPU write into epoch " + std::to_string(w.epoch) + ": not registered");
    if (offset < w.offset || offset + len > w.offset + w.length || len > kMaxBlockSize)
      return Status(EINVAL, "GPU write at offset " + std::to_string(offset) + ": outside the window");
    auto id = cuda_stamp::ParseStampHeader(src, len);
    if (!id) return Status(EINVAL, "GPU write at offset " + std::to_string(offset) + ": source is not a stamped block");
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
      if (cudaError_t e = cudaMemcpyAsync(host, device_block_, len, cudaMemcpyDeviceToHost, stream_); e != cudaSuccess)
        return CudaError("cudaMemcpyAsync", "to mapping offset " + std::to_string(offset), e);
    }
    if (cudaError_t e = cudaEventRecord(done_, stream_); e != cudaSuccess) return CudaError("cudaEventRecord", name_, e);
    if (cudaError_t e = cudaEventSynchronize(done_); e != cudaSuccess)
      return CudaError("cudaEventSynchronize", "after the write at offset " + std::to_string(offset), e);
    // The block is ours alone (ownership by partition), so it must now equal the CPU's stamp of the same
    // StampId. A difference is a bug in the GPU stamp path, reported as a failed write rather than logged
    // as a completed one the verifier would then blame on the kernel.
    if (std::memcmp(host, src, len) != 0)
      return Status(EIO, "GPU write at offset " + std::to_string(offset) + ": block differs from the CPU stamp");
    return {};
  }

 private:
  struct Window {
    void* host;
    void* device;  // mapped registrations only
  };

  std::string Where(const PinWindow& w) const {
    return "of mapping offset " + std::to_string(w.offset) + " length " + std::to_string(w.length) + " on " + name_;
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
  if (e != cudaSuccess) {
    (void)cudaGetLastError();
    return std::string("no CUDA device: ") + cudaGetErrorString(e);
  }
  if (count == 0) return "no CUDA device: cudaGetDeviceCount found none";
  return std::nullopt;
}

Result<std::unique_ptr<Pinner>> CreateCudaPinner(const PinTarget& target, const PinnerOptions& options) {
  if (auto why = CudaUnavailable()) return Status(ENODEV, *why);
  auto plan = PlanCudaPin(options.cuda_flags, options.cuda_write, options.access);
  if (!plan.ok()) return plan.status();
  auto p = std::make_unique<CudaPinner>(target, *plan);
  if (Status s = p->Open(options); !s.ok()) return s;
  return std::unique_ptr<Pinner>(std::move(p));
}

#endif  // LONGPIN_HAVE_CUDA

}  // namespace longpin
