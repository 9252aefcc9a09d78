// LatencyHistogram::Record per sample: every write and every sync records one, so it has to stay in the
// noise of the operation it measures (a 4 KiB pwrite is ~1 us, an fsync tens of us).
//
//   histogram_bench --benchmark_repetitions=5
#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "core/latency_histogram.h"

namespace longpin {
namespace {

// Log-uniform samples from 100 ns to 100 ms: every power-of-two range gets used, so the bucket index is not
// predictable and the branch predictor cannot memorise one bucket.
std::vector<uint64_t> Samples() {
  std::mt19937_64 rng(12345);
  std::uniform_real_distribution<double> exponent(std::log(100.0), std::log(1e8));
  std::vector<uint64_t> v(1 << 16);
  for (auto& s : v) s = uint64_t(std::exp(exponent(rng)));
  return v;
}

void BM_HistogramRecord(benchmark::State& state) {
  const std::vector<uint64_t> samples = Samples();
  LatencyHistogram h;
  size_t i = 0;
  for (auto _ : state) {
    h.Record(samples[i]);
    i = (i + 1) & (samples.size() - 1);
  }
  benchmark::DoNotOptimize(h.count());
  state.SetItemsProcessed(int64_t(state.iterations()));
}
BENCHMARK(BM_HistogramRecord);

// The same value every time: the best case, for reference.
void BM_HistogramRecordConstant(benchmark::State& state) {
  LatencyHistogram h;
  uint64_t ns = 25000;
  for (auto _ : state) {
    benchmark::DoNotOptimize(ns);
    h.Record(ns);
  }
  benchmark::DoNotOptimize(h.count());
  state.SetItemsProcessed(int64_t(state.iterations()));
}
BENCHMARK(BM_HistogramRecordConstant);

// Reading the samples alone, so the Record cost can be told apart from the loop around it.
void BM_SampleLoopOnly(benchmark::State& state) {
  const std::vector<uint64_t> samples = Samples();
  uint64_t sum = 0;
  size_t i = 0;
  for (auto _ : state) {
    sum += samples[i];
    benchmark::DoNotOptimize(sum);
    i = (i + 1) & (samples.size() - 1);
  }
  state.SetItemsProcessed(int64_t(state.iterations()));
}
BENCHMARK(BM_SampleLoopOnly);

}  // namespace
}  // namespace longpin

BENCHMARK_MAIN();
