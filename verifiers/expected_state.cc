#include "verifiers/expected_state.h"

#include <algorithm>
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

bool SyncOpPromises(SyncOpKind op) { return op != SyncOpKind::kSyncFileRange; }

ExpectedState BuildExpectedState(const LogContents& log) {
  ExpectedState st;
  st.run_id = log.header.run_id;
  st.block_size = log.header.block_size;
  st.block_count = log.header.block_count;
  st.log_complete = log.clean_end;
  st.blocks.resize(st.block_count);

  // Pass 1: syncs, pins, crash point (few records; the writes are the bulk).
  std::unordered_map<uint64_t, SyncRecord> syncs;
  std::unordered_map<uint32_t, uint64_t> unpin_seq;  // pin epoch -> seq of its unpin
  std::vector<uint64_t> punched_at;                   // per block: seq of the newest punch (0 = never)
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
        break;
      }
      case RecordType::kUnpin: unpin_seq[r.aux] = r.seq; break;
      case RecordType::kPunch: {
        if (punched_at.empty()) punched_at.assign(st.block_count, 0);
        const uint64_t first = r.a / st.block_size, end = std::min(st.block_count, (r.a + r.b) / st.block_size);
        for (uint64_t b = first; b < end; ++b) punched_at[b] = std::max(punched_at[b], r.seq);
        ++st.punches;
        break;
      }
      case RecordType::kCrash: st.crash_seq = st.crash_seq ? std::min(st.crash_seq, r.seq) : r.seq; break;
      default: break;
    }
  }
  for (auto& [id, s] : syncs) st.syncs.push_back(s);
  std::sort(st.syncs.begin(), st.syncs.end(), [](const auto& a, const auto& b) { return a.start_seq < b.start_seq; });

  uint64_t first_failure = UINT64_MAX;
  for (const auto& s : st.syncs) {
    if (s.err > 0) {
      st.sync_errors[std::string(SyncOpName(s.op)) + " " + std::string(ErrnoName(s.err))]++;
      first_failure = std::min(first_failure, s.start_seq);
    }
  }
  for (const auto& s : st.syncs) {
    if (s.err != 0 || !SyncOpPromises(s.op) || s.start_seq >= first_failure) continue;
    if (s.start_seq > st.promise_seq) {
      st.promise_seq = s.start_seq;
      st.promise_sync_id = s.id;
      st.promise_sync_op = SyncOpName(s.op);
    }
  }

  // Pass 2: writes. Per block, generations rise with seq (one writer per block), so "the newest promised
  // write" is the largest eligible generation below the promise point: no sort needed.
  const uint64_t S = st.promise_seq;
  for (const LogRecord& r : log.records) {
    if (r.type != RecordType::kWrite && r.type != RecordType::kWriteFailed) continue;
    if (r.a >= st.block_count) continue;
    BlockExpectation& b = st.blocks[r.a];
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
    // A write before a punch of its block promises nothing: the block must read as zeros or a later write.
    // Once the punch itself is promised (before the promise point), that write must never come back.
    if (!punched_at.empty() && punched_at[r.a] > r.seq) {
      if (punched_at[r.a] < S && r.b > b.stale_gen) b.stale_gen = r.b;
      continue;
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

}  // namespace longpin
