// The stamp kernels: one thread per 8-byte word, words from cuda_stamp.h's StampWord.
#include <cuda_runtime_api.h>

#include "pinners/cuda_stamp.h"

namespace longpin::cuda_stamp {
namespace {

constexpr unsigned kThreads = 256;
constexpr unsigned kMaxGrid = 1024;

// Words [kHeaderWords, words - 2): the payload.
__global__ void StampPayloadKernel(StampArgs a, uint64_t* dst) {
  for (uint64_t i = kHeaderWords + blockIdx.x * uint64_t(blockDim.x) + threadIdx.x; i < a.words - 2;
       i += uint64_t(gridDim.x) * blockDim.x)
    dst[i] = StampWord(a, i);
}

// The header and the two tail words: launched after the payload kernel on the same stream.
__global__ void StampEndsKernel(StampArgs a, uint64_t* dst) {
  const uint64_t t = threadIdx.x;
  if (t < kHeaderWords) dst[t] = StampWord(a, t);
  else if (t < kHeaderWords + 2)
    dst[a.words - 2 + (t - kHeaderWords)] = StampWord(a, a.words - 2 + (t - kHeaderWords));
}

}  // namespace

int LaunchStamp(const StampArgs& args, uint64_t* dst, void* stream) {
  auto s = static_cast<cudaStream_t>(stream);
  const uint64_t payload = args.words - kHeaderWords - 2;
  unsigned grid = unsigned((payload + kThreads - 1) / kThreads);
  if (grid > kMaxGrid) grid = kMaxGrid;
  if (grid == 0) grid = 1;
  StampPayloadKernel<<<grid, kThreads, 0, s>>>(args, dst);
  if (cudaError_t e = cudaGetLastError(); e != cudaSuccess) return int(e);
  StampEndsKernel<<<1, kHeaderWords + 2, 0, s>>>(args, dst);
  return int(cudaGetLastError());
}

int StampOnGpu(const StampArgs& args, std::byte* out) {
  void* dev = nullptr;
  const size_t bytes = args.words * 8;
  if (cudaError_t e = cudaMalloc(&dev, bytes); e != cudaSuccess) return int(e);
  int err = LaunchStamp(args, static_cast<uint64_t*>(dev), nullptr);
  if (err == 0) err = int(cudaMemcpy(out, dev, bytes, cudaMemcpyDeviceToHost));
  cudaFree(dev);
  return err;
}

}  // namespace longpin::cuda_stamp
