// Pin accounting from /proc/vmstat: nr_foll_pin_acquired / nr_foll_pin_released (pages, per-cpu batched).
// As root, /proc/sys/vm/stat_refresh is written first, or the per-cpu deltas hide small counts.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace longpin {

struct PinCounterSnapshot {
  bool available = false;
  bool refreshed = false;  // stat_refresh was written (root); without it small deltas may stay hidden
  uint64_t acquired = 0;
  uint64_t released = 0;
};

PinCounterSnapshot ReadPinCounters();

// Dirty and writeback page counts from /proc/vmstat (nr_dirty, nr_writeback), for the over-time charts.
struct DirtySnapshot {
  uint64_t dirty = 0;
  uint64_t writeback = 0;
};
DirtySnapshot ReadDirtyCounters();

}  // namespace longpin
