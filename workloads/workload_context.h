// WorkloadContext: what the threads of one run share. Set up by the run before any thread starts;
// during a phase only the atomics and each writer's own blocks change.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "core/block_stamp.h"
#include "core/expected_log.h"
#include "core/hang_watchdog.h"
#include "workloads/run_config.h"

namespace longpin {

struct WorkloadContext {
  const RunConfig* config = nullptr;
  uint64_t run_id = 0;
  std::unique_ptr<StampPattern> pattern;
  std::byte* map = nullptr;  // the shared mapping of the target
  size_t map_length = 0;
  int fd = -1;  // the target file, O_RDWR
  uint64_t block_count = 0;
  int writer_total = 1;  // block b belongs to writer b % writer_total
  // Generation per block. Only the owning writer touches an entry, so plain integers suffice.
  std::vector<uint64_t> generations;
  ExpectedLog* log = nullptr;
  HangWatchdog* watchdog = nullptr;
  std::atomic<bool> phase_stop{false};
  std::atomic<uint64_t> next_sync_id{1};
  std::atomic<uint32_t> next_pin_epoch{1};
  uint32_t phase_index = 0;
  // Odd while a scenario has cut the file's tail away (truncate-under-pin, between its ftruncate down and
  // back up), bumped on both edges: a write into the mapping that faulted with EFAULT while it was odd, or
  // across a change, hit the hole the scenario made, which is the kernel being right, not an IO error.
  std::atomic<uint64_t> truncate_epoch{0};
  // Called by the syncer thread after each successful promising sync, before its next sync (log-writes
  // puts a mark in the device's log here). Must be thread-safe when there are several syncers.
  std::function<void(uint64_t sync_id)> on_sync_success;

  size_t block_size() const { return pattern->block_size(); }
  // The i-th block owned by writer w (i counts from 0); block_count when past the end.
  uint64_t OwnedBlock(int w, uint64_t i) const {
    const uint64_t b = i * uint64_t(writer_total) + uint64_t(w);
    return b < block_count ? b : block_count;
  }
  uint64_t OwnedCount(int w) const {
    return block_count / uint64_t(writer_total) +
           (uint64_t(w) < block_count % uint64_t(writer_total) ? 1 : 0);
  }
};

}  // namespace longpin
