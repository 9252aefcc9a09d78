// Verification throughput: verifiers/disk_reader.h ReadAndClassify over a target of stamped blocks (O_DIRECT
// reads plus ClassifyBlock of every block), and plain O_DIRECT reads of the same file with the same 8 MiB
// requests, for reference. bench/verify_vs_dd.sh makes a scratch ext4, stamps the target with
// `verify_bench --target=F --stamp`, runs this program on it and dd/fio right after, and prints the ratios.
//
//   verify_bench --target=FILE [--size=256M] [--block-size=4096] [--stamp] [benchmark flags]
// --stamp: write every block of FILE (StampBlock + pwrite, then fsync) and exit. Without it, FILE must hold
// exactly that (same size, block size and the fixed run id below); a block that is not intact is an error.
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "core/block_stamp.h"
#include "core/units.h"
#include "verifiers/disk_reader.h"

namespace longpin {
namespace {

constexpr uint64_t kRunId = 0xbe4c4b3e11c3a5e5ULL;
constexpr size_t kReadChunk = 8u << 20;  // the reader's request size, and dd's/fio's bs in the script

std::string g_target;
uint64_t g_size = 256u << 20;
size_t g_block_size = 4096;

struct FreeDeleter {
  void operator()(std::byte* p) const { std::free(p); }
};

int Stamp() {
  const StampPattern pattern(kRunId, g_block_size);
  const int fd = ::open(g_target.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    std::fprintf(stderr, "open %s for stamping: %s\n", g_target.c_str(), std::strerror(errno));
    return 1;
  }
  std::unique_ptr<std::byte, FreeDeleter> buf(static_cast<std::byte*>(std::aligned_alloc(4096, kReadChunk)));
  for (uint64_t off = 0; off < g_size; off += kReadChunk) {
    const size_t len = size_t(std::min<uint64_t>(kReadChunk, g_size - off));
    for (size_t o = 0; o < len; o += g_block_size)
      StampBlock(pattern, StampId{kRunId, (off + o) / g_block_size, 1, WriterKind::kPwrite, 0, 0},
                 buf.get() + o);
    for (size_t done = 0; done < len;) {
      const ssize_t n = ::pwrite(fd, buf.get() + done, len - done, off_t(off + done));
      if (n <= 0) {
        std::fprintf(stderr, "pwrite %s at %llu: %s\n", g_target.c_str(), (unsigned long long)(off + done),
                     std::strerror(n < 0 ? errno : EIO));
        ::close(fd);
        return 1;
      }
      done += size_t(n);
    }
  }
  if (::fsync(fd) != 0) {
    std::fprintf(stderr, "fsync %s: %s\n", g_target.c_str(), std::strerror(errno));
    ::close(fd);
    return 1;
  }
  ::close(fd);
  return 0;
}

// Arg: reader threads (0 = ReadAndClassify's own choice: two per CPU, between 2 and 8).
void BM_ReadAndClassify(benchmark::State& state) {
  const StampPattern pattern(kRunId, g_block_size);
  const uint64_t blocks = g_size / g_block_size;
  for (auto _ : state) {
    auto img = ReadAndClassify(g_target, pattern, blocks, unsigned(state.range(0)));
    if (!img.ok()) {
      state.SkipWithError(img.status().message().c_str());
      return;
    }
    const auto bad = std::count_if(img->verdicts.begin(), img->verdicts.end(),
                                   [](const BlockVerdict& v) { return v.cls != BlockClass::kIntact; });
    if (bad != 0 || img->method != "O_DIRECT") {
      state.SkipWithError(("not all blocks intact or not O_DIRECT (" + img->method + ")").c_str());
      return;
    }
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(g_size));
}
BENCHMARK(BM_ReadAndClassify)
    ->ArgName("threads")
    ->Arg(1)
    ->Arg(2)
    ->Arg(0)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

// The same file read with the same requests and threads, without classifying: the reader's ceiling.
void BM_ODirectRead(benchmark::State& state) {
  const unsigned threads = unsigned(state.range(0));
  const uint64_t chunks = (g_size + kReadChunk - 1) / kReadChunk;
  for (auto _ : state) {
    const int fd = ::open(g_target.c_str(), O_RDONLY | O_DIRECT | O_CLOEXEC);
    if (fd < 0) {
      state.SkipWithError("open O_DIRECT failed");
      return;
    }
    std::atomic<uint64_t> next{0};
    std::atomic<bool> failed{false};
    auto work = [&] {
      std::unique_ptr<std::byte, FreeDeleter> buf(
          static_cast<std::byte*>(std::aligned_alloc(4096, kReadChunk)));
      for (uint64_t c; (c = next.fetch_add(1)) < chunks;) {
        const uint64_t off = c * kReadChunk;
        const size_t len = size_t(std::min<uint64_t>(kReadChunk, g_size - off));
        if (::pread(fd, buf.get(), len, off_t(off)) != ssize_t(len)) failed = true;
      }
    };
    std::vector<std::thread> pool;
    for (unsigned i = 0; i < threads; ++i) pool.emplace_back(work);
    for (auto& t : pool) t.join();
    ::close(fd);
    if (failed) {
      state.SkipWithError("short or failed O_DIRECT read");
      return;
    }
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(g_size));
}
BENCHMARK(BM_ODirectRead)->ArgName("threads")->Arg(1)->Arg(2)->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace longpin

int main(int argc, char** argv) {
  using namespace longpin;
  benchmark::Initialize(&argc, argv);
  bool stamp = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    uint64_t v = 0;
    if (arg.rfind("--target=", 0) == 0) {
      g_target = arg.substr(9);
    } else if (arg.rfind("--size=", 0) == 0 && (v = ParseSize(arg.substr(7)).value_or(0)) != 0 && v > 0) {
      g_size = v;
    } else if (arg.rfind("--block-size=", 0) == 0 && (v = ParseSize(arg.substr(13)).value_or(0)) != 0 &&
               v >= kMinBlockSize && v <= kMaxBlockSize && (v & (v - 1)) == 0) {
      g_block_size = size_t(v);
    } else if (arg == "--stamp") {
      stamp = true;
    } else {
      std::fprintf(stderr, "verify_bench: bad argument %s\n", argv[i]);
      return 2;
    }
  }
  if (g_target.empty() || g_size % g_block_size != 0 || g_size % 4096 != 0) {
    std::fprintf(stderr,
                 "verify_bench: needs --target=FILE, and --size a multiple of the block size and of 4 KiB "
                 "(bench/verify_vs_dd.sh runs it on a scratch ext4)\n");
    return 2;
  }
  if (stamp) return Stamp();
  struct stat st {};
  if (::stat(g_target.c_str(), &st) != 0 || uint64_t(st.st_size) != g_size) {
    std::fprintf(stderr, "verify_bench: %s is not a stamped target of %llu bytes (run with --stamp first)\n",
                 g_target.c_str(), (unsigned long long)g_size);
    return 2;
  }
  benchmark::AddCustomContext("target", g_target);
  benchmark::AddCustomContext("target_bytes", std::to_string(g_size));
  benchmark::AddCustomContext("block_size", std::to_string(g_block_size));
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
