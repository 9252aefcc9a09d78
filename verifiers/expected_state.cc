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

bool SyncOpPromises(SyncOpKind op) {
  return op != SyncOpKind::kSyncFileRange;
}

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

// The few records besides writes (syncs, pins, punches, the crash point), gathered in one pass.
struct ControlRecords {
  std::unordered_map<uint64_t, SyncRecord> syncs;    // sync id -> its start and end
  std::unordered_map<uint32_t, uint64_t> unpin_seq;  // pin epoch -> seq of its unpin
  std::unordered_map<uint32_t, uint64_t> pin_seq;    // pin epoch -> seq of its pin
  std::vector<LogRecord> punches;
};

ControlRecords GatherControlRecords(const LogContents& log, ExpectedState* st) {
  ControlRecords c;
  for (const LogRecord& r : log.records) {
    switch (r.type) {
      case RecordType::kSyncStart: {
        SyncRecord& s = c.syncs[r.a];
        s.id = r.a;
        s.op = SyncOpKind(r.kind);
        s.start_seq = r.seq;
        s.start_ns = r.b;
        s.syncer = r.actor;
        s.phase = r.aux;
        break;
      }
      case RecordType::kSyncEnd: {
        SyncRecord& s = c.syncs[r.a];
        s.duration_ns = r.b;
        s.err = int(r.aux);
        s.end_seq = r.seq;
        break;
      }
      case RecordType::kUnpin: c.unpin_seq[r.aux] = r.seq; break;
      case RecordType::kPin: c.pin_seq[r.aux] = r.seq; break;
      case RecordType::kPunch:
        c.punches.push_back(r);
        st->punches_logged = true;
        if (r.aux == 0) ++st->punches;
        break;
      case RecordType::kCrash: st->crash_seq = st->crash_seq ? std::min(st->crash_seq, r.seq) : r.seq; break;
      default: break;
    }
  }
  return c;
}

// The syncs in start order, their errors counted, and the promise point: the start of the newest successful
// promising sync before the first failure. promise_cap: only syncs that started at or before it promise.
void ChoosePromisePoint(const std::unordered_map<uint64_t, SyncRecord>& syncs, uint64_t promise_cap,
                        ExpectedState* st) {
  // A sync that returned after the crash point promises nothing: in a real crash it would never have
  // returned. (Seen on ext4: an fsync in flight across FS_IOC_SHUTDOWN with NOLOGFLUSH returned 0 while the
  // journal commit it waited for was thrown away.)
  for (auto [id, s] : syncs) {
    if (st->crash_seq && s.end_seq > st->crash_seq && s.err == 0) {
      s.err = -1;
      ++st->syncs_after_crash;
    }
    st->syncs.push_back(s);
  }
  std::sort(st->syncs.begin(), st->syncs.end(),
            [](const auto& a, const auto& b) { return a.start_seq < b.start_seq; });

  uint64_t first_failure = UINT64_MAX;
  for (const auto& s : st->syncs) {
    if (s.err > 0) {
      st->sync_errors[std::string(SyncOpName(s.op)) + " " + std::string(ErrnoName(s.err))]++;
      first_failure = std::min(first_failure, s.start_seq);
    }
  }
  for (const auto& s : st->syncs) {
    // A sync whose start record was lost (start_seq 0) promises nothing. One after a gap in the sequence
    // numbers still promises what the log knows: a cut always leaves gaps (a killed run's lanes die with
    // their unpublished chunks, a quiet lane's oldest record among them), and what the gap hid is handled
    // where it matters: a write it hid shows as a generation above the log's (beyond_log, not judged), and a
    // hidden punch leaves the zeros of a run that punched unjudged (oracle.cc).
    if (s.err != 0 || !SyncOpPromises(s.op) || s.start_seq >= first_failure || s.start_seq > promise_cap ||
        s.start_seq == 0)
      continue;
    if (s.start_seq > st->promise_seq) {
      st->promise_seq = s.start_seq;
      st->promise_sync_id = s.id;
      st->promise_sync_op = SyncOpName(s.op);
    }
  }
}

// Per block, the sequence bounds of the punches over it (both empty when the run punched nothing).
struct PunchBounds {
  std::vector<uint64_t> stale_before;     // writes logged before this were destroyed by a promised punch
  std::vector<uint64_t> in_flight_until;  // writes that started before this may or may not have survived
};

// A punch logs a start record (aux 1) before its call and an end record (aux 0) after it returned. A write
// logged before the start was destroyed by it: once the punch is promised it must never reappear. A write in
// flight across the punch (logged after the start, or a DMA write through a pin taken before the end) may or
// may not have survived it: it promises nothing. An end without a start (older logs) starts where it ends; a
// start without an end never ended.
PunchBounds BoundPunches(std::vector<LogRecord> punches, const ExpectedState& st) {
  PunchBounds pb;
  if (punches.empty()) return pb;
  pb.stale_before.assign(st.block_count, 0);
  pb.in_flight_until.assign(st.block_count, 0);
  std::sort(punches.begin(), punches.end(), [](const auto& x, const auto& y) { return x.seq < y.seq; });
  std::map<std::pair<uint64_t, uint64_t>, uint64_t> open;  // (offset, bytes) -> start seq
  auto apply = [&](uint64_t offset, uint64_t bytes, uint64_t start, uint64_t end) {
    const uint64_t first = offset / st.block_size,
                   last = std::min(st.block_count, (offset + bytes) / st.block_size);
    for (uint64_t blk = first; blk < last; ++blk) {
      if (end < st.promise_seq) pb.stale_before[blk] = std::max(pb.stale_before[blk], start);
      pb.in_flight_until[blk] = std::max(pb.in_flight_until[blk], end);
    }
  };
  for (const LogRecord& r : punches) {
    if (r.aux == 1) {
      open[{r.a, r.b}] = r.seq;
      continue;
    }
    auto it = open.find({r.a, r.b});
    apply(r.a, r.b, it == open.end() ? r.seq : it->second, r.seq);
    if (it != open.end()) open.erase(it);
  }
  for (const auto& [range, start] : open) apply(range.first, range.second, start, UINT64_MAX);
  return pb;
}

// The two newest completed generations of a block and their pin epochs (ClassifyBlock's hint).
void NoteRecentWrite(const LogRecord& r, BlockExpectation* b) {
  if (r.b > b->recent_gens[0]) {
    b->recent_gens[1] = b->recent_gens[0];
    b->recent_epochs[1] = b->recent_epochs[0];
    b->recent_gens[0] = r.b;
    b->recent_epochs[0] = r.aux;
  } else if (r.b > b->recent_gens[1] && r.b != b->recent_gens[0]) {
    b->recent_gens[1] = r.b;
    b->recent_epochs[1] = r.aux;
  }
}

// A write before a punch of its block promises nothing: the block must read as zeros or a later write. Once
// the punch itself is promised (before the promise point), that write must never come back (stale_gen).
// True when the write promises nothing for either reason.
bool PunchedAway(const LogRecord& r, const ControlRecords& c, const PunchBounds& pb, BlockExpectation* b) {
  if (pb.in_flight_until.empty() || pb.in_flight_until[r.a] == 0) return false;
  if (r.seq < pb.stale_before[r.a]) {
    if (r.b > b->stale_gen) b->stale_gen = r.b;
    return true;
  }
  uint64_t started = r.seq;
  if (WriterKind(r.kind) == WriterKind::kDma)
    if (auto it = c.pin_seq.find(r.aux); it != c.pin_seq.end()) started = it->second;
  return started < pb.in_flight_until[r.a];
}

// Per block, generations rise with seq (one writer per block), so "the newest promised write" is the largest
// eligible generation below the promise point: no sort needed.
void ApplyWrites(const LogContents& log, const ControlRecords& c, const PunchBounds& pb, ExpectedState* st) {
  const uint64_t promise = st->promise_seq;
  for (const LogRecord& r : log.records) {
    if (r.type != RecordType::kWrite && r.type != RecordType::kWriteFailed) continue;
    if (r.a >= st->block_count) continue;
    BlockExpectation& b = st->blocks.Touch(r.a);
    if (r.b > b.max_issued) b.max_issued = r.b;
    if (r.seq > b.last_write_seq) {
      b.last_write_seq = r.seq;
      b.last_kind = WriterKind(r.kind);
    }
    if (r.type == RecordType::kWriteFailed) {
      ++st->writes_failed;
      continue;
    }
    ++st->writes_logged;
    NoteRecentWrite(r, &b);
    if (PunchedAway(r, c, pb, &b) || r.seq >= promise) continue;
    const WriterKind kind = WriterKind(r.kind);
    if (r.b > b.strict_gen) {
      b.strict_gen = r.b;
      b.strict_kind = kind;
    }
    // The kernel promises a DMA write only once its pin was released before the promise point.
    bool kernel_eligible = kind != WriterKind::kDma;
    if (!kernel_eligible) {
      auto it = c.unpin_seq.find(r.aux);
      kernel_eligible = it != c.unpin_seq.end() && it->second < promise;
    }
    if (kernel_eligible && r.b > b.kernel_gen) {
      b.kernel_gen = r.b;
      b.kernel_kind = kind;
    }
  }
}

// promise_cap: only syncs that started at or before it promise (UINT64_MAX: every sync in the log).
ExpectedState Build(const LogContents& log, uint64_t promise_cap) {
  ExpectedState st;
  st.run_id = log.header.run_id;
  st.block_size = log.header.block_size;
  st.block_count = log.header.block_count;
  st.log_complete = log.complete();
  st.known_below = log.known_below;
  st.blocks.Reset(st.block_count);
  ControlRecords control = GatherControlRecords(log, &st);
  ChoosePromisePoint(control.syncs, promise_cap, &st);
  // Punches are bounded once the promise point is known; the writes (the bulk of the log) come last.
  const PunchBounds punches = BoundPunches(std::move(control.punches), st);
  ApplyWrites(log, control, punches, &st);
  return st;
}

}  // namespace

ExpectedState BuildExpectedState(const LogContents& log) {
  return Build(log, UINT64_MAX);
}

ExpectedState BuildExpectedStateAt(const LogContents& log, uint64_t promise_seq) {
  return Build(log, promise_seq);
}

}  // namespace longpin
