// Reclaim of a race window: the three ways a reclaim step takes the window's pages (MADV_PAGEOUT, a memory
// cgroup's memory.reclaim, POSIX_FADV_DONTNEED) and how many pages it took out of the page tables.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "workloads/race_script.h"

namespace longpin::race {

// A memory cgroup of longpin's own (cgroup v2) that this process moves into, so that the target's pages are
// charged to it and memory.reclaim takes them. The process moves back and the cgroup is removed by the
// destructor (and by `longpin cleanup` after a SIGKILL); the memory controller is enabled in the root's
// subtree_control only when it was not, and disabled again afterwards.
class RaceCgroup {
 public:
  ~RaceCgroup() { Remove(); }

  // nullopt when the process is in the new cgroup; otherwise why not (a skip).
  std::optional<std::string> Create();
  // Reclaims up to what the cgroup holds; 0 or an errno. EAGAIN (less was reclaimable) is the usual answer
  // with pins around.
  int Reclaim();
  const std::string& dir() const { return dir_; }
  void Remove();

 private:
  std::string dir_, origin_;
  bool moved_ = false, enabled_controller_ = false;
};

// Whether this kernel has MADV_PAGEOUT (5.4+).
bool PageoutSupported();

// Pages of [addr, addr+len) present in this process's page tables (/proc/self/pagemap bit 63): reclaim that
// unmaps a page takes it out, whether or not a pin keeps it in memory. -1 when pagemap cannot be read.
int64_t PresentPages(const std::byte* addr, size_t len, size_t page);

// Reclaims [offset, offset+len) of the target (mapped at map, open as fd) by `method`: 0 or an errno.
// The cgroup method needs `cgroup`.
int ReclaimWindow(ReclaimMethod method, std::byte* map, int fd, uint64_t offset, uint64_t len,
                  RaceCgroup* cgroup);

// How `method` reclaims, for the report (race.reclaim_detail).
std::string ReclaimDetail(ReclaimMethod method, const RaceCgroup* cgroup);

}  // namespace longpin::race
