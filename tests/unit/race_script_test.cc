// Race scripts: the step list's parsing and its order checked against what a pinner offers, and the oracle
// that judges a window read back against what the attempt's writes and syncs promised.
#include "workloads/race_script.h"

#include <gtest/gtest.h>

#include <cstddef>
#include <vector>

#include "workloads/race_oracle.h"

namespace longpin {
namespace {

TEST(RaceScript, ParsesEveryStepWithItsArgument) {
  auto s = ParseRaceScript(
      "pin, store,sync:fdatasync,dma-start,reclaim:cgroup,dma-finish,sync,unpin,crash,verify");
  ASSERT_TRUE(s.ok()) << s.status().message();
  ASSERT_EQ(s->steps.size(), 10u);
  EXPECT_EQ(s->steps[0].kind, RaceStepKind::kPin);
  EXPECT_EQ(s->steps[2].kind, RaceStepKind::kSync);
  ASSERT_TRUE(s->steps[2].sync_op.has_value());
  EXPECT_EQ(*s->steps[2].sync_op, SyncOpKind::kFdatasync);
  EXPECT_FALSE(s->steps[6].sync_op.has_value());  // the run's --sync op
  EXPECT_EQ(s->steps[4].reclaim, ReclaimMethod::kCgroup);
  EXPECT_TRUE(s->needs_cgroup());
  EXPECT_TRUE(s->needs_crash());
  EXPECT_EQ(s->text, "pin,store,sync:fdatasync,dma-start,reclaim:cgroup,dma-finish,sync,unpin,crash,verify");
}

TEST(RaceScript, WaitTakesADuration) {
  auto s = ParseRaceScript("pin,dma-start,wait:250ms,dma-finish,verify");
  ASSERT_TRUE(s.ok()) << s.status().message();
  EXPECT_EQ(s->steps[2].kind, RaceStepKind::kWait);
  EXPECT_DOUBLE_EQ(s->steps[2].wait_s, 0.25);
  EXPECT_FALSE(ParseRaceScript("wait,verify").ok());
  EXPECT_FALSE(ParseRaceScript("wait:soon,verify").ok());
}

TEST(RaceScript, ReclaimDefaultsToPageout) {
  auto s = ParseRaceScript("store,sync,reclaim,verify");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->steps[2].reclaim, ReclaimMethod::kPageout);
  EXPECT_FALSE(s->needs_cgroup());
  EXPECT_FALSE(s->needs_crash());
}

TEST(RaceScript, BadStepsAreNamed) {
  auto unknown = ParseRaceScript("pin,stroe,verify");
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("step stroe: unknown step"), std::string::npos)
      << unknown.status().message();
  auto op = ParseRaceScript("sync:fsink,verify");
  ASSERT_FALSE(op.ok());
  EXPECT_NE(op.status().message().find("sync:fsink"), std::string::npos);
  auto method = ParseRaceScript("reclaim:swap,verify");
  ASSERT_FALSE(method.ok());
  EXPECT_NE(method.status().message().find("unknown reclaim method"), std::string::npos);
  auto arg = ParseRaceScript("pin:1,verify");
  ASSERT_FALSE(arg.ok());
  EXPECT_NE(arg.status().message().find("takes no argument"), std::string::npos);
  auto empty = ParseRaceScript("pin,,verify");
  ASSERT_FALSE(empty.ok());
  EXPECT_NE(empty.status().message().find("step 2 is empty"), std::string::npos);
  EXPECT_FALSE(ParseRaceScript("").ok());
  auto no_verify = ParseRaceScript("pin,store,sync");
  ASSERT_FALSE(no_verify.ok());
  EXPECT_NE(no_verify.status().message().find("ends with verify"), std::string::npos);
}

Status Check(const std::string& text, const std::string& pinner) {
  auto s = ParseRaceScript(text);
  EXPECT_TRUE(s.ok()) << s.status().message();
  return CheckRaceScript(*s, RaceCapabilitiesOf(pinner), pinner);
}

TEST(RaceScript, OrderIsCheckedAgainstThePinner) {
  EXPECT_TRUE(Check("pin,store,sync,dma-start,sync,reclaim,dma-finish,sync,verify", "fuse").ok());
  EXPECT_TRUE(Check("pin,store,sync,dma,sync,crash,verify", "rdma").ok());
  EXPECT_TRUE(Check("pin,store,sync,dma,unpin,sync,verify", "io_uring").ok());
  EXPECT_TRUE(Check("pin,store,sync,dma,sync,verify", "process-vm").ok());

  Status before_pin = Check("store,dma,pin,verify", "rdma");
  ASSERT_FALSE(before_pin.ok());
  EXPECT_NE(before_pin.message().find("step dma: a DMA needs a pinned window"), std::string::npos)
      << before_pin.message();

  Status no_hold = Check("pin,dma-start,dma-finish,verify", "odirect");
  ASSERT_FALSE(no_hold.ok());
  EXPECT_NE(no_hold.message().find("cannot hold a DMA's completion"), std::string::npos);

  Status no_write = Check("pin,dma,verify", "vmsplice");
  ASSERT_FALSE(no_write.ok());
  EXPECT_NE(no_write.message().find("cannot write through its pin"), std::string::npos);

  Status open_dma = Check("pin,dma-start,verify", "fuse");
  ASSERT_FALSE(open_dma.ok());
  EXPECT_NE(open_dma.message().find("step verify: a held DMA is in flight"), std::string::npos);

  Status unpin_in_flight = Check("pin,dma-start,unpin,dma-finish,verify", "fuse");
  ASSERT_FALSE(unpin_in_flight.ok());
  EXPECT_NE(unpin_in_flight.message().find("step unpin"), std::string::npos);

  Status crash_in_flight = Check("pin,dma-start,crash,verify", "fuse");
  ASSERT_FALSE(crash_in_flight.ok());
  EXPECT_NE(crash_in_flight.message().find("step crash"), std::string::npos);

  Status twice = Check("pin,pin,verify", "rdma");
  ASSERT_FALSE(twice.ok());
  EXPECT_NE(twice.message().find("already pinned"), std::string::npos);

  Status unpinned = Check("unpin,verify", "rdma");
  ASSERT_FALSE(unpinned.ok());
  EXPECT_NE(unpinned.message().find("nothing is pinned"), std::string::npos);

  // A crash releases what was held: a DMA after it needs a new pin.
  Status after_crash = Check("pin,store,sync,crash,dma,verify", "rdma");
  ASSERT_FALSE(after_crash.ok());
  EXPECT_NE(after_crash.message().find("step dma"), std::string::npos);
}

// The oracle over a window of two blocks: what is on disk (each block stamped at a generation, 0 = zeros)
// judged against the attempt's writes and syncs.
constexpr uint64_t kRun = 0x5eed;
constexpr size_t kBlock = 4096;

struct OracleCase {
  StampPattern pattern{kRun, kBlock};
  std::vector<std::byte> disk = std::vector<std::byte>(2 * kBlock);
  RaceReport race;

  void OnDisk(uint64_t generation, WriterKind kind) {
    for (uint64_t b = 0; b < 2; ++b)
      StampBlock(pattern, StampId{kRun, b, generation, kind, 0, 1}, disk.data() + b * kBlock);
  }
  bool Judge(const std::vector<race::AttemptWrite>& writes, const std::vector<race::AttemptSync>& syncs) {
    return race::JudgeWindow(pattern, race::WindowReadback{1, 0, 2, kBlock, disk.data()}, writes, syncs,
                             race);
  }
};

TEST(RaceOracle, AStoreASyncPromisedAndFoundIsNoFinding) {
  OracleCase c;
  c.OnDisk(1, WriterKind::kCpu);
  EXPECT_FALSE(c.Judge({{1, WriterKind::kCpu, 0, 0}}, {{1, 1, 0, true, "fsync"}}));
  EXPECT_EQ(c.race.kernel_violations, 0u);
  EXPECT_EQ(c.race.strict_misses, 0u);
  EXPECT_TRUE(c.race.examples.empty());
}

TEST(RaceOracle, AStoreASyncPromisedAndMissingIsAKernelViolation) {
  OracleCase c;  // zeros on disk
  EXPECT_TRUE(c.Judge({{1, WriterKind::kCpu, 0, 0}}, {{1, 1, 0, true, "fsync"}}));
  EXPECT_EQ(c.race.kernel_violations, 2u);
  ASSERT_EQ(c.race.examples.size(), 2u);
  const RaceExample& e = c.race.examples[0];
  EXPECT_EQ(e.contract, "kernel");
  EXPECT_EQ(e.attempt, 1u);
  EXPECT_EQ(e.expected_generation, 1u);
  EXPECT_EQ(e.found, "zero");
  EXPECT_EQ(e.writer, "cpu");
  EXPECT_EQ(e.promised_by, "sync #1 (fsync, returned 0)");
}

TEST(RaceOracle, ADmaStillPinnedAtTheSyncIsOnlyAStrictMiss) {
  OracleCase c;  // the DMA completed at step 1, its long-term pin was never released; zeros on disk
  EXPECT_TRUE(c.Judge({{1, WriterKind::kDma, 1, -1}}, {{2, 1, 0, true, "fsync"}}));
  EXPECT_EQ(c.race.kernel_violations, 0u);
  EXPECT_EQ(c.race.strict_misses, 2u);
  EXPECT_EQ(c.race.dma_blocks_strict_promised, 2u);
  EXPECT_EQ(c.race.dma_blocks_strict_found, 0u);
  ASSERT_FALSE(c.race.examples.empty());
  EXPECT_EQ(c.race.examples[0].contract, "strict");
}

TEST(RaceOracle, AFailedSyncPromisesNothing) {
  OracleCase c;
  EXPECT_FALSE(c.Judge({{1, WriterKind::kCpu, 0, 0}}, {{1, 1, EIO, true, "fsync"}}));
  EXPECT_EQ(c.race.kernel_violations, 0u);
}

TEST(RaceOracle, AGenerationNoStepWroteIsAKernelViolation) {
  OracleCase c;
  c.OnDisk(5, WriterKind::kCpu);
  EXPECT_TRUE(c.Judge({{1, WriterKind::kCpu, 0, 0}}, {}));
  EXPECT_EQ(c.race.kernel_violations, 2u);
}

}  // namespace
}  // namespace longpin
