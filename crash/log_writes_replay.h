// The log-writes crash model's second half: read a dm-log-writes log, replay it onto an image of the data
// device, and at every mark check the crash state the log describes there.
//
// On-disk format (Documentation/admin-guide/device-mapper/log-writes.rst, drivers/md/dm-log-writes.c),
// little-endian: a super block at byte 0 {u64 magic 0x6a736677736872, u64 version 1, u64 nr_entries,
// u32 sectorsize}; from byte `sectorsize` on, nr_entries entries, each one sector holding {u64 sector,
// u64 nr_sectors, u64 flags, u64 data_len} (sector and nr_sectors in units of sectorsize) followed, for a
// write, by its nr_sectors sectors of data (none for a discard or a mark; a mark's label is the data_len
// bytes right after the entry header, inside the entry's sector). Writes are logged in the order they became
// durable (a plain write when the next flush completed, a FUA write when it completed), so replaying up to
// a mark gives exactly what the disk held, at the least, when the mark was placed.
//
// Why a copy per mark: a crash state is what the filesystem finds at its next mount, and that mount
// replays its journal (XFS log recovery, ext4 jbd2). A read-only, no-recovery mount would look at a state
// no real system ever shows to applications; recovery needs a writable device, and it must not change the
// replay image that the next mark builds on. So each mark is checked on a snapshot copy (FICLONE where the
// filesystem can, else a copy of the image's data extents), mounted with recovery, read, and thrown away.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/block_stamp.h"
#include "core/expected_log.h"
#include "core/scratch_fs.h"
#include "core/status.h"
#include "verifiers/expected_state.h"
#include "verifiers/oracle.h"

namespace longpin {

inline constexpr uint64_t kLogWritesMagic = 0x6a736677736872ULL;
inline constexpr uint64_t kLogWritesFlush = 1 << 0, kLogWritesFua = 1 << 1, kLogWritesDiscard = 1 << 2,
                          kLogWritesMark = 1 << 3, kLogWritesMetadata = 1 << 4;
// The mark the target's destructor logs last: a log that ends with it is complete.
inline constexpr const char* kLogWritesEndMark = "dm-log-writes-end";

struct LogWritesEntry {
  uint64_t index = 0;
  uint64_t sector = 0;  // in units of the log's sector size
  uint64_t nr_sectors = 0;
  uint64_t flags = 0;
  uint64_t data_offset = 0;  // byte offset of the written data in the log
  std::string mark;          // the label of a mark entry
};

struct LogWritesIndex {
  uint32_t sector_size = 0;
  uint64_t nr_entries = 0;  // as the super block says
  std::vector<LogWritesEntry> entries;
  bool complete = false;  // ends with the target's end mark (nothing was lost to a full log device)
};

// Reads the super block and every entry header (not the data). A log that is shorter than its super block
// says, or whose entry runs past its end, is an error naming the entry.
Result<LogWritesIndex> IndexLogWrites(const std::string& log_path);

// Applies entries [from, to) of the log to the image (writes: pwrite; discards: punch a hole, zeros).
Status ApplyLogWrites(int log_fd, const LogWritesIndex& index, size_t from, size_t to, int image_fd);

// One checked crash state.
struct CrashStateCheck {
  std::string mark;      // the label
  uint64_t entry = 0;    // the mark's index in the log
  uint64_t sync_id = 0;  // the sync that placed it
  uint64_t promise_sync_id = 0;
  uint64_t promise_seq = 0;  // start seq of the newest sync marked so far
  std::string error;         // could not be checked (snapshot, mount, read); "" = checked
  Verification verification;
  double seconds = 0;    // snapshot + mount (recovery) + read + judge + unmount
  bool planted = false;  // the self-test planted faults in this state
  std::string evidence;  // the blocks of the first kernel violations, saved raw (paths, space-separated)
};

struct LogWritesCheck {
  uint64_t entries = 0, writes = 0, discards = 0, flushes = 0, fua = 0, marks = 0;
  uint64_t bytes_replayed = 0;
  bool log_complete = false;
  std::vector<CrashStateCheck> states;  // one per mark with the sync prefix, in log order
  uint64_t kernel_violations = 0;       // summed over states
  uint64_t strict_misses = 0;
  double seconds = 0;  // the whole replay and check
  double states_per_second = 0;
};

// What the self-test does to one replayed state (the last one) before it is read: plant faults into
// fs.image_path() with the filesystem unmounted, mount it again.
using PlantInState =
    std::function<Status(ScratchFs& fs, const std::string& target_path, const ExpectedState& expected)>;

struct LogWritesCheckConfig {
  std::string log_image;    // the log device's backing file
  uint64_t data_bytes = 0;  // size of the data device; the replay starts from zeros of this size
  std::string work_dir;     // replay image, snapshots and the mount point go here
  FsType fs = FsType::kXfs;
  std::string mount_options;
  std::string target_name;  // the target's path relative to the filesystem's root
  std::string mark_prefix;  // marks whose label is PREFIX<sync id> are crash states to check
  const LogContents* log = nullptr;
  const StampPattern* pattern = nullptr;
  uint64_t block_count = 0;
  PlantInState plant;  // empty: no planting
};

// Replays the log once, front to back; at each sync mark checks the state against the lower bound of the
// syncs marked up to there. Errors of single states are recorded in them; a Status error means the log
// could not be read or replayed at all.
Result<LogWritesCheck> CheckLogWritesStates(const LogWritesCheckConfig& cfg);

}  // namespace longpin
