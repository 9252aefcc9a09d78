// Reads the target as it is on disk, never the page cache, and classifies every block.
//
// O_DIRECT reads are the default: they bypass cached pages that a kernel thinks clean but that differ from
// the disk (the losses this tool exists to find). Where O_DIRECT is refused (some filesystems), the cached
// pages are dropped with POSIX_FADV_DONTNEED first and the method is reported, because a page the kernel
// still holds dirty cannot be dropped that way.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/block_stamp.h"
#include "core/status.h"
#include "verifiers/expected_state.h"

namespace longpin {

struct DiskImage {
  std::vector<BlockVerdict> verdicts;  // one per block
  std::string method;                  // "O_DIRECT" or "fadvise(DONTNEED)+read"
  uint64_t bytes_read = 0;
  double seconds = 0;
  uint64_t short_blocks = 0;  // blocks past end of file (read as zero)
};

// threads = 0: two per online CPU (between 2 and 8), so that one thread's read is in flight while another
// classifies.
// expected: the expected state of the run, when known: its per-block pin epochs help ClassifyBlock tell a cut
// header store of a DMA write from damage.
Result<DiskImage> ReadAndClassify(const std::string& path, const StampPattern& pattern, uint64_t block_count,
                                  unsigned threads = 0, const ExpectedState* expected = nullptr);

}  // namespace longpin
