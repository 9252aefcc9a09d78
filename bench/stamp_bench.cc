// Stamping a block (what every writer does per write) and classifying it (what the verifier does per block),
// against memcpy of the same size: the cost of a stamped write is only worth paying if it is of the order
// of copying the data. The program prints its own ratio table after the runs, so the ratio in
// BENCHMARKS.md comes from numbers measured in one process, side by side.
//
//   stamp_bench --benchmark_repetitions=5 --benchmark_enable_random_interleaving=true
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/block_stamp.h"

namespace longpin {
namespace {

constexpr uint64_t kRunId = 0x5eed5eed12345678ULL;
// Larger than any cache of the machines we run on (the reported L3 of a VM can be nonsense), so the
// out-of-cache variants stream from and to memory.
constexpr size_t kArenaBytes = size_t{1} << 30;

struct FreeDeleter {
  void operator()(std::byte* p) const { std::free(p); }
};
using Buffer = std::unique_ptr<std::byte, FreeDeleter>;

Buffer AllocTouched(size_t bytes) {
  Buffer b(static_cast<std::byte*>(std::aligned_alloc(4096, bytes)));
  std::memset(b.get(), 0x5a, bytes);  // fault every page in before timing
  return b;
}

// One arena pair shared by the out-of-cache variants; allocated at first use, kept for the process.
std::byte* Arena(int which) {
  static Buffer arenas[2];
  if (!arenas[which]) arenas[which] = AllocTouched(kArenaBytes);
  return arenas[which].get();
}

void SetBytes(benchmark::State& state, size_t size) {
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(size));
}

void BM_StampBlock(benchmark::State& state) {
  const size_t size = size_t(state.range(0));
  StampPattern pattern(kRunId, size);
  Buffer dst = AllocTouched(size);
  StampId id{kRunId, 7, 1, WriterKind::kCpu, 3, 0};
  for (auto _ : state) {
    StampBlock(pattern, id, dst.get());
    benchmark::ClobberMemory();
    ++id.generation;
  }
  SetBytes(state, size);
}

void BM_Memcpy(benchmark::State& state) {
  const size_t size = size_t(state.range(0));
  Buffer src = AllocTouched(size);
  Buffer dst = AllocTouched(size);
  for (auto _ : state) {
    std::memcpy(dst.get(), src.get(), size);
    benchmark::DoNotOptimize(dst.get());
    benchmark::ClobberMemory();
  }
  SetBytes(state, size);
}

// Successive blocks of a 1 GiB arena, as a writer walking a large target would see them.
void BM_StampBlockOutOfCache(benchmark::State& state) {
  const size_t size = size_t(state.range(0));
  const size_t blocks = kArenaBytes / size;
  StampPattern pattern(kRunId, size);
  std::byte* dst = Arena(0);
  StampId id{kRunId, 0, 1, WriterKind::kCpu, 3, 0};
  for (auto _ : state) {
    StampBlock(pattern, id, dst + id.block * size);
    benchmark::ClobberMemory();
    if (++id.block == blocks) {
      id.block = 0;
      ++id.generation;
    }
  }
  SetBytes(state, size);
}

void BM_MemcpyOutOfCache(benchmark::State& state) {
  const size_t size = size_t(state.range(0));
  const size_t blocks = kArenaBytes / size;
  std::byte* src = Arena(1);
  std::byte* dst = Arena(0);
  size_t block = 0;
  for (auto _ : state) {
    std::memcpy(dst + block * size, src + block * size, size);
    benchmark::DoNotOptimize(dst);
    benchmark::ClobberMemory();
    if (++block == blocks) block = 0;
  }
  SetBytes(state, size);
}

void BM_ClassifyIntact(benchmark::State& state) {
  const size_t size = size_t(state.range(0));
  StampPattern pattern(kRunId, size);
  Buffer block = AllocTouched(size);
  StampBlock(pattern, StampId{kRunId, 7, 42, WriterKind::kPwrite, 1, 0}, block.get());
  if (ClassifyBlock(pattern, 7, block.get()).cls != BlockClass::kIntact) {
    state.SkipWithError("a freshly stamped block does not classify as intact");
    return;
  }
  for (auto _ : state) {
    BlockVerdict v = ClassifyBlock(pattern, 7, block.get());
    benchmark::DoNotOptimize(v);
  }
  SetBytes(state, size);
}

void BM_ClassifyIntactOutOfCache(benchmark::State& state) {
  const size_t size = size_t(state.range(0));
  const size_t blocks = kArenaBytes / size;
  StampPattern pattern(kRunId, size);
  std::byte* arena = Arena(0);
  for (size_t b = 0; b < blocks; ++b)
    StampBlock(pattern, StampId{kRunId, b, 42, WriterKind::kPwrite, 1, 0}, arena + b * size);
  size_t block = 0;
  for (auto _ : state) {
    BlockVerdict v = ClassifyBlock(pattern, block, arena + block * size);
    if (v.cls != BlockClass::kIntact) {
      state.SkipWithError("a stamped block does not classify as intact");
      break;
    }
    benchmark::DoNotOptimize(v);
    if (++block == blocks) block = 0;
  }
  SetBytes(state, size);
}

void Sizes(benchmark::internal::Benchmark* b) {
  for (int64_t size : {512, 4096, 65536, 2 << 20}) b->Arg(size);
}

BENCHMARK(BM_StampBlock)->Apply(Sizes);
BENCHMARK(BM_Memcpy)->Apply(Sizes);
BENCHMARK(BM_StampBlockOutOfCache)->Apply(Sizes);
BENCHMARK(BM_MemcpyOutOfCache)->Apply(Sizes);
BENCHMARK(BM_ClassifyIntact)->Apply(Sizes);
BENCHMARK(BM_ClassifyIntactOutOfCache)->Apply(Sizes);

// The console output plus, at the end, stamp/memcpy and classify/memcpy throughput ratios per size, each
// from the median of the repetitions of this process.
class RatioReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const Run& r : runs) {
      if (r.run_type != Run::RT_Iteration || r.error_occurred) continue;
      auto it = r.counters.find("bytes_per_second");
      if (it != r.counters.end()) rates_[r.run_name.str()].push_back(it->second.value);
    }
    ConsoleReporter::ReportRuns(runs);
  }
  void Finalize() override {
    ConsoleReporter::Finalize();
    std::printf("\n%-34s %-28s %12s %12s %8s\n", "ours", "reference", "ours GB/s", "ref GB/s", "ratio");
    const std::pair<const char*, const char*> pairs[] = {
        {"BM_StampBlock", "BM_Memcpy"},
        {"BM_StampBlockOutOfCache", "BM_MemcpyOutOfCache"},
        {"BM_ClassifyIntact", "BM_Memcpy"},
        {"BM_ClassifyIntactOutOfCache", "BM_MemcpyOutOfCache"},
    };
    for (const auto& [ours, ref] : pairs) {
      for (int size : {512, 4096, 65536, 2 << 20}) {
        const std::string suffix = "/" + std::to_string(size);
        const double a = Median(ours + suffix), b = Median(ref + suffix);
        if (a <= 0 || b <= 0) continue;
        std::printf("%-34s %-28s %12.2f %12.2f %8.2f\n", (ours + suffix).c_str(), (ref + suffix).c_str(),
                    a / 1e9, b / 1e9, a / b);
      }
    }
    std::fflush(stdout);
  }

 private:
  double Median(const std::string& name) const {
    auto it = rates_.find(name);
    if (it == rates_.end() || it->second.empty()) return 0;
    std::vector<double> v = it->second;
    std::sort(v.begin(), v.end());
    return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
  }
  std::map<std::string, std::vector<double>> rates_;
};

}  // namespace
}  // namespace longpin

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 2;
  longpin::RatioReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  return 0;
}
