// cuda: the target windows are registered with the GPU (cudaHostRegister: FOLL_PIN|FOLL_LONGTERM on recent
// NVIDIA drivers, see KERNEL_NOTES). DmaWrite is a real device write: the GPU generates the stamped block
// (pinners/cuda_stamp.cu) and either copies it into the registered pages with cudaMemcpyAsync (copy engine
// DMA, --cuda-write copy) or stores it through the mapped device pointer (--cuda-write kernel); the event
// that follows is the completion.
#pragma once

#include <optional>
#include <string>

#include "pinners/pinner.h"

namespace longpin {

// "no CUDA device: <cudaGetErrorString>" where the runtime finds no usable device (no driver, no GPU);
// "built without CUDA (LONGPIN_WITH_CUDA)" when compiled out.
std::optional<std::string> CudaUnavailable();

#if LONGPIN_HAVE_CUDA
Result<std::unique_ptr<Pinner>> CreateCudaPinner(const PinTarget& target, const PinnerOptions& options);
inline constexpr auto kCreateCudaPinner = &CreateCudaPinner;
#else
inline constexpr Result<std::unique_ptr<Pinner>> (*kCreateCudaPinner)(const PinTarget&, const PinnerOptions&) =
    nullptr;
#endif

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

}  // namespace longpin
