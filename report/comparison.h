// The pinned/baseline comparison of sync latency: the ratio of p50, p99 and p99.9 of the pooled phases of
// each kind (interleaved rounds, --rounds), each with a bootstrap 95% confidence interval, so that a report
// says whether pins made syncs slower or whether no difference is detectable on this machine.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/latency_histogram.h"

namespace longpin {

struct QuantileRatio {
  double ratio = 0;       // pinned / baseline
  double lo = 0, hi = 0;  // bootstrap 95% interval of the ratio
  bool excludes_one() const { return lo > 1.0 || hi < 1.0; }
};

struct SyncComparison {
  std::string op;
  uint64_t baseline_count = 0, pinned_count = 0;
  QuantileRatio p50, p99, p999;
  bool detectable = false;  // the p50 or the p99 interval excludes 1
};

// nullopt when either side has fewer than min_samples syncs (a ratio of a handful of samples says nothing).
// baseline and pinned hold one histogram per phase. The interval comes from a two-stage (cluster) bootstrap:
// each resample draws the phases of a kind with replacement, then each drawn phase's syncs from its own
// histogram (at bucket midpoints), so that a difference between phases of the same kind (a machine that
// drifts, a cold start) widens the interval instead of reading as an effect of the pins.
std::optional<SyncComparison> CompareLatency(const std::string& op,
                                             const std::vector<LatencyHistogram>& baseline,
                                             const std::vector<LatencyHistogram>& pinned, uint64_t seed,
                                             uint64_t min_samples = 20, int reps = 1000);

// "p50 1.03 [0.98, 1.07], p99 1.10 [0.95, 1.30], p99.9 1.2 [0.9, 1.8]: no difference detectable"
std::string DescribeComparison(const SyncComparison& c);

}  // namespace longpin
