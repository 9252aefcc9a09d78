#include "verifiers/expected_state.h"

#include <algorithm>
#include <map>
#include <unordered_map>

#include "core/status.h"

namespace longpin {

const char* SyncOpName(SyncOpKind op) {
  switch (op) {
    case SyncOpKind::kFsync: return "fsync";
    case SyncOpKind::kFdatasync: return "fdatasync";
    case SyncOpKind::kMsync: return "msync";
    case SyncOpKind::kSyncFileRange: return "sync_file_range";
    case SyncOpKind::kSyncfs: return "syncfs";
  }
  return "?";
}

std::optional<SyncOpKind> ParseSyncOpName(const std::string& name) {
  for (auto op : {SyncOpKind::kFsync, SyncOpKind::kFdatasync, SyncOpKind::kMsync, SyncOpKind::kSyncFileRange,
                  SyncOpKind::kSyncfs})
    if (name == SyncOpName(op)) return op;
  return std::nullopt;
}

bool SyncOpPromises(SyncOpKind op) { return op != SyncOpKind::kSyncFileRange; }

const BlockExpectation BlockExpectations::kUntouched{};

void BlockExpectations::Reset(uint64_t block_count) {
  block_count_ = block_count;
  chunks_.clear();
  chunks_.resize((block_count + kChunkBlocks - 1) / kChunkBlocks);
  entries_.clear();
}

BlockExpectation& BlockExpectations::Touch(uint64_t b) {
  std::vector<uint32_t>& chunk = chunks_[b >> kChunkBits];
  if (chunk.empty()) chunk.assign(kChunkBlocks, 0);
  uint32_t& i = chunk[b & (kChunkBlocks - 1)];
  if (i == 0) {
    entries_.emplace_back();
    i = uint32_t(entries_.size());
  }
  return entries_[i - 1];
}

uint64_t BlockExpectations::memory_bytes() const {
  uint64_t bytes = chunks_.capacity() * sizeof(chunks_[0]) + entries_.capacity() * sizeof(BlockExpectation);
  for (const auto& c : chunks_) bytes += c.capacity() * sizeof(uint32_t);
  return bytes;
}

namespace {

// promise_cap: only syncs that started at or before it promise (UINT64_MAX: every sync in the log).
ExpectedState Build(const LogContents& log, uint64_t promise_cap) {
  ExpectedState st;
  st.run_id = log.header.run_id;
  st.block_size = log.header.block_size;
  st.block_count = log.header.block_count;
  st.log_complete = log.complete();
  st.known_below = log.known_below;
  st.blocks.Reset(st.block_count);

  // Pass 1: syncs, pins, crash point (few records; the writes are the bulk).
  std::unordered_map<uint64_t, SyncRecord> syncs;
  std::unordered_map<uint32_t, uint64_t> unpin_seq;  // pin epoch -> seq of its unpin
  std::unordered_map<uint32_t, uint64_t> pin_seq;    // pin epoch -> seq of its pin
  std::vector<LogRecord> punch_records;
  for (const LogRecord& r : log.records) {
    switch (r.type) {
      case RecordType::kSyncStart: {
        SyncRecord& s = syncs[r.a];
        s.id = r.a;
        s.op = SyncOpKind(r.kind);
        s.start_seq = r.seq;
        s.start_ns = r.b;
        s.syncer = r.actor;
        s.phase = r.aux;
        break;
      }
      case RecordType::kSyncEnd: {
        SyncRecord& s = syncs[r.a];
        s.duration_ns = r.b;
        s.err = int(r.aux);
        s.end_seq = r.seq;
        break;
      }
      case RecordType::kUnpin: unpin_seq[r.aux] = r.seq; break;
      case RecordType::kPin: pin_seq[r.aux] = r.seq; break;
      case RecordType::kPunch:
        punch_records.push_back(r);
        st.punches_logged = true;
        if (r.aux == 0) ++st.punches;
        break;
      case RecordType::kCrash: st.crash_seq = st.crash_seq ? std::min(st.crash_seq, r.seq) : r.seq; break;
      default: break;
    }
  }
  // A sync that returned after the crash point promises nothing: in a real crash it would never have
  // returned. (Seen on ext4: an fsync in flight across FS_IOC_SHUTDOWN with NOLOGFLUSH returned 0 while the
  // journal commit it waited for was thrown away.)
  for (auto& [id, s] : syncs) {
    if (st.crash_seq && s.end_seq > st.crash_seq && s.err == 0) {
      s.err = -1;
      ++st.syncs_after_crash;
    }
    st.syncs.push_back(s);
  }
  std::sort(st.syncs.begin(), st.syncs.end(), [](const auto& a, const auto& b) { return a.start_seq < b.start_seq; });

  uint64_t first_failure = UINT64_MAX;
  for (const auto& s : st.syncs) {
    if (s.err > 0) {
      st.sync_errors[std::string(SyncOpName(s.op)) + " " + std::string(ErrnoName(s.err))]++;
      first_failure = std::min(first_failure, s.start_seq);
    }
  }
  for (const auto& s : st.syncs) {
    // A sync whose start record was lost (start_seq 0) promises nothing. One after a gap in the sequence
    // numbers still promises what the log knows: a cut always leaves gaps (a killed run's lanes die with their
    // unpublished chunks, a quiet lane's oldest record among them), and what the gap hid is handled where it
    // matters: a write it hid shows as a generation above the log's (beyond_log, not judged), and a hidden
    // punch leaves the zeros of a run that punched unjudged (oracle.cc).
    if (s.err != 0 || !SyncOpPromises(s.op) || s.start_seq >= first_failure || s.start_seq > promise_cap ||
        s.start_seq == 0)
      continue;
    if (s.start_seq > st.promise_seq) {
      st.promise_seq = s.start_seq;
      st.promise_sync_id = s.id;
      st.promise_sync_op = SyncOpName(s.op);
    }
  }

  // Punches, now that the promise point is known. A punch logs a start record (aux 1) before its call and an
  // end record (aux 0) after it returned. A write logged before the start was destroyed by it: once the punch
  // is promised it must never reappear. A write in flight across the punch (logged after the start, or a DMA
  // write through a pin taken before the end) may or may not have survived it: it promises nothing. An end
  // without a start (older logs) starts where it ends; a start without an end never ended.
  std::vector<uint64_t> stale_before, in_flight_until;  // per block: seq bounds of the punches over it
  if (!punch_records.empty()) {
    stale_before.assign(st.block_count, 0);
    in_flight_until.assign(st.block_count, 0);
    std::sort(punch_records.begin(), punch_records.end(), [](const auto& x, const auto& y) { return x.seq < y.seq; });
    std::map<std::pair<uint64_t, uint64_t>, uint64_t> open;  // (offset, bytes) -> start seq
    auto apply = [&](uint64_t offset, uint64_t bytes, uint64_t start, uint64_t end) {
      const uint64_t first = offset / st.block_size, last = std::min(st.block_count, (offset + bytes) / st.block_size);
      for (uint64_t blk = first; blk < last; ++blk) {
        if (end < st.promise_seq) stale_before[blk] = std::max(stale_before[blk], start);
        in_flight_until[blk] = std::max(in_flight_until[blk], end);
      }
    };
    for (const LogRecord& r : punch_records) {
      if (r.aux == 1) {
        open[{r.a, r.b}] = r.seq;
        continue;
      }
      auto it = open.find({r.a, r.b});
      apply(r.a, r.b, it == open.end() ? r.seq : it->second, r.seq);
      if (it != open.end()) open.erase(it);
    }
    for (const auto& [range, start] : open) apply(range.first, range.second, start, UINT64_MAX);
  }

  // Pass 2: writes. Per block, generations rise with seq (one writer per block), so "the newest promised
  // write" is the largest eligible generation below the promise point: no sort needed.
  const uint64_t S = st.promise_seq;
  for (const LogRecord& r : log.records) {
    if (r.type != RecordType::kWrite && r.type != RecordType::kWriteFailed) continue;
    if (r.a >= st.block_count) continue;
    BlockExpectation& b = st.blocks.Touch(r.a);
    if (r.b > b.max_issued) b.max_issued = r.b;
    if (r.seq > b.last_write_seq) {
      b.last_write_seq = r.seq;
      b.last_kind = WriterKind(r.kind);
    }
    if (r.type == RecordType::kWriteFailed) {
      ++st.writes_failed;
      continue;
    }
    ++st.writes_logged;
    if (r.b > b.recent_gens[0]) {
      b.recent_gens[1] = b.recent_gens[0];
      b.recent_epochs[1] = b.recent_epochs[0];
      b.recent_gens[0] = r.b;
      b.recent_epochs[0] = r.aux;
    } else if (r.b > b.recent_gens[1] && r.b != b.recent_gens[0]) {
      b.recent_gens[1] = r.b;
      b.recent_epochs[1] = r.aux;
    }
    // A write before a punch of its block promises nothing: the block must read as zeros or a later write.
    // Once the punch itself is promised (before the promise point), that write must never come back.
    if (!in_flight_until.empty() && in_flight_until[r.a] > 0) {
      if (r.seq < stale_before[r.a]) {
        if (r.b > b.stale_gen) b.stale_gen = r.b;
        continue;
      }
      uint64_t started = r.seq;
      if (WriterKind(r.kind) == WriterKind::kDma)
        if (auto it = pin_seq.find(r.aux); it != pin_seq.end()) started = it->second;
      if (started < in_flight_until[r.a]) continue;
    }
    if (r.seq >= S) continue;
    const WriterKind kind = WriterKind(r.kind);
    if (r.b > b.strict_gen) {
      b.strict_gen = r.b;
      b.strict_kind = kind;
    }
    bool kernel_eligible = kind != WriterKind::kDma;
    if (!kernel_eligible) {
      auto it = unpin_seq.find(r.aux);
      kernel_eligible = it != unpin_seq.end() && it->second < S;
    }
    if (kernel_eligible && r.b > b.kernel_gen) {
      b.kernel_gen = r.b;
      b.kernel_kind = kind;
    }
  }
  return st;
}

}  // namespace

ExpectedState BuildExpectedState(const LogContents& log) { return Build(log, UINT64_MAX); }

ExpectedState BuildExpectedStateAt(const LogContents& log, uint64_t promise_seq) { return Build(log, promise_seq); }

}  // namespace longpin
