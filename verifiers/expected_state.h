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
#include <optional>
#include <map>
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
  uint64_t stale_gen = 0;       // newest generation written before a promised punch: must never reappear
  // Pin epochs of the two newest completed writes (highest generations first; 0 for CPU and pwrite writes):
  // the hint ClassifyBlock needs to recognise a copy that cut a DMA write's header store.
  uint64_t recent_gens[2] = {0, 0};
  uint32_t recent_epochs[2] = {0, 0};
};

struct ExpectedState {
  uint64_t run_id = 0;
  uint64_t block_size = 0;
  uint64_t block_count = 0;
  bool log_complete = false;       // an end record and no sequence number missing: every record is in it
  uint64_t known_below = 0;        // every record numbered below this is known (LogContents::known_below)
  bool punches_logged = false;     // the run punched holes: a cut log may have lost a punch, too
  uint64_t promise_seq = 0;        // start seq of the promising sync (0 = none)
  uint64_t promise_sync_id = 0;
  std::string promise_sync_op;
  uint64_t crash_seq = 0;          // crash record's seq, 0 = no crash
  std::vector<BlockExpectation> blocks;
  std::vector<SyncRecord> syncs;   // by id order
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
