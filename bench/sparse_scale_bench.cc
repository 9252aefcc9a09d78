// Scale: a sparse target of 1 TiB with 1 GiB written in it, in 1 MiB extents at seeded offsets. Measures what
// the expected state costs (build time, peak RSS over the build per block of the target, the table's own
// bytes per block), what verifying the written blocks costs against a sequential O_DIRECT read of the same
// extents, and what longpin's whole-target reader (ReadAndClassify: every block, holes included) costs per
// GiB of target, for the extrapolation to 1 TiB.
//
//   sparse_scale_bench --dir=DIR [--size=1T] [--written=1G] [--block-size=4096] [benchmark flags]
// DIR must be a filesystem with O_DIRECT and sparse files (ext4, xfs); the target is created there and
// removed at exit. BENCHMARKS.md has the command and the numbers.
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "core/block_stamp.h"
#include "core/expected_log.h"
#include "core/units.h"
#include "verifiers/disk_reader.h"
#include "verifiers/expected_state.h"

namespace longpin {
namespace {

constexpr uint64_t kRunId = 0x5ca1ab1e5ca1ab1eULL;
constexpr uint64_t kExtent = 1u << 20;
constexpr int kWriters = 3;

std::string g_path;
uint64_t g_size = uint64_t{1} << 40;
uint64_t g_written = uint64_t{1} << 30;
size_t g_block_size = 4096;
std::vector<uint64_t> g_extents;  // offsets, ascending

struct FreeDeleter {
  void operator()(std::byte* p) const { std::free(p); }
};
using AlignedBuffer = std::unique_ptr<std::byte, FreeDeleter>;
AlignedBuffer Aligned(size_t bytes) {
  return AlignedBuffer(static_cast<std::byte*>(std::aligned_alloc(4096, bytes)));
}

uint64_t SplitMix(uint64_t& x) {
  uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

uint64_t StatusKib(const char* key) {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind(key, 0) == 0) return std::strtoull(line.c_str() + std::strlen(key), nullptr, 10);
  return 0;
}

// Peak RSS restarts from the current RSS (proc(5), clear_refs 5), so a benchmark sees its own peak.
void ResetPeakRss() {
  std::ofstream f("/proc/self/clear_refs");
  f << "5";
}

// The log of the run that wrote the target: every written block once (generation 1, from one of 3 writers in
// turn), then a successful fsync that promises them all, then a clean end.
LogContents MakeLog() {
  LogContents log;
  log.header.run_id = kRunId;
  log.header.block_size = g_block_size;
  log.header.block_count = g_size / g_block_size;
  log.header.version = kLogVersion;
  log.header.record_size = sizeof(LogRecord);
  uint64_t seq = 1;
  const uint64_t per_extent = kExtent / g_block_size;
  log.records.reserve(g_extents.size() * per_extent + 3);
  for (uint64_t off : g_extents)
    for (uint64_t i = 0; i < per_extent; ++i) {
      const uint64_t b = off / g_block_size + i;
      log.records.push_back(
          {seq++, RecordType::kWrite, uint8_t(WriterKind::kPwrite), uint16_t(b % kWriters), 0, b, 1});
    }
  log.records.push_back({seq++, RecordType::kSyncStart, uint8_t(SyncOpKind::kFsync), 0, 0, 1, 0});
  log.records.push_back({seq++, RecordType::kSyncEnd, uint8_t(SyncOpKind::kFsync), 0, 0, 1, 1000});
  log.records.push_back({seq++, RecordType::kEnd, 0, 0, 0, 0, 0});
  log.clean_end = true;
  log.max_seq = seq - 1;
  return log;
}

int MakeTarget() {
  uint64_t x = 0x1ee7;
  std::set<uint64_t> chosen;
  const uint64_t slots = g_size / kExtent;
  while (chosen.size() < g_written / kExtent) chosen.insert(SplitMix(x) % slots * kExtent);
  g_extents.assign(chosen.begin(), chosen.end());
  const int fd = ::open(g_path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0 || ::ftruncate(fd, off_t(g_size)) != 0) {
    std::fprintf(stderr, "sparse_scale_bench: create %s of %llu bytes: %s\n", g_path.c_str(),
                 (unsigned long long)g_size, std::strerror(errno));
    return 1;
  }
  const StampPattern pattern(kRunId, g_block_size);
  AlignedBuffer buf = Aligned(kExtent);
  for (uint64_t off : g_extents) {
    for (uint64_t o = 0; o < kExtent; o += g_block_size) {
      const uint64_t b = (off + o) / g_block_size;
      StampBlock(pattern, StampId{kRunId, b, 1, WriterKind::kPwrite, uint32_t(b % kWriters), 0},
                 buf.get() + o);
    }
    if (::pwrite(fd, buf.get(), kExtent, off_t(off)) != ssize_t(kExtent)) {
      std::fprintf(stderr, "sparse_scale_bench: pwrite %s: %s\n", g_path.c_str(), std::strerror(errno));
      return 1;
    }
  }
  if (::fsync(fd) != 0) return 1;
  ::close(fd);
  return 0;
}

void BM_BuildExpectedState(benchmark::State& state) {
  const LogContents log = MakeLog();
  const uint64_t blocks = g_size / g_block_size;
  uint64_t peak_kib = 0, table_bytes = 0;
  for (auto _ : state) {
    ResetPeakRss();
    const uint64_t before_kib = StatusKib("VmRSS:");
    ExpectedState st = BuildExpectedState(log);
    peak_kib = std::max(peak_kib, StatusKib("VmHWM:") - before_kib);
    table_bytes = st.blocks.memory_bytes();
    if (st.blocks.touched() != g_written / g_block_size || st.writes_logged != g_written / g_block_size) {
      state.SkipWithError("the state does not hold every written block");
      return;
    }
    benchmark::DoNotOptimize(st);
  }
  state.counters["target_blocks"] = double(blocks);
  state.counters["peak_rss_MiB"] = double(peak_kib) / 1024;
  state.counters["peak_rss_B_per_block"] = double(peak_kib) * 1024 / double(blocks);
  state.counters["table_B_per_block"] = double(table_bytes) / double(blocks);
  state.counters["table_B_per_written_block"] = double(table_bytes) / double(g_written / g_block_size);
}
BENCHMARK(BM_BuildExpectedState)->Unit(benchmark::kMillisecond)->Iterations(3);

// Verification of the written blocks: the data extents found with SEEK_DATA/SEEK_HOLE, read with O_DIRECT in
// 1 MiB requests, every block classified and checked against the expected state.
void BM_VerifyWrittenExtents(benchmark::State& state) {
  const ExpectedState st = BuildExpectedState(MakeLog());
  const StampPattern pattern(kRunId, g_block_size);
  AlignedBuffer buf = Aligned(kExtent);
  uint64_t checked = 0;
  for (auto _ : state) {
    const int fd = ::open(g_path.c_str(), O_RDONLY | O_DIRECT | O_CLOEXEC);
    if (fd < 0) return state.SkipWithError("open O_DIRECT failed");
    checked = 0;
    uint64_t wrong = 0;
    for (off_t data = ::lseek(fd, 0, SEEK_DATA); data >= 0; data = ::lseek(fd, data, SEEK_DATA)) {
      const off_t hole = ::lseek(fd, data, SEEK_HOLE);
      for (off_t off = data; off < hole; off += off_t(kExtent)) {
        const size_t len = size_t(std::min<off_t>(off_t(kExtent), hole - off));
        if (::pread(fd, buf.get(), len, off) != ssize_t(len)) {
          ::close(fd);
          return state.SkipWithError("short O_DIRECT read");
        }
        for (size_t o = 0; o < len; o += g_block_size) {
          const uint64_t b = (uint64_t(off) + o) / g_block_size;
          const BlockExpectation& e = st.blocks[b];
          const BlockVerdict v = ClassifyBlock(pattern, b, buf.get() + o, e.recent_epochs, e.max_issued + 1);
          wrong += v.cls != BlockClass::kIntact || v.generation < e.kernel_gen;
          ++checked;
        }
      }
      data = hole;
    }
    ::close(fd);
    if (wrong || checked != g_written / g_block_size)
      return state.SkipWithError("a written block did not verify");
  }
  state.counters["blocks_checked"] = double(checked);
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(g_written));
}
BENCHMARK(BM_VerifyWrittenExtents)->Unit(benchmark::kMillisecond)->UseRealTime();

// The reference: the written extents read sequentially with O_DIRECT, in the same 1 MiB requests, nothing
// else.
void BM_ODirectReadWrittenExtents(benchmark::State& state) {
  AlignedBuffer buf = Aligned(kExtent);
  for (auto _ : state) {
    const int fd = ::open(g_path.c_str(), O_RDONLY | O_DIRECT | O_CLOEXEC);
    if (fd < 0) return state.SkipWithError("open O_DIRECT failed");
    for (uint64_t off : g_extents)
      if (::pread(fd, buf.get(), kExtent, off_t(off)) != ssize_t(kExtent)) {
        ::close(fd);
        return state.SkipWithError("short O_DIRECT read");
      }
    ::close(fd);
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(g_written));
}
BENCHMARK(BM_ODirectReadWrittenExtents)->Unit(benchmark::kMillisecond)->UseRealTime();

// longpin's verification reader as it is: every block of a prefix of the target (Arg GiB), holes included,
// one verdict per block. Its time and memory per GiB of target, extrapolated, are what 1 TiB would cost.
void BM_ReadAndClassifyPrefix(benchmark::State& state) {
  const uint64_t bytes = std::min<uint64_t>(uint64_t(state.range(0)) << 30, g_size);
  const uint64_t blocks = bytes / g_block_size;
  const StampPattern pattern(kRunId, g_block_size);
  uint64_t peak_kib = 0;
  for (auto _ : state) {
    ResetPeakRss();
    const uint64_t before_kib = StatusKib("VmRSS:");
    auto img = ReadAndClassify(g_path, pattern, blocks);
    if (!img.ok()) return state.SkipWithError(img.status().message().c_str());
    peak_kib = std::max(peak_kib, StatusKib("VmHWM:") - before_kib);
    benchmark::DoNotOptimize(img->verdicts.data());
  }
  state.counters["peak_rss_B_per_block"] = double(peak_kib) * 1024 / double(blocks);
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(bytes));
}
BENCHMARK(BM_ReadAndClassifyPrefix)
    ->ArgName("GiB")
    ->Arg(4)
    ->Arg(16)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace
}  // namespace longpin

int main(int argc, char** argv) {
  using namespace longpin;
  benchmark::Initialize(&argc, argv);
  std::string dir;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    uint64_t v = 0;
    if (arg.rfind("--dir=", 0) == 0) {
      dir = arg.substr(6);
    } else if (arg.rfind("--size=", 0) == 0 && (v = ParseSize(arg.substr(7)).value_or(0)) != 0 &&
               v >= kExtent) {
      g_size = v / kExtent * kExtent;
    } else if (arg.rfind("--written=", 0) == 0 && (v = ParseSize(arg.substr(10)).value_or(0)) != 0 &&
               v >= kExtent) {
      g_written = v / kExtent * kExtent;
    } else if (arg.rfind("--block-size=", 0) == 0 && (v = ParseSize(arg.substr(13)).value_or(0)) != 0 &&
               v >= 512 && v <= 65536 && (v & (v - 1)) == 0) {
      g_block_size = size_t(v);
    } else {
      std::fprintf(stderr, "sparse_scale_bench: bad argument %s\n", argv[i]);
      return 2;
    }
  }
  if (dir.empty() || g_written > g_size) {
    std::fprintf(stderr,
                 "sparse_scale_bench: needs --dir=DIR (ext4 or xfs: O_DIRECT, sparse files), and "
                 "--written no larger than --size\n");
    return 2;
  }
  g_path = dir + "/longpin-sparse-target." + std::to_string(::getpid());
  const int made = MakeTarget();
  if (made == 0) {
    benchmark::AddCustomContext("target_bytes", std::to_string(g_size));
    benchmark::AddCustomContext("written_bytes", std::to_string(g_written));
    benchmark::AddCustomContext("block_size", std::to_string(g_block_size));
    benchmark::RunSpecifiedBenchmarks();
    std::printf("process peak RSS (VmHWM, last benchmark): %llu KiB\n",
                (unsigned long long)StatusKib("VmHWM:"));
  }
  ::unlink(g_path.c_str());
  benchmark::Shutdown();
  return made;
}
