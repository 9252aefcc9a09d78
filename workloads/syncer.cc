#include "workloads/syncer.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <optional>
#include <thread>

namespace longpin {
namespace {

constexpr size_t kMaxSyncRecords = (16 << 20) / sizeof(SyncCallRecord);

int CallSync(WorkloadContext& ctx, SyncOpKind op) {
  return CallSyncOp(op, ctx.fd, ctx.map, 0, ctx.map_length);
}

}  // namespace

int CallSyncOp(SyncOpKind op, int fd, std::byte* map, uint64_t offset, uint64_t len) {
  int rc = 0;
  switch (op) {
    case SyncOpKind::kFsync: rc = ::fsync(fd); break;
    case SyncOpKind::kFdatasync: rc = ::fdatasync(fd); break;
    case SyncOpKind::kMsync: rc = ::msync(map + offset, len, MS_SYNC); break;
    case SyncOpKind::kSyncFileRange:
      rc =
          ::sync_file_range(fd, off64_t(offset), off64_t(len),
                            SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER);
      break;
    case SyncOpKind::kSyncfs: rc = ::syncfs(fd); break;
  }
  return rc == 0 ? 0 : errno;
}

int RunOneSync(WorkloadContext& ctx, SyncOpKind op, uint16_t syncer, LogLane* lane, OpSlot* slot,
               SyncerTally* tally) {
  const uint64_t id = ctx.next_sync_id.fetch_add(1);
  SyncProbe* probe = tally ? tally->probe : nullptr;
  const bool pinned = tally && tally->pinned_pages && tally->pinned_pages->Get() > 0;
  if (probe) probe->Before();
  const uint64_t t0 = MonotonicNs();
  // The start record takes its sequence number before the call: every write numbered below completed first.
  lane->Append(RecordType::kSyncStart, uint8_t(op), syncer, ctx.phase_index, id, t0);
  int err;
  {
    OpScope scope(slot, OpKind::kSync);
    err = CallSync(ctx, op);
  }
  const uint64_t dur = MonotonicNs() - t0;
  if (probe) {
    if (tally->records.size() < tally->records.capacity()) {
      SyncCallRecord& r = tally->records.emplace_back();
      r.start_ns = t0;
      r.duration_ns = dur;
      r.tid = int32_t(::gettid());
      r.err = err;
      r.pinned = pinned;
      probe->After(r);
    } else {
      ++tally->records_dropped;
    }
  }
  lane->Append(RecordType::kSyncEnd, uint8_t(op), syncer, uint32_t(err), id, dur);
  // Durable logs (power cut): the sync's records and the writes it promised go out now, not when chunks fill.
  lane->Publish();
  lane->RequestPublishAll();
  if (err == 0 && SyncOpPromises(op) && ctx.on_sync_success) ctx.on_sync_success(id);
  if (tally) {
    tally->latency.Record(dur);
    tally->live.Record(dur);
    if (err) tally->errors[std::string(SyncOpName(op)) + " " + std::string(ErrnoName(err))]++;
  }
  return err;
}

void RunSyncer(WorkloadContext& ctx, int syncer_id, LogLane* lane, OpSlot* slot, SyncerTally* tally) {
  BindThreadToSlot(slot);
  const auto interval = std::chrono::nanoseconds(uint64_t(ctx.config->sync_interval_s * 1e9));
  std::optional<SyncProbe> probe;
  if (tally && tally->writeback) {
    // Twice the syncs the schedule allows, so a fast filesystem does not run out; capped at 16 MiB of
    // records.
    const double scheduled = ctx.config->duration_s / std::max(ctx.config->sync_interval_s, 1e-6);
    tally->records.reserve(size_t(std::min(2 * scheduled + 64, double(kMaxSyncRecords))));
    tally->writeback->AddThread(int(::gettid()));
    probe.emplace(*tally->writeback);
    tally->probe = &*probe;
  }
  auto next = std::chrono::steady_clock::now();
  while (!ctx.phase_stop.load(std::memory_order_relaxed)) {
    next += interval;
    // Sleep in short steps so the end of a phase is not delayed by a long interval.
    while (!ctx.phase_stop.load(std::memory_order_relaxed)) {
      auto now = std::chrono::steady_clock::now();
      if (now >= next) break;
      std::this_thread::sleep_for(
          std::min<std::chrono::nanoseconds>(next - now, std::chrono::milliseconds(50)));
    }
    if (ctx.phase_stop.load(std::memory_order_relaxed)) break;
    int err = RunOneSync(ctx, ctx.config->sync_op, uint16_t(syncer_id), lane, slot, tally);
    // After a failure the next call fails fast too (a shut-down filesystem): keep the schedule, no spin.
    if (err && std::chrono::steady_clock::now() > next) next = std::chrono::steady_clock::now();
    // A schedule that fell behind (sync slower than the interval) restarts from now instead of bursting.
    if (std::chrono::steady_clock::now() > next + interval) next = std::chrono::steady_clock::now();
  }
  if (tally) tally->probe = nullptr;
  lane->Publish();
}

std::vector<SyncCallRecord> CollectSyncRecords(WritebackTrace& trace, std::vector<SyncerTally>& tallies,
                                               uint64_t* dropped, uint64_t* events_lost) {
  std::vector<SyncCallRecord> all;
  *dropped = 0;
  for (auto& t : tallies) {
    all.insert(all.end(), t.records.begin(), t.records.end());
    *dropped += t.records_dropped;
  }
  *events_lost = trace.Collect(all);
  std::sort(all.begin(), all.end(),
            [](const SyncCallRecord& a, const SyncCallRecord& b) { return a.start_ns < b.start_ns; });
  return all;
}

}  // namespace longpin
