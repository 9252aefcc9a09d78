// The GPU side of the stamp format: the CUDA pinner's DMA writer generates its blocks on the GPU, so what
// lands in the pinned pages is what a device produced, yet the verifier (CPU only) reads it like any block.
// The words come from core/stamp_math.h's constexpr arithmetic, the same code core StampBlock runs; only the
// header's xxh64 check is computed on the host and handed to the kernel.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

#include "core/block_stamp.h"
#include "core/stamp_math.h"

#ifdef __CUDACC__
#define LONGPIN_HOST_DEVICE __host__ __device__
#else
#define LONGPIN_HOST_DEVICE
#endif

namespace longpin::cuda_stamp {

inline constexpr uint64_t kHeaderWords = kStampHeaderBytes / 8;

// Everything the kernel needs for one block; trivially copyable, passed by value as a kernel argument.
struct StampArgs {
  uint64_t header[kHeaderWords];  // built on the host (MakeStampArgs): xxh64 has no device version here
  uint64_t run_id;
  uint64_t block;
  uint64_t generation;
  uint64_t words;  // block size / 8
};

// Word i of the block: the one formula the kernel runs, also callable on the host so a unit test holds it
// against core StampBlock where no GPU is.
LONGPIN_HOST_DEVICE constexpr uint64_t StampWord(const StampArgs& a, uint64_t i) {
  if (i < kHeaderWords) return a.header[i];
  if (i == a.words - 2) return a.generation;
  if (i == a.words - 1) return stamp_math::TailCheck(a.run_id, a.block, a.generation);
  return stamp_math::PatternWord(a.run_id, i) ^ stamp_math::PayloadKey(a.run_id, a.block, a.generation);
}

// Host side (pinners/cuda_pinner.cc, built with or without CUDA).
StampArgs MakeStampArgs(const StampId& id, size_t block_size);
// Reads the StampId back from a stamped block's header (the stamp is self-describing). nullopt unless the
// magic, version, block size and header check all agree: DmaWrite regenerates only blocks it understands.
std::optional<StampId> ParseStampHeader(const std::byte* block, size_t block_size);

#if LONGPIN_HAVE_CUDA
// Enqueues the stamp kernels on stream (a cudaStream_t; nullptr = the default stream) writing the block to
// dst, a device pointer (device memory or a mapped host registration). Payload first, then header and tail
// in a second launch, so a reader that sees the header saw the payload (as core StampBlock orders its
// stores). Returns the cudaError_t as int, 0 on success; completion is the caller's event.
int LaunchStamp(const StampArgs& args, uint64_t* dst, void* stream);
// Stamps one block on the GPU into host memory out (block_size bytes) and waits: for tests.
int StampOnGpu(const StampArgs& args, std::byte* out);
#endif

}  // namespace longpin::cuda_stamp
