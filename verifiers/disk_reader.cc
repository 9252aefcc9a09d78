#include "verifiers/disk_reader.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <thread>

namespace longpin {
namespace {
// 1 MiB per read: large enough for the device, small enough that the block classification that follows
// finds the data still in the CPU cache (with 8 MiB reads it missed on every block: 61% of verify time).
constexpr size_t kChunkBytes = 1u << 20;

struct AlignedFree {
  void operator()(std::byte* p) const { std::free(p); }
};
}  // namespace

Result<DiskImage> ReadAndClassify(const std::string& path, const StampPattern& pattern, uint64_t block_count,
                                  unsigned threads, const ExpectedState* expected) {
  DiskImage img;
  const size_t bs = pattern.block_size();
  int fd = ::open(path.c_str(), O_RDONLY | O_DIRECT | O_CLOEXEC);
  if (fd >= 0) {
    img.method = "O_DIRECT";
  } else {
    fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Status::FromErrno("open target for verification " + path);
    ::fdatasync(fd);  // fadvise cannot drop dirty pages; by now there should be none (writers are stopped)
    ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    img.method = "fadvise(DONTNEED)+read";
  }
  struct stat st {};
  ::fstat(fd, &st);
  const uint64_t total = block_count * bs;
  img.verdicts.resize(block_count);
  // More threads than CPUs: while one classifies, others wait on their reads.
  if (threads == 0) threads = std::clamp(2 * std::thread::hardware_concurrency(), 2u, 8u);
  const size_t chunk = std::max(kChunkBytes, bs);
  const uint64_t nchunks = (total + chunk - 1) / chunk;
  std::atomic<uint64_t> next{0}, bytes{0}, short_blocks{0};
  std::atomic<int> error{0};
  std::atomic<uint64_t> error_off{0};
  auto t0 = std::chrono::steady_clock::now();
  auto work = [&] {
    std::unique_ptr<std::byte, AlignedFree> buf(static_cast<std::byte*>(std::aligned_alloc(4096, chunk)));
    for (;;) {
      const uint64_t c = next.fetch_add(1);
      if (c >= nchunks || error.load()) return;
      const uint64_t off = c * chunk;
      const size_t want = size_t(std::min<uint64_t>(chunk, total - off));
      size_t got = 0;
      while (got < want) {
        ssize_t n = ::pread(fd, buf.get() + got, want - got, off_t(off + got));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
          error.store(errno);
          error_off.store(off + got);
          return;
        }
        if (n == 0) break;  // end of file: the rest of the blocks were never written
        got += size_t(n);
      }
      if (got < want) std::memset(buf.get() + got, 0, want - got);
      bytes.fetch_add(got);
      for (size_t o = 0; o < want; o += bs) {
        const uint64_t block = (off + o) / bs;
        if (off + o >= got + off) short_blocks.fetch_add(1);
        std::span<const uint32_t> epochs;
        uint64_t max_gen = 0;  // what the block may hold: the log's newest, and one in flight at a crash
        if (expected && block < expected->blocks.size()) {
          epochs = expected->blocks[block].recent_epochs;
          max_gen = expected->blocks[block].max_issued + 1;
        }
        img.verdicts[block] = ClassifyBlock(pattern, block, buf.get() + o, epochs, max_gen);
      }
    }
  };
  std::vector<std::thread> pool;
  for (unsigned i = 0; i < threads; ++i) pool.emplace_back(work);
  for (auto& t : pool) t.join();
  ::close(fd);
  img.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  img.bytes_read = bytes.load();
  img.short_blocks = short_blocks.load();
  if (int e = error.load())
    return Status(e, "read " + path + " at offset " + std::to_string(error_off.load()) + " for verification");
  return img;
}

}  // namespace longpin
