#include "workloads/pin_driver.h"

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <deque>
#include <map>
#include <memory>
#include <thread>

namespace longpin {

namespace {

// The pinner thread's state: the windows it holds (oldest first), its random offsets and its staging block.
class PinDriver {
 public:
  PinDriver(WorkloadContext& ctx, Pinner& pinner, uint8_t pinner_index, int dma_writer_id, uint64_t seed,
            LogLane* lane, OpSlot* slot, PinDriverTally* tally)
      : ctx_(ctx),
        cfg_(*ctx.config),
        pinner_(pinner),
        pinner_index_(pinner_index),
        dma_writer_id_(dma_writer_id),
        lane_(lane),
        slot_(slot),
        tally_(tally),
        page_(size_t(::sysconf(_SC_PAGESIZE))),
        window_(std::min<uint64_t>((cfg_.pin_window + page_ - 1) / page_ * page_, ctx.map_length)),
        slots_((ctx.map_length - window_) / page_ + 1),
        bs_(ctx.block_size()),
        per_io_(pinner.holds_per_io()),
        rng_{seed},
        staging_(static_cast<std::byte*>(std::aligned_alloc(4096, bs_ < 4096 ? 4096 : bs_)), &std::free),
        pacer_(cfg_.rate) {}  // DMA writers are paced like the others (--rate)

  void Run();

 private:
  double MsSinceStart() const { return double(MonotonicNs() - tally_->run_start_ns) / 1e6; }
  void PinOne();
  void UnpinOldest();
  void DmaWriteSome();
  void DmaWriteBlock(const PinWindow& w, uint64_t block);

  WorkloadContext& ctx_;
  const RunConfig& cfg_;
  Pinner& pinner_;
  const uint8_t pinner_index_;
  const int dma_writer_id_;
  LogLane* const lane_;
  OpSlot* const slot_;
  PinDriverTally* const tally_;
  const size_t page_;
  const uint64_t window_;  // bytes per window: --pin-window in whole pages, within the mapping
  const uint64_t slots_;   // page offsets a window can start at
  const size_t bs_;
  const bool per_io_;
  SplitMix rng_;
  std::deque<PinWindow> held_;
  std::map<uint32_t, size_t> span_of_;  // epoch -> index in tally->spans
  std::unique_ptr<std::byte, decltype(&std::free)> staging_;
  WritePacer pacer_;
};

void PinDriver::PinOne() {
  PinWindow w{(rng_.Next() % slots_) * page_, window_, ctx_.next_pin_epoch.fetch_add(1)};
  tally_->pins.windows++;
  tally_->pins.requested_pages += w.length / page_;
  Result<PinGrant> g = [&] {
    OpScope op(slot_, OpKind::kPin);
    return pinner_.Pin(w);
  }();
  const int err = g.ok() ? 0 : g.status().err();
  lane_->Append(RecordType::kPin, pinner_index_, uint16_t(err), w.epoch, w.offset, g.ok() ? g->bytes : 0);
  tally_->spans.push_back(
      {MsSinceStart(), err ? MsSinceStart() : -1.0, w.offset, g.ok() ? g->bytes : 0, err});
  span_of_[w.epoch] = tally_->spans.size() - 1;
  if (!g.ok()) {
    tally_->pins.refused[std::string(ErrnoName(err))] += w.length / page_;
    return;
  }
  if (!per_io_) tally_->pins.granted_pages += g->bytes / page_;  // per-IO: nothing held until an IO
  if (g->bytes < w.length) tally_->pins.refused["partial"] += (w.length - g->bytes) / page_;
  if (g->bytes == 0) return;
  w.length = g->bytes;
  held_.push_back(w);
  if (!per_io_) tally_->held_pages.Add(w.length / page_);
}

void PinDriver::UnpinOldest() {
  PinWindow w = held_.front();
  held_.pop_front();
  Status s = [&] {
    OpScope op(slot_, OpKind::kUnpin);
    return pinner_.Unpin(w);
  }();
  if (!s.ok()) {
    // The pages may still be held: no unpin record, so the oracle never promises this window's DMA writes
    // (a sync only promises writes of windows released before it). The phase's errors make the run an
    // error.
    tally_->dma.errors[std::string("unpin ") + std::string(ErrnoName(s.err()))]++;
    return;
  }
  if (!per_io_) tally_->held_pages.Set(tally_->held_pages.Get() - w.length / page_);
  lane_->Append(RecordType::kUnpin, pinner_index_, 0, w.epoch, w.offset, w.length);
  if (auto it = span_of_.find(w.epoch); it != span_of_.end())
    tally_->spans[it->second].released_ms = MsSinceStart();
}

// One block per held window per round, each owned by this writer.
void PinDriver::DmaWriteSome() {
  const uint64_t writers = uint64_t(ctx_.writer_total);
  for (const PinWindow& w : held_) {
    pacer_.Wait();
    const uint64_t first = (w.offset + bs_ - 1) / bs_, end = (w.offset + w.length) / bs_;
    if (end <= first) continue;
    uint64_t b = first + rng_.Next() % (end - first);
    b += (uint64_t(dma_writer_id_) + writers - b % writers) % writers;
    if (b >= end || b >= ctx_.block_count) continue;
    DmaWriteBlock(w, b);
  }
}

void PinDriver::DmaWriteBlock(const PinWindow& w, uint64_t b) {
  // A per-IO pinner holds the pages for this one IO and the kernel unpins and dirties them when it
  // completes: the write gets an epoch of its own, released (logged as an unpin) right after it completed,
  // so the kernel contract promises it from the next sync on.
  const uint32_t epoch = per_io_ ? ctx_.next_pin_epoch.fetch_add(1) : w.epoch;
  StampId id{ctx_.run_id, b, ++ctx_.generations[b], WriterKind::kDma, uint32_t(dma_writer_id_), epoch};
  StampBlock(*ctx_.pattern, id, staging_.get());
  // The IO's own pin, logged before the syscall: a write in flight across a punch or a crash is known by
  // this position, not guessed.
  if (per_io_) lane_->Append(RecordType::kPin, pinner_index_, 0, epoch, b * bs_, bs_);
  const uint64_t truncate_before = ctx_.truncate_epoch.load(std::memory_order_acquire);
  Status s = [&] {
    OpScope op(slot_, OpKind::kWrite);
    return pinner_.DmaWrite(w, b * bs_, staging_.get(), bs_);
  }();
  const uint64_t truncate_after = ctx_.truncate_epoch.load(std::memory_order_acquire);
  if (s.ok()) {
    lane_->Append(RecordType::kWrite, uint8_t(WriterKind::kDma), uint16_t(dma_writer_id_), epoch, b,
                  id.generation);
    if (per_io_) {
      lane_->Append(RecordType::kUnpin, pinner_index_, 0, epoch, b * bs_, bs_);
      tally_->pins.io_pages += (bs_ + page_ - 1) / page_;
      tally_->pins.ios++;
    }
    ++tally_->dma.completed;
    return;
  }
  lane_->Append(RecordType::kWriteFailed, uint8_t(WriterKind::kDma), uint16_t(dma_writer_id_),
                uint32_t(s.err()), b, id.generation);
  if (per_io_) lane_->Append(RecordType::kUnpin, pinner_index_, 0, epoch, b * bs_, bs_);
  // A scenario that truncates the tail (truncate_epoch odd while it is away) makes EFAULT an expected answer.
  const bool into_truncated_tail =
      s.err() == EFAULT && ((truncate_before & 1) || truncate_before != truncate_after);
  if (into_truncated_tail) tally_->dma.expected_errors["dma EFAULT (tail truncated away by the scenario)"]++;
  else tally_->dma.errors[std::string("dma ") + std::string(ErrnoName(s.err()))]++;
}

void PinDriver::Run() {
  tally_->pins.per_io = per_io_;
  for (int i = 0; i < cfg_.pin_windows; ++i) PinOne();
  const auto rotate = std::chrono::nanoseconds(uint64_t(cfg_.pin_rotate_s * 1e9));
  auto next_rotation = std::chrono::steady_clock::now() + rotate;
  while (!ctx_.phase_stop.load(std::memory_order_relaxed)) {
    if (std::chrono::steady_clock::now() >= next_rotation) {
      if (!held_.empty()) UnpinOldest();
      PinOne();
      next_rotation += rotate;
      continue;
    }
    if (dma_writer_id_ >= 0 && pinner_.can_write() && !held_.empty()) {
      DmaWriteSome();
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }
  while (!held_.empty()) UnpinOldest();
  lane_->Publish();
}

}  // namespace

void RunPinDriver(WorkloadContext& ctx, Pinner& pinner, uint8_t pinner_index, int dma_writer_id,
                  uint64_t seed, LogLane* lane, OpSlot* slot, PinDriverTally* tally) {
  BindThreadToSlot(slot);
  PinDriver(ctx, pinner, pinner_index, dma_writer_id, seed, lane, slot, tally).Run();
}

}  // namespace longpin
