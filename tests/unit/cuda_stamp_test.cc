// The GPU stamp must be byte-identical to core StampBlock: a reference table of blocks stamped on the CPU,
// held against the kernel's word formula on the host (runs everywhere) and against the kernel on a GPU
// (runs only where one is; skips with the CUDA error string elsewhere).
#include "pinners/cuda_stamp.h"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "core/block_stamp.h"
#include "pinners/cuda_pinner.h"

namespace longpin {
namespace {

struct Case {
  uint64_t run_id;
  uint64_t block;
  uint64_t generation;
  size_t block_size;
  uint32_t writer_id;
  uint64_t epoch;
};

// Sizes from the smallest to the largest block, generations from the first to the largest plausible one,
// block indexes from 0 to far beyond any target: the corners where a 32-bit slip in device code would show.
const Case kCases[] = {
    {0x0123456789abcdefULL, 0, 1, 512, 0, 0},
    {0x0123456789abcdefULL, 1, 1, 512, 3, 1},
    {0x0123456789abcdefULL, 7, 2, 4096, 1, 2},
    {0xfedcba9876543210ULL, 65535, 3, 4096, 2, 17},
    {0xfedcba9876543210ULL, 1ull << 33, 4, 4096, 5, 1ull << 32},
    {0x1ULL, 12, 1ull << 40, 4096, 0, 3},
    {0xffffffffffffffffULL, 99, 77, 1024, 7, 9},
    {0x8000000000000000ULL, 4242, 12, 2048, 1, 4},
    {0x5555aaaa5555aaaaULL, 3, 5, 8192, 2, 5},
    {0x5555aaaa5555aaaaULL, 3, 6, 8192, 2, 5},
    {0x0ULL, 5, 9, 16384, 4, 6},
    {0x243f6a8885a308d3ULL, 100000, 1000, 65536, 63, 100},
    {0x243f6a8885a308d3ULL, 31, 0xffffffffULL, 65536, 1, 7},
    {0x13198a2e03707344ULL, 1, 2, 1u << 20, 0, 8},
    {0x13198a2e03707344ULL, 2, 1, 2u << 20, 1, 9},
    {0xa4093822299f31d0ULL, 0xffffffffffULL, 123456789, 2u << 20, 2, 10},
};

StampId IdOf(const Case& c) {
  return StampId{c.run_id, c.block, c.generation, WriterKind::kDma, c.writer_id, c.epoch};
}

// The reference: core StampBlock, the CPU writers' code.
std::vector<uint64_t> CpuStamp(const Case& c) {
  StampPattern pattern(c.run_id, c.block_size);
  std::vector<uint64_t> out(c.block_size / 8);
  StampBlock(pattern, IdOf(c), reinterpret_cast<std::byte*>(out.data()));
  return out;
}

TEST(CudaStamp, KernelFormulaMatchesCpuStampOnTheHost) {
  for (const Case& c : kCases) {
    const std::vector<uint64_t> ref = CpuStamp(c);
    const cuda_stamp::StampArgs args = cuda_stamp::MakeStampArgs(IdOf(c), c.block_size);
    ASSERT_EQ(args.words, ref.size());
    for (uint64_t i = 0; i < args.words; ++i)
      ASSERT_EQ(cuda_stamp::StampWord(args, i), ref[i])
          << "word " << i << " of run " << c.run_id << " block " << c.block << " gen " << c.generation
          << " size " << c.block_size;
  }
}

TEST(CudaStamp, HeaderParsesBackToTheStampId) {
  for (const Case& c : kCases) {
    std::vector<uint64_t> ref = CpuStamp(c);
    auto id = cuda_stamp::ParseStampHeader(reinterpret_cast<const std::byte*>(ref.data()), c.block_size);
    ASSERT_TRUE(id.has_value());
    EXPECT_EQ(id->run_id, c.run_id);
    EXPECT_EQ(id->block, c.block);
    EXPECT_EQ(id->generation, c.generation);
    EXPECT_EQ(id->kind, WriterKind::kDma);
    EXPECT_EQ(id->writer_id, c.writer_id);
    EXPECT_EQ(id->pin_epoch, c.epoch);
  }
}

TEST(CudaStamp, HeaderThatDoesNotCheckOutIsRefused) {
  const Case& c = kCases[2];
  std::vector<uint64_t> ref = CpuStamp(c);
  const auto* bytes = reinterpret_cast<const std::byte*>(ref.data());
  // The wrong block size for this stamp.
  EXPECT_FALSE(cuda_stamp::ParseStampHeader(bytes, c.block_size * 2).has_value());
  // A flipped bit in the generation: the header check fails.
  ref[4] ^= 1;
  EXPECT_FALSE(cuda_stamp::ParseStampHeader(bytes, c.block_size).has_value());
  ref[4] ^= 1;
  ref[0] = 0;
  EXPECT_FALSE(cuda_stamp::ParseStampHeader(bytes, c.block_size).has_value());
}

TEST(CudaStamp, GpuKernelMatchesCpuStamp) {
#if !LONGPIN_HAVE_CUDA
  GTEST_SKIP() << "built without CUDA";
#else
  if (auto why = CudaUnavailable()) GTEST_SKIP() << *why;
  for (const Case& c : kCases) {
    const std::vector<uint64_t> ref = CpuStamp(c);
    std::vector<uint64_t> gpu(ref.size(), 0);
    const int err = cuda_stamp::StampOnGpu(cuda_stamp::MakeStampArgs(IdOf(c), c.block_size),
                                           reinterpret_cast<std::byte*>(gpu.data()));
    ASSERT_EQ(err, 0) << "cudaError " << err;
    ASSERT_EQ(std::memcmp(gpu.data(), ref.data(), c.block_size), 0)
        << "GPU block differs: run " << c.run_id << " block " << c.block << " gen " << c.generation
        << " size " << c.block_size;
  }
#endif
}

}  // namespace
}  // namespace longpin
