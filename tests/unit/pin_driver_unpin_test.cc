// The pin driver when an unpin fails: the window may still be pinned, so the expected log must not say it was
// released (the oracle would then promise DMA writes into it from the next sync on), and the failure is an
// error of the phase. The pinner is a test double of the Pinner interface: the driver's bookkeeping is under
// test, not a kernel.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "core/expected_log.h"
#include "core/hang_watchdog.h"
#include "workloads/pin_driver.h"

namespace longpin {
namespace {

// Grants every pin; every second unpin fails with EBUSY. Stops the phase after kPins pins.
class HalfUnpinningPinner : public Pinner {
 public:
  explicit HalfUnpinningPinner(WorkloadContext& ctx) : ctx_(ctx) {}
  PinReference reference() const override { return PinReference::kNone; }
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
  char dir_template[] = "/tmp/longpin-pin-unpin-XXXXXX";
  ASSERT_NE(::mkdtemp(dir_template), nullptr);
  const std::string dir = dir_template;
  const std::string log_path = dir + "/expected.log";

  RunConfig cfg;
  cfg.pin_window = 64 << 10;
  cfg.pin_windows = 2;
  cfg.pin_rotate_s = 0.001;
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

  HalfUnpinningPinner pinner(ctx);
  PinDriverTally tally;
  std::thread driver(RunPinDriver, std::ref(ctx), std::ref(pinner), uint8_t(0), -1, uint64_t(7), lane, slot,
                     &tally);
  driver.join();
  ASSERT_TRUE((*log)->Close(true).ok());
  auto contents = ReadExpectedLog(log_path);
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
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
