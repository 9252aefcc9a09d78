// The oracle of a race attempt: what the attempt's writes and syncs promise of its window, and each block
// read back judged against the kernel contract (a CPU store, or a DMA write once its pin was released, before
// a sync that returned 0) and the strict one (every write completed before such a sync).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "core/block_stamp.h"
#include "report/run_report.h"

namespace longpin::race {

// One write of an attempt (every write covers the whole window) and one sync.
struct AttemptWrite {
  uint64_t generation = 0;
  WriterKind kind = WriterKind::kNone;
  int done_step = -1;      // the step index at which it completed
  int released_step = -1;  // the step at which the kernel contract starts to count it (-1: never released)
};
struct AttemptSync {
  int step = 0;
  int number = 0;
  int err = 0;
  bool promises = false;
  std::string op;
};

// The bound a contract sets over the attempt's writes: the newest generation whose write counted (released
// for the kernel contract, completed for the strict one) before a sync that returned 0 started.
struct Bound {
  uint64_t generation = 0;
  const AttemptWrite* write = nullptr;
  const AttemptSync* sync = nullptr;
};
Bound BoundOf(const std::vector<AttemptWrite>& writes, const std::vector<AttemptSync>& syncs, bool strict);

// What a verify step read: the window's blocks as they are on disk.
struct WindowReadback {
  uint64_t attempt = 0;  // 1-based, as in the report's examples
  uint64_t first_block = 0;
  uint64_t blocks = 0;
  uint64_t block_size = 0;
  const std::byte* data = nullptr;
};

// Judges every block of the window; counts violations, strict misses and examples into `race`. True when a
// block broke either contract.
bool JudgeWindow(const StampPattern& pattern, const WindowReadback& window,
                 const std::vector<AttemptWrite>& writes, const std::vector<AttemptSync>& syncs,
                 RaceReport& race);

}  // namespace longpin::race
