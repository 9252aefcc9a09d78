// ExpectedState: what the expected log promises about each block, under both contracts.
//
// The promise point of a block is the start of the last successful promising sync (fsync, fdatasync, msync,
// syncfs; sync_file_range promises nothing: it neither flushes metadata nor the device cache). A write is
// promised when it completed before that start:
//   kernel contract: CPU stores and fd writes; DMA writes only when their pin was released before it.
//   strict contract: every write, DMA included (what applications assume).
// After a sync fails, later successes promise nothing about earlier writes: Linux reports a writeback error
// once and may have dropped the pages, so the promise point stops at the last success before the first
// failure. This makes the check weaker after an error, never wrong.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/block_stamp.h"
#include "core/expected_log.h"

namespace longpin {

enum class SyncOpKind : uint8_t { kFsync = 1, kFdatasync, kMsync, kSyncFileRange, kSyncfs };
const char* SyncOpName(SyncOpKind op);
// The op of a name SyncOpName gives; nullopt for any other.
std::optional<SyncOpKind> ParseSyncOpName(const std::string& name);
bool SyncOpPromises(SyncOpKind op);

struct SyncRecord {
  uint64_t id = 0;
  SyncOpKind op = SyncOpKind::kFsync;
  uint64_t start_seq = 0;
  uint64_t start_ns = 0;
  uint64_t duration_ns = 0;
  int err = -1;  // -1: never finished (crash or cut while in flight), or finished after the crash point
  uint64_t end_seq = 0;
  uint16_t syncer = 0;
  uint32_t phase = 0;
};

struct BlockExpectation {
  uint64_t max_issued = 0;      // newest generation logged (completed or failed)
  uint64_t last_write_seq = 0;  // seq of the newest logged write to the block
  uint64_t kernel_gen = 0;      // promised generation, kernel contract (0 = nothing promised)
  uint64_t strict_gen = 0;      // promised generation, strict contract
  WriterKind kernel_kind = WriterKind::kNone;
  WriterKind strict_kind = WriterKind::kNone;
  WriterKind last_kind = WriterKind::kNone;
  uint64_t stale_gen = 0;  // newest generation written before a promised punch: must never reappear
  // Pin epochs of the two newest completed writes (highest generations first; 0 for CPU and pwrite writes):
  // the hint ClassifyBlock needs to recognise a copy that cut a DMA write's header store.
  uint64_t recent_gens[2] = {0, 0};
  uint32_t recent_epochs[2] = {0, 0};
};

// The expectations of every block of the target, stored only for the blocks the log touched: a block no
// record names expects nothing (an all-zero entry). Two levels, so that memory follows the blocks written and
// not the target's size, and a lookup stays O(1) for the verifier's threads: one slot per chunk of 4096
// blocks, and for each touched chunk an index (4 bytes per block of the chunk) into the entries of the
// touched blocks. A 1 TiB target with 1 GiB written in 1 MiB extents holds about 0.08 bytes per block; a
// target written all over, 4 bytes per block more than one dense array.
class BlockExpectations {
 public:
  static constexpr unsigned kChunkBits = 12;
  static constexpr uint64_t kChunkBlocks = uint64_t{1} << kChunkBits;

  void Reset(uint64_t block_count);
  uint64_t size() const { return block_count_; }
  // Read-only and safe from several threads; b < size().
  const BlockExpectation& operator[](uint64_t b) const {
    const std::vector<uint32_t>& chunk = chunks_[b >> kChunkBits];
    if (chunk.empty()) return kUntouched;
    const uint32_t i = chunk[b & (kChunkBlocks - 1)];
    return i ? entries_[i - 1] : kUntouched;
  }
  // Building only: the entry of block b, created (all zero) on first use.
  BlockExpectation& Touch(uint64_t b);
  uint64_t touched() const { return entries_.size(); }
  uint64_t memory_bytes() const;  // what the table holds, allocation overhead aside

 private:
  static const BlockExpectation kUntouched;
  uint64_t block_count_ = 0;
  std::vector<std::vector<uint32_t>> chunks_;  // empty: no block of the chunk touched
  std::vector<BlockExpectation> entries_;
};

struct ExpectedState {
  uint64_t run_id = 0;
  uint64_t block_size = 0;
  uint64_t block_count = 0;
  bool log_complete = false;    // an end record and no sequence number missing: every record is in it
  uint64_t known_below = 0;     // every record numbered below this is known (LogContents::known_below)
  bool punches_logged = false;  // the run punched holes: a cut log may have lost a punch, too
  uint64_t promise_seq = 0;     // start seq of the promising sync (0 = none)
  uint64_t promise_sync_id = 0;
  std::string promise_sync_op;
  uint64_t crash_seq = 0;  // crash record's seq, 0 = no crash
  BlockExpectations blocks;
  std::vector<SyncRecord> syncs;                // by id order
  std::map<std::string, uint64_t> sync_errors;  // "fsync EIO" -> count
  uint64_t writes_logged = 0;
  uint64_t writes_failed = 0;
  uint64_t punches = 0;
  uint64_t syncs_after_crash = 0;  // syncs that returned success only after the crash point (not promises)
};

ExpectedState BuildExpectedState(const LogContents& log);
// The state a crash at a given point may leave: only syncs that started at or before promise_seq promise
// (the same rules otherwise; 0 = nothing promised). Used at each dm-log-writes mark.
ExpectedState BuildExpectedStateAt(const LogContents& log, uint64_t promise_seq);

}  // namespace longpin
