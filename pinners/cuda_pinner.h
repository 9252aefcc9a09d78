// cuda: the target windows are registered with the GPU (cudaHostRegister: FOLL_PIN|FOLL_LONGTERM on recent
// NVIDIA drivers, see KERNEL_NOTES). DmaWrite is a real device write: the GPU generates the stamped block
// (pinners/cuda_stamp.cu) and either copies it into the registered pages with cudaMemcpyAsync (copy engine
// DMA, --cuda-write copy) or stores it through the mapped device pointer (--cuda-write kernel); the event
// that follows is the completion.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "pinners/pinner.h"

namespace longpin {

// "no CUDA device: <why>" where the runtime finds no usable device (CudaUnavailableReason: no driver, a
// driver older than the runtime, no GPU); "built without CUDA (LONGPIN_WITH_CUDA)" when compiled out.
std::optional<std::string> CudaUnavailable();
// Options: device=INDEX (default 0), flags=LIST (cudaHostRegister flags, comma list of
// default|portable|mapped|readonly), write=copy|kernel (how DmaWrite reaches the pages). Compiled out, the
// factory refuses with CudaUnavailable's reason.
inline constexpr const char* kCudaOptionKeys = "device, flags, write";
Status CheckCudaOptions(const PinnerOptions& options);
Result<std::unique_ptr<Pinner>> CreateCudaPinner(const PinTarget& target, const PinnerOptions& options);

// cudaHostRegister flag bits (the runtime's values, checked against its header where it is built).
inline constexpr unsigned kCudaRegisterPortable = 0x01;
inline constexpr unsigned kCudaRegisterMapped = 0x02;
inline constexpr unsigned kCudaRegisterReadOnly = 0x08;

enum class CudaWriteMode { kCopy, kKernel };

struct CudaPinPlan {
  unsigned register_flags = 0;
  CudaWriteMode write = CudaWriteMode::kCopy;
  bool device_writes = true;  // false when registered read-only: nothing to write through
};

// --cuda-flags (comma list of default|portable|mapped|readonly), --cuda-write (copy|kernel) and --pin-access
// into the registration flags: ro adds readonly; kernel writes need the mapping, so they add mapped.
Result<CudaPinPlan> PlanCudaPin(const std::string& flags, const std::string& write, PinAccess access);

// errno that best names a cudaError_t (given as int so it is testable without the toolkit); EIO when none
// fits. The CUDA error name always goes into the Status text as well.
int CudaErrorErrno(int cuda_error);

// ---- what a GPU user meets, in words (pure functions: unit-tested where no GPU is) ----

// What the machine says about its NVIDIA driver, gathered by CudaUnavailable where CUDA is built.
struct CudaDriverFacts {
  bool module_loaded = false;   // /proc/driver/nvidia/version exists (the kernel module is loaded)
  std::string module_version;   // "580.65.06" from that file; empty when unknown
  int driver_cuda_version = 0;  // cudaDriverGetVersion: 12020 = CUDA 12.2; 0 = no libcuda
  int runtime_version = 0;      // cudaRuntimeGetVersion: 13000 = CUDA 13.0
  std::string visible_devices;  // $CUDA_VISIBLE_DEVICES; "(unset)" when not set
};

// The reason `longpin list` and `run --pinner cuda` give when cudaGetDeviceCount fails with cuda_error (0
// with device_count 0: no device), starting "no CUDA device: ". No driver: "no NVIDIA driver loaded
// (/proc/driver/nvidia/version missing)"; a driver older than the runtime names both versions and the driver
// branch the runtime needs; a driver without a visible GPU names CUDA_VISIBLE_DEVICES.
std::string CudaUnavailableReason(int cuda_error, const char* error_name, int device_count,
                                  const CudaDriverFacts& facts);

// "the driver's CUDA version, as 12.2" from cudaDriverGetVersion's 12020.
std::string CudaVersionString(int version);

// The mapping a refused cudaHostRegister was asked to pin, as the kernel's 6.5 rule sees it.
struct CudaRegisterContext {
  bool shared = false;       // MAP_SHARED
  bool file_backed = false;  // a file that needs dirty tracking (not shmem/memfd/tmpfs/hugetlbfs/anonymous)
  bool writable = true;      // registered without cudaHostRegisterReadOnly
  int kernel_version = 0;    // major*100+minor: 618 for 6.18
  std::string mapping = "";  // "shared ext4 file", "memfd", ...: for the message
};

// Whether the kernel's rule refuses this registration: a writable FOLL_LONGTERM pin of a shared file
// mapping that needs dirty tracking, on 6.5+ (KERNEL_NOTES, "The 6.5 rule").
bool KernelRefusesWritableLongtermPin(const CudaRegisterContext& ctx);

// The sentence appended to a refused cudaHostRegister's Status: the kernel rule where it explains the error,
// otherwise what the CUDA error means for a registration. Empty for success.
std::string CudaRegisterRefusal(int cuda_error, const CudaRegisterContext& ctx);

// The errno a refused cudaHostRegister is recorded with: EFAULT (the kernel's own errno under the driver's
// NV_ERR_INVALID_ADDRESS) where the 6.5 rule explains the refusal, else CudaErrorErrno.
int CudaRegisterErrno(int cuda_error, const CudaRegisterContext& ctx);

// The pin kind a registration took, from measurements around it (tests/integration/cuda_pin_kind_test.cc
// measures; bench/gpu-check.sh reports): the nr_foll_pin_acquired/released deltas over one registration of
// `pages` populated pages of memfd (memfd is granted on every kernel), and whether a writable registration
// of a shared file mapping that needs dirty tracking was refused.
struct CudaPinProbe {
  uint64_t pages = 0;
  int64_t acquired = 0;  // delta over cudaHostRegister
  int64_t released = 0;  // delta over cudaHostUnregister
  bool counters_available = false;
  bool refreshed = false;   // /proc/sys/vm/stat_refresh was written first (root)
  bool file_tried = false;  // a shared file mapping needing dirty tracking was registered writable
  bool file_refused = false;
  int kernel_version = 0;
};

// "FOLL_PIN|FOLL_LONGTERM", "FOLL_PIN", "FOLL_GET", or "unknown", then " (" the evidence ")".
std::string ClassifyCudaPinKind(const CudaPinProbe& p);

// Kernel release as major*100+minor (618 for "6.18.44-..."); 0 when unparseable.
int ParseKernelVersion(const std::string& release);

}  // namespace longpin
