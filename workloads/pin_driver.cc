#include "workloads/pin_driver.h"

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <deque>
#include <map>
#include <memory>
#include <thread>

namespace longpin {

void RunPinDriver(WorkloadContext& ctx, Pinner& pinner, uint8_t pinner_index, int dma_writer_id,
                  uint64_t seed, LogLane* lane, OpSlot* slot, PinDriverTally* tally) {
  BindThreadToSlot(slot);
  const RunConfig& cfg = *ctx.config;
  const size_t page = size_t(::sysconf(_SC_PAGESIZE));
  const uint64_t window = std::min<uint64_t>((cfg.pin_window + page - 1) / page * page, ctx.map_length);
  const uint64_t slots = (ctx.map_length - window) / page + 1;
  SplitMix rng{seed};
  std::deque<PinWindow> held;
  std::map<uint32_t, size_t> span_of;  // epoch -> index in tally->spans
  const size_t bs = ctx.block_size();
  const bool per_io = pinner.holds_per_io();
  tally->pins.per_io = per_io;
  std::unique_ptr<std::byte, decltype(&std::free)> staging(
      static_cast<std::byte*>(std::aligned_alloc(4096, bs < 4096 ? 4096 : bs)), &std::free);

  auto pin_one = [&] {
    PinWindow w{(rng.Next() % slots) * page, window, ctx.next_pin_epoch.fetch_add(1)};
    tally->pins.windows++;
    tally->pins.requested_pages += w.length / page;
    Result<PinGrant> g = [&] {
      OpScope op(slot, OpKind::kPin);
      return pinner.Pin(w);
    }();
    const int err = g.ok() ? 0 : g.status().err();
    lane->Append(RecordType::kPin, pinner_index, uint16_t(err), w.epoch, w.offset, g.ok() ? g->bytes : 0);
    tally->spans.push_back({double(MonotonicNs() - tally->run_start_ns) / 1e6, err ? double(MonotonicNs() - tally->run_start_ns) / 1e6 : -1.0,
                            w.offset, g.ok() ? g->bytes : 0, err});
    span_of[w.epoch] = tally->spans.size() - 1;
    if (!g.ok()) {
      tally->pins.refused[std::string(ErrnoName(err))] += w.length / page;
      return;
    }
    if (!per_io) tally->pins.granted_pages += g->bytes / page;  // per-IO: nothing held until an IO
    if (g->bytes < w.length) tally->pins.refused["partial"] += (w.length - g->bytes) / page;
    if (g->bytes == 0) return;
    w.length = g->bytes;
    held.push_back(w);
    if (!per_io) tally->held_pages.Add(w.length / page);
  };
  auto unpin_oldest = [&] {
    PinWindow w = held.front();
    held.pop_front();
    Status s = [&] {
      OpScope op(slot, OpKind::kUnpin);
      return pinner.Unpin(w);
    }();
    if (!s.ok()) {
      // The pages may still be held: no unpin record, so the oracle never promises this window's DMA writes
      // (a sync only promises writes of windows released before it). The phase's errors make the run an
      // error.
      tally->dma.errors[std::string("unpin ") + std::string(ErrnoName(s.err()))]++;
      return;
    }
    if (!per_io) tally->held_pages.Set(tally->held_pages.Get() - w.length / page);
    lane->Append(RecordType::kUnpin, pinner_index, 0, w.epoch, w.offset, w.length);
    if (auto it = span_of.find(w.epoch); it != span_of.end())
      tally->spans[it->second].released_ms = double(MonotonicNs() - tally->run_start_ns) / 1e6;
  };
  WritePacer pacer(cfg.rate);  // DMA writers are paced like the others (--rate)
  auto dma_write_some = [&] {
    // One block per held window per round, each owned by this writer.
    for (const PinWindow& w : held) {
      pacer.Wait();
      const uint64_t first = (w.offset + bs - 1) / bs, end = (w.offset + w.length) / bs;
      if (end <= first) continue;
      uint64_t b = first + rng.Next() % (end - first);
      b += (uint64_t(dma_writer_id) + uint64_t(ctx.writer_total) - b % uint64_t(ctx.writer_total)) %
           uint64_t(ctx.writer_total);
      if (b >= end || b >= ctx.block_count) continue;
      // A per-IO pinner holds the pages for this one IO and the kernel unpins and dirties them when it
      // completes: the write gets an epoch of its own, released (logged as an unpin) right after it completed,
      // so the kernel contract promises it from the next sync on.
      const uint32_t epoch = per_io ? ctx.next_pin_epoch.fetch_add(1) : w.epoch;
      StampId id{ctx.run_id, b, ++ctx.generations[b], WriterKind::kDma, uint32_t(dma_writer_id), epoch};
      StampBlock(*ctx.pattern, id, staging.get());
      // The IO's own pin, logged before the syscall: a write in flight across a punch or a crash is known by
      // this position, not guessed.
      if (per_io) lane->Append(RecordType::kPin, pinner_index, 0, epoch, b * bs, bs);
      const uint64_t truncate_before = ctx.truncate_epoch.load(std::memory_order_acquire);
      Status s = [&] {
        OpScope op(slot, OpKind::kWrite);
        return pinner.DmaWrite(w, b * bs, staging.get(), bs);
      }();
      const uint64_t truncate_after = ctx.truncate_epoch.load(std::memory_order_acquire);
      if (s.ok()) {
        lane->Append(RecordType::kWrite, uint8_t(WriterKind::kDma), uint16_t(dma_writer_id), epoch, b, id.generation);
        if (per_io) {
          lane->Append(RecordType::kUnpin, pinner_index, 0, epoch, b * bs, bs);
          tally->pins.io_pages += (bs + page - 1) / page;
          tally->pins.ios++;
        }
        ++tally->dma.completed;
      } else {
        lane->Append(RecordType::kWriteFailed, uint8_t(WriterKind::kDma), uint16_t(dma_writer_id), uint32_t(s.err()),
                     b, id.generation);
        if (per_io) lane->Append(RecordType::kUnpin, pinner_index, 0, epoch, b * bs, bs);
        const bool into_truncated_tail =
            s.err() == EFAULT && ((truncate_before & 1) || truncate_before != truncate_after);
        if (into_truncated_tail) tally->dma.expected_errors["dma EFAULT (tail truncated away by the scenario)"]++;
        else tally->dma.errors[std::string("dma ") + std::string(ErrnoName(s.err()))]++;
      }
    }
  };

  for (int i = 0; i < cfg.pin_windows; ++i) pin_one();
  const auto rotate = std::chrono::nanoseconds(uint64_t(cfg.pin_rotate_s * 1e9));
  auto next_rotation = std::chrono::steady_clock::now() + rotate;
  while (!ctx.phase_stop.load(std::memory_order_relaxed)) {
    if (std::chrono::steady_clock::now() >= next_rotation) {
      if (!held.empty()) unpin_oldest();
      pin_one();
      next_rotation += rotate;
      continue;
    }
    if (dma_writer_id >= 0 && pinner.can_write() && !held.empty()) {
      dma_write_some();
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }
  while (!held.empty()) unpin_oldest();
  lane->Publish();
}

}  // namespace longpin
