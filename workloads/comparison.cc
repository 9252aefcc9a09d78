#include "workloads/comparison.h"

#include <algorithm>
#include <vector>

#include <fmt/format.h>

#include "workloads/writers.h"

namespace longpin {
namespace {

// The occupied buckets of a histogram with their cumulative counts, for drawing samples by a binary search.
struct Distribution {
  std::vector<double> value;        // bucket midpoint, ns
  std::vector<uint64_t> cumulative; // samples in this bucket and every lower one
  uint64_t count = 0;

  explicit Distribution(const LatencyHistogram& h) {
    for (int b = 0; b < LatencyHistogram::kBuckets; ++b)
      if (uint64_t n = h.bucket_count(b)) {
        count += n;
        value.push_back(double(LatencyHistogram::BucketLow(b) + LatencyHistogram::BucketHigh(b) - 1) / 2.0);
        cumulative.push_back(count);
      }
  }
  // The value at quantile q of a histogram given as counts per occupied bucket.
  double Quantile(const std::vector<uint64_t>& counts, uint64_t n, double q) const {
    const uint64_t rank = std::max<uint64_t>(1, uint64_t(q * double(n) + 0.999999));
    uint64_t seen = 0;
    for (size_t i = 0; i < counts.size(); ++i) {
      seen += counts[i];
      if (seen >= rank) return value[i];
    }
    return value.empty() ? 0.0 : value.back();
  }
  double Quantile(double q) const {
    std::vector<uint64_t> counts(cumulative.size());
    for (size_t i = 0; i < counts.size(); ++i) counts[i] = cumulative[i] - (i ? cumulative[i - 1] : 0);
    return Quantile(counts, count, q);
  }
};


// One bootstrap resample of d: n draws with replacement, as counts per occupied bucket.
void Resample(const Distribution& d, SplitMix& rng, std::vector<uint64_t>& counts) {
  std::fill(counts.begin(), counts.end(), 0);
  for (uint64_t i = 0; i < d.count; ++i) {
    const uint64_t r = rng.Next() % d.count;
    const size_t at = size_t(std::upper_bound(d.cumulative.begin(), d.cumulative.end(), r) - d.cumulative.begin());
    ++counts[at];
  }
}

double Percentile(std::vector<double>& v, double q) {
  std::sort(v.begin(), v.end());
  const size_t i = std::min(v.size() - 1, size_t(q * double(v.size() - 1) + 0.5));
  return v[i];
}

}  // namespace

std::optional<SyncComparison> CompareLatency(const std::string& op, const LatencyHistogram& baseline,
                                             const LatencyHistogram& pinned, uint64_t seed, uint64_t min_samples,
                                             int reps) {
  if (baseline.count() < min_samples || pinned.count() < min_samples) return std::nullopt;
  const Distribution b(baseline), p(pinned);
  // Bounded cost: about 4e7 draws at most, whatever the counts.
  const uint64_t draws = b.count + p.count;
  reps = int(std::max<uint64_t>(100, std::min<uint64_t>(uint64_t(reps), 40'000'000 / draws)));
  SplitMix rng{seed ? seed : 0x5eed};
  const double qs[3] = {0.5, 0.99, 0.999};
  std::vector<double> ratios[3];
  std::vector<uint64_t> bc(b.value.size()), pc(p.value.size());
  for (int r = 0; r < reps; ++r) {
    Resample(b, rng, bc);
    Resample(p, rng, pc);
    for (int k = 0; k < 3; ++k) {
      const double base = b.Quantile(bc, b.count, qs[k]);
      ratios[k].push_back(base > 0 ? p.Quantile(pc, p.count, qs[k]) / base : 0.0);
    }
  }
  SyncComparison c;
  c.op = op;
  c.baseline_count = b.count;
  c.pinned_count = p.count;
  QuantileRatio* out[3] = {&c.p50, &c.p99, &c.p999};
  for (int k = 0; k < 3; ++k) {
    const double base = b.Quantile(qs[k]);
    out[k]->ratio = base > 0 ? p.Quantile(qs[k]) / base : 0.0;
    out[k]->lo = Percentile(ratios[k], 0.025);
    out[k]->hi = Percentile(ratios[k], 0.975);
  }
  c.detectable = c.p50.excludes_one() || c.p99.excludes_one();
  return c;
}

std::string DescribeComparison(const SyncComparison& c) {
  auto one = [](const char* name, const QuantileRatio& r) {
    return fmt::format("{} {:.2f} [{:.2f}, {:.2f}]", name, r.ratio, r.lo, r.hi);
  };
  return fmt::format("{} pinned/baseline {}, {}, {} (95% CI, {} vs {} syncs): {}", c.op, one("p50", c.p50),
                     one("p99", c.p99), one("p99.9", c.p999), c.pinned_count, c.baseline_count,
                     c.detectable ? "pins change sync latency" : "no difference detectable");
}

}  // namespace longpin
