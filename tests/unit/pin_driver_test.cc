// The pin driver's bookkeeping, with test doubles of the Pinner interface that fail on purpose (no kernel
// involved). DMA write failures: an EFAULT that happened while a scenario had the file's tail truncated away
// (WorkloadContext::truncate_epoch odd, or changed across the write) is the workload's own doing and counted
// apart; any other failure stays an IO error of the run. A failed unpin: the window may still be pinned, so
// the expected log must not say it was released (the oracle would then promise DMA writes into it from the
// next sync on), and the failure is an error of the phase.
#include "workloads/pin_driver.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
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

// One pinner thread over a 1 MiB buffer standing in for the mapping, logging to a fresh expected log.
struct DriverHarness {
  explicit DriverHarness(int windows, double rotate_s) {
    cfg.pin_window = 64 << 10;
    cfg.pin_windows = windows;
    cfg.pin_rotate_s = rotate_s;
    ctx.config = &cfg;
    ctx.run_id = 1;
    ctx.pattern = std::make_unique<StampPattern>(1, 4096);
    ctx.map = map.data();
    ctx.map_length = map.size();
    ctx.block_count = map.size() / 4096;
    ctx.writer_total = 1;
    ctx.generations.assign(ctx.block_count, 0);
    if (::mkdtemp(dir_template)) dir = dir_template;
  }
  ~DriverHarness() {
    std::error_code ec;
    if (!dir.empty()) std::filesystem::remove_all(dir, ec);
  }
  // Runs the driver until the pinner stops the phase; false (with the reason in *why) when setup failed.
  bool Run(Pinner& pinner, int dma_writer, std::string* why) {
    if (dir.empty()) return *why = "mkdtemp failed", false;
    auto log = ExpectedLog::Create(log_path(), 1, 4096, ctx.block_count, false);
    if (!log.ok()) return *why = log.status().message(), false;
    HangWatchdog watchdog(30);
    OpSlot* slot = watchdog.NewSlot("pinner");
    LogLane* lane = (*log)->NewLane();
    std::thread driver(RunPinDriver, std::ref(ctx), std::ref(pinner), uint8_t(0), dma_writer, uint64_t(7),
                       lane, slot, &tally);
    driver.join();
    if (Status s = (*log)->Close(true); !s.ok()) return *why = s.message(), false;
    return true;
  }
  std::string log_path() const { return dir + "/expected.log"; }

  RunConfig cfg;
  std::vector<std::byte> map = std::vector<std::byte>(1 << 20);
  WorkloadContext ctx;
  PinDriverTally tally;
  char dir_template[32] = "/tmp/longpin-pin-driver-XXXXXX";
  std::string dir;
};

TEST(PinDriver, EfaultIntoATruncatedTailIsExpectedOtherFailuresAreErrors) {
  DriverHarness h(1, 3600);
  FailingPinner pinner(h.ctx);
  std::string why;
  ASSERT_TRUE(h.Run(pinner, 0, &why)) << why;
  const PinDriverTally& tally = h.tally;

  uint64_t expected = 0, errors = 0;
  for (const auto& [k, n] : tally.dma.expected_errors) expected += n;
  for (const auto& [k, n] : tally.dma.errors) errors += n;
  EXPECT_EQ(expected, FailingPinner::kExpected) << "EFAULTs during a truncate";
  EXPECT_EQ(errors, FailingPinner::kErrors) << "EFAULTs with no truncate in sight";
  EXPECT_EQ(tally.dma.errors.count("dma EFAULT"), 1u);
  EXPECT_EQ(tally.dma.completed.Get(), 0u);
  EXPECT_EQ(tally.held_pages.Get(), 0u) << "every window released at the end";
}

// Grants every pin; every second unpin fails with EBUSY. Stops the phase after kPins pins.
class HalfUnpinningPinner : public Pinner {
 public:
  explicit HalfUnpinningPinner(WorkloadContext& ctx) : ctx_(ctx) {}
  Result<PinGrant> Pin(const PinWindow& w) override {
    if (++pins_ == kPins) ctx_.phase_stop.store(true);
    return PinGrant{w.length};
  }
  Status Unpin(const PinWindow& w) override {
    if (++unpins_ % 2 == 0) {
      failed_epochs.push_back(w.epoch);
      return Status(EBUSY, "test unpin");
    }
    released_epochs.push_back(w.epoch);
    return {};
  }
  static constexpr int kPins = 8;
  std::vector<uint32_t> failed_epochs, released_epochs;

 private:
  WorkloadContext& ctx_;
  int pins_ = 0, unpins_ = 0;
};

TEST(PinDriver, AFailedUnpinIsNotLoggedAndIsAnErrorOfThePhase) {
  DriverHarness h(2, 0.001);
  HalfUnpinningPinner pinner(h.ctx);
  std::string why;
  ASSERT_TRUE(h.Run(pinner, -1, &why)) << why;
  const PinDriverTally& tally = h.tally;
  const RunConfig& cfg = h.cfg;
  auto contents = ReadExpectedLog(h.log_path());
  ASSERT_TRUE(contents.ok()) << contents.status().message();

  std::vector<uint32_t> logged_unpins;
  for (const LogRecord& r : contents->records)
    if (r.type == RecordType::kUnpin) logged_unpins.push_back(r.aux);
  std::sort(logged_unpins.begin(), logged_unpins.end());
  std::vector<uint32_t> released = pinner.released_epochs;
  std::sort(released.begin(), released.end());
  ASSERT_FALSE(pinner.failed_epochs.empty());
  EXPECT_EQ(logged_unpins, released) << "exactly the windows whose unpin succeeded are logged as released";
  ASSERT_EQ(tally.dma.errors.count("unpin EBUSY"), 1u);
  EXPECT_EQ(tally.dma.errors.at("unpin EBUSY"), pinner.failed_epochs.size());
  EXPECT_EQ(tally.held_pages.Get(), pinner.failed_epochs.size() * (cfg.pin_window / 4096))
      << "a window whose unpin failed still counts as held";
}

}  // namespace
}  // namespace longpin
