// Stamped blocks: a stamped block classifies as intact at its generation.
#include "core/block_stamp.h"

#include <gtest/gtest.h>

#include <vector>

namespace longpin {
namespace {

TEST(BlockStamp, StampedBlockIsIntact) {
  StampPattern pattern(0x1234, 4096);
  std::vector<uint64_t> buf(4096 / 8);
  auto* p = reinterpret_cast<std::byte*>(buf.data());
  StampBlock(pattern, {0x1234, 7, 3, WriterKind::kCpu, 1, 0}, p);
  BlockVerdict v = ClassifyBlock(pattern, 7, p);
  EXPECT_EQ(v.cls, BlockClass::kIntact);
  EXPECT_EQ(v.generation, 3u);
  EXPECT_EQ(v.kind, WriterKind::kCpu);
}

}  // namespace
}  // namespace longpin
