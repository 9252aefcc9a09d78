// LatencyHistogram: quantiles within the bucket error (1/128 relative) of the exact percentiles (fio's list
// under 1%), exact min/max, merge equal to recording everything in one, and an empty histogram that reports
// zeros.
#include "core/latency_histogram.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <functional>
#include <random>
#include <thread>
#include <vector>

namespace longpin {
namespace {

constexpr double kQuantiles[] = {0.0, 0.01, 0.1, 0.5, 0.9, 0.99, 0.999, 0.9999, 1.0};

// fsync-like latencies: lognormal around ~60 us with a long tail, plus a few sub-128 ns values that land in
// the exact buckets.
std::vector<uint64_t> Samples(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::lognormal_distribution<double> lognormal(11.0, 1.5);
  std::vector<uint64_t> out;
  out.reserve(n);
  for (size_t i = 0; i < n; ++i) out.push_back(i % 1000 == 0 ? i % 128 : uint64_t(lognormal(rng)) + 1);
  return out;
}

// The rank-th smallest sample with rank = ceil(q*n) (at least 1): the definition Quantile() approximates.
uint64_t ExactQuantile(const std::vector<uint64_t>& sorted, double q) {
  uint64_t rank = uint64_t(std::ceil(q * double(sorted.size())));
  if (rank == 0) rank = 1;
  return sorted[rank - 1];
}

TEST(LatencyHistogram, QuantilesWithinBucketErrorOfExactPercentiles) {
  std::vector<uint64_t> samples = Samples(100000, 1);
  LatencyHistogram h;
  for (uint64_t s : samples) h.Record(s);
  std::sort(samples.begin(), samples.end());
  ASSERT_EQ(h.count(), samples.size());
  for (double q : kQuantiles) {
    const double exact = double(ExactQuantile(samples, q));
    const double got = double(h.Quantile(q));
    EXPECT_LE(std::fabs(got - exact), exact / LatencyHistogram::kSub + 1.0)
        << "q " << q << " exact " << exact << " histogram " << got;
  }
}

TEST(LatencyHistogram, MinMaxAndMeanAreExact) {
  std::vector<uint64_t> samples = Samples(100000, 2);
  LatencyHistogram h;
  double sum = 0;
  for (uint64_t s : samples) {
    h.Record(s);
    sum += double(s);
  }
  EXPECT_EQ(h.min(), *std::min_element(samples.begin(), samples.end()));
  EXPECT_EQ(h.max(), *std::max_element(samples.begin(), samples.end()));
  EXPECT_NEAR(h.mean(), sum / double(samples.size()), 1e-6 * h.mean());
}

TEST(LatencyHistogram, MergeEqualsRecordingAll) {
  std::vector<uint64_t> samples = Samples(100000, 3);
  LatencyHistogram all, parts[3];
  for (size_t i = 0; i < samples.size(); ++i) {
    all.Record(samples[i]);
    parts[i % 3].Record(samples[i]);
  }
  LatencyHistogram merged;
  for (const auto& p : parts) merged.Merge(p);
  EXPECT_EQ(merged.count(), all.count());
  EXPECT_EQ(merged.min(), all.min());
  EXPECT_EQ(merged.max(), all.max());
  EXPECT_DOUBLE_EQ(merged.mean(), all.mean());
  for (double q : kQuantiles) EXPECT_EQ(merged.Quantile(q), all.Quantile(q)) << "q " << q;
}

TEST(LatencyHistogram, EmptyHistogramReportsZeros) {
  LatencyHistogram h;
  EXPECT_EQ(h.count(), 0u);
  EXPECT_EQ(h.min(), 0u);
  EXPECT_EQ(h.max(), 0u);
  EXPECT_EQ(h.mean(), 0.0);
  for (double q : kQuantiles) EXPECT_EQ(h.Quantile(q), 0u);
  // Merging an empty histogram changes nothing, in either direction.
  LatencyHistogram one;
  one.Record(500);
  one.Merge(h);
  EXPECT_EQ(one.count(), 1u);
  EXPECT_EQ(one.min(), 500u);
  h.Merge(one);
  EXPECT_EQ(h.min(), 500u);
  EXPECT_EQ(h.max(), 500u);
  EXPECT_EQ(h.Quantile(0.5), 500u);
}

TEST(LatencyHistogram, BucketsCoverTheirValuesWithinRelativeError) {
  std::mt19937_64 rng(4);
  for (int i = 0; i < 100000; ++i) {
    const uint64_t v = rng() >> (rng() % 64);
    const int b = LatencyHistogram::BucketOf(v);
    ASSERT_GE(b, 0);
    ASSERT_LT(b, LatencyHistogram::kBuckets);
    const uint64_t lo = LatencyHistogram::BucketLow(b), width = LatencyHistogram::BucketHigh(b) - lo;
    ASSERT_LE(lo, v) << "value " << v;
    ASSERT_LT(v - lo, width) << "value " << v;
    ASSERT_LE(double(width - 1), double(lo) / LatencyHistogram::kSub) << "value " << v;
  }
}

TEST(LatencyHistogram, SingleLargeValueIsReportedExactly) {
  LatencyHistogram h;
  h.Record(UINT64_MAX);
  EXPECT_EQ(h.Quantile(0.5), UINT64_MAX);
  EXPECT_EQ(h.max(), UINT64_MAX);
}

// LiveLatency (the progress line's p99): a snapshot quantiles like the plain histogram to within one bucket,
// and reading it while another thread records never sees more samples than were recorded.
TEST(LiveLatency, SnapshotQuantilesAgreeWithThePlainHistogram) {
  const auto samples = Samples(50000, 7);
  LatencyHistogram plain;
  LiveLatency live;
  for (uint64_t v : samples) {
    plain.Record(v);
    live.Record(v);
  }
  LatencyHistogram snap;
  live.SnapshotInto(snap);
  EXPECT_EQ(snap.count(), plain.count());
  for (double q : kQuantiles) {
    const uint64_t a = plain.Quantile(q), b = snap.Quantile(q);
    EXPECT_EQ(LatencyHistogram::BucketOf(a), LatencyHistogram::BucketOf(b))
        << "q=" << q << " plain " << a << " live " << b;
  }
}

TEST(LiveLatency, ReadWhileRecordingSeesAGrowingCount) {
  LiveLatency live;
  constexpr uint64_t kN = 200000;
  std::atomic<bool> done{false};
  std::thread writer([&] {
    for (uint64_t i = 0; i < kN; ++i) live.Record(1000 + i % 5000);
    done.store(true);
  });
  uint64_t last = 0;
  while (!done.load()) {
    LatencyHistogram snap;
    live.SnapshotInto(snap);
    EXPECT_GE(snap.count(), last);
    EXPECT_LE(snap.count(), kN);
    last = snap.count();
  }
  writer.join();
  LatencyHistogram snap;
  live.SnapshotInto(snap);
  EXPECT_EQ(snap.count(), kN);
  EXPECT_GE(snap.min(), 1000u - 1000u / LatencyHistogram::kSub);
  EXPECT_LE(snap.max(), 6000u + 6000u / LatencyHistogram::kSub);
}

// fio's percentile list, for the JSON's percentiles_ns: under 1% from the exact quantile of the same samples,
// over distributions shaped like sync latencies (lognormal tails, a bimodal fast/slow mix, a uniform spread).
TEST(LatencyHistogram, FioPercentilesWithinOnePercentOfExactQuantiles) {
  std::mt19937_64 rng(20261202);
  std::lognormal_distribution<double> narrow(13.0, 0.4), wide(11.0, 2.0);
  std::uniform_real_distribution<double> uniform(1e3, 5e7);
  std::bernoulli_distribution slow(0.03);
  const std::vector<std::pair<const char*, std::function<double()>>> shapes = {
      {"lognormal narrow", [&] { return narrow(rng); }},
      {"lognormal wide", [&] { return wide(rng); }},
      {"bimodal", [&] { return slow(rng) ? 1e8 + uniform(rng) : 2e5 + uniform(rng) / 1e3; }},
      {"uniform", [&] { return uniform(rng); }},
  };
  for (const auto& [name, draw] : shapes)
    for (size_t n : {1000u, 200000u}) {
      std::vector<uint64_t> samples;
      LatencyHistogram h;
      for (size_t i = 0; i < n; ++i) {
        samples.push_back(uint64_t(draw()) + 1);
        h.Record(samples.back());
      }
      std::sort(samples.begin(), samples.end());
      for (double p : kFioPercentiles) {
        const double exact = double(ExactQuantile(samples, p / 100));
        const double got = double(h.Quantile(p / 100));
        EXPECT_LT(std::fabs(got - exact) / exact, 0.01)
            << name << ", " << n << " samples, p" << p << ": exact " << exact << ", histogram " << got;
      }
    }
}

}  // namespace
}  // namespace longpin
