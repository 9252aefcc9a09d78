// The pinned/baseline comparison: a ratio with a bootstrap interval that contains 1 for the same distribution
// and excludes it for a real shift; nothing for a handful of samples.
#include "report/comparison.h"

#include <gtest/gtest.h>

namespace longpin {
namespace {

LatencyHistogram Spread(uint64_t n, uint64_t base_ns, uint64_t seed) {
  LatencyHistogram h;
  uint64_t x = seed;
  for (uint64_t i = 0; i < n; ++i) {
    x = x * 6364136223846793005ULL + 1442695040888963407ULL;
    h.Record(base_ns + (x >> 33) % base_ns);  // uniform in [base, 2 base)
  }
  return h;
}

TEST(Comparison, SameDistributionIsNoDifferenceDetectable) {
  auto c = CompareLatency("fsync", {Spread(500, 1'000'000, 1), Spread(500, 1'000'000, 11)},
                          {Spread(500, 1'000'000, 2), Spread(500, 1'000'000, 12)}, 7);
  ASSERT_TRUE(c.has_value());
  EXPECT_NEAR(c->p50.ratio, 1.0, 0.05);
  EXPECT_LE(c->p50.lo, 1.0);
  EXPECT_GE(c->p50.hi, 1.0);
  EXPECT_FALSE(c->detectable);
  EXPECT_EQ(c->baseline_count, 1000u);
  EXPECT_NE(DescribeComparison(*c).find("no difference detectable"), std::string::npos);
}

TEST(Comparison, ADoubledLatencyIsDetectedWithItsRatio) {
  auto c = CompareLatency("fsync", {Spread(300, 1'000'000, 3), Spread(300, 1'000'000, 13)},
                          {Spread(300, 2'000'000, 4), Spread(300, 2'000'000, 14)}, 7);
  ASSERT_TRUE(c.has_value());
  EXPECT_NEAR(c->p50.ratio, 2.0, 0.1);
  EXPECT_GT(c->p50.lo, 1.0);
  EXPECT_LE(c->p50.lo, c->p50.ratio);
  EXPECT_GE(c->p50.hi, c->p50.ratio);
  EXPECT_TRUE(c->detectable);
  EXPECT_NE(DescribeComparison(*c).find("pins change sync latency"), std::string::npos);
}

TEST(Comparison, PhasesThatDifferAmongThemselvesWidenTheInterval) {
  // Each kind has one fast and one slow phase (a drifting machine): pooled, the kinds are alike, and a
  // sample-level bootstrap would call a 10% shift between the two orders "detectable". The cluster bootstrap
  // must not.
  auto c = CompareLatency("fsync", {Spread(500, 1'000'000, 21), Spread(500, 1'300'000, 22)},
                          {Spread(500, 1'100'000, 23), Spread(500, 1'250'000, 24)}, 7);
  ASSERT_TRUE(c.has_value());
  EXPECT_LE(c->p50.lo, 1.0);
  EXPECT_GE(c->p50.hi, 1.0);
  EXPECT_FALSE(c->detectable) << DescribeComparison(*c);
}

TEST(Comparison, AHandfulOfSamplesSaysNothing) {
  EXPECT_FALSE(
      CompareLatency("fsync", {Spread(6, 1'000'000, 5)}, {Spread(1000, 1'000'000, 6)}, 7).has_value());
  EXPECT_FALSE(CompareLatency("fsync", {}, {}, 7).has_value());
}

}  // namespace
}  // namespace longpin
