// The pin driver's attribution of DMA write failures: an EFAULT that happened while a scenario had the file's
// tail truncated away (WorkloadContext::truncate_epoch odd, or changed across the write) is the workload's
// own doing and counted apart; any other failure stays an IO error of the run. The pinner here is a test
// double of the Pinner interface that fails on purpose (no kernel involved): it is the driver's bookkeeping
// under test.
#include "workloads/pin_driver.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "core/expected_log.h"
#include "core/hang_watchdog.h"

namespace longpin {
namespace {

// Every DmaWrite fails with EFAULT, in a cycle of six: a truncate that starts and ends during the write
// (expected); no truncate (an error); a truncate that starts during the write (expected); one in progress for
// the whole write (expected); one that ends during it (expected); no truncate (an error).
class FailingPinner : public Pinner {
 public:
  explicit FailingPinner(WorkloadContext& ctx) : ctx_(ctx) {}
  PinReference reference() const override { return PinReference::kNone; }
  Result<PinGrant> Pin(const PinWindow& w) override { return PinGrant{w.length}; }
  Status Unpin(const PinWindow&) override { return {}; }
  bool can_write() const override { return true; }
  Status DmaWrite(const PinWindow&, uint64_t, const std::byte*, size_t) override {
    static constexpr int kEdges[6] = {2, 0, 1, 0, 1, 0};
    ctx_.truncate_epoch.fetch_add(uint64_t(kEdges[calls_ % 6]));
    if (++calls_ == kCalls) ctx_.phase_stop.store(true);
    return Status(EFAULT, "test");
  }
  static constexpr int kCalls = 36;
  static constexpr uint64_t kExpected = 24, kErrors = 12;

 private:
  WorkloadContext& ctx_;
  int calls_ = 0;
};

TEST(PinDriver, EfaultIntoATruncatedTailIsExpectedOtherFailuresAreErrors) {
  char dir_template[] = "/tmp/longpin-pin-driver-XXXXXX";
  ASSERT_NE(::mkdtemp(dir_template), nullptr);
  const std::string log_path = std::string(dir_template) + "/expected.log";

  RunConfig cfg;
  cfg.pin_window = 64 << 10;
  cfg.pin_windows = 1;
  cfg.pin_rotate_s = 3600;
  std::vector<std::byte> map(1 << 20);
  WorkloadContext ctx;
  ctx.config = &cfg;
  ctx.run_id = 1;
  ctx.pattern = std::make_unique<StampPattern>(1, 4096);
  ctx.map = map.data();
  ctx.map_length = map.size();
  ctx.block_count = map.size() / 4096;
  ctx.writer_total = 1;
  ctx.generations.assign(ctx.block_count, 0);
  auto log = ExpectedLog::Create(log_path, 1, 4096, ctx.block_count, false);
  ASSERT_TRUE(log.ok()) << log.status().message();
  HangWatchdog watchdog(30);
  OpSlot* slot = watchdog.NewSlot("pinner");
  LogLane* lane = (*log)->NewLane();

  FailingPinner pinner(ctx);
  PinDriverTally tally;
  std::thread driver(RunPinDriver, std::ref(ctx), std::ref(pinner), uint8_t(0), 0, uint64_t(7), lane, slot,
                     &tally);
  driver.join();
  EXPECT_TRUE((*log)->Close(true).ok());
  std::system(("rm -rf " + std::string(dir_template)).c_str());

  uint64_t expected = 0, errors = 0;
  for (const auto& [k, n] : tally.dma.expected_errors) expected += n;
  for (const auto& [k, n] : tally.dma.errors) errors += n;
  EXPECT_EQ(expected, FailingPinner::kExpected) << "EFAULTs during a truncate";
  EXPECT_EQ(errors, FailingPinner::kErrors) << "EFAULTs with no truncate in sight";
  EXPECT_EQ(tally.dma.errors.count("dma EFAULT"), 1u);
  EXPECT_EQ(tally.dma.completed.Get(), 0u);
  EXPECT_EQ(tally.held_pages.Get(), 0u) << "every window released at the end";
}

}  // namespace
}  // namespace longpin
