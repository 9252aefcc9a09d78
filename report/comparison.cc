#include "report/comparison.h"

#include <fmt/format.h>

#include <algorithm>
#include <vector>

#include "core/split_mix.h"

namespace longpin {
namespace {

// One phase's syncs as its occupied buckets with their cumulative counts, for drawing by a binary search.
struct PhaseSamples {
  std::vector<int> bucket;
  std::vector<uint64_t> cumulative;
  uint64_t count = 0;
  explicit PhaseSamples(const LatencyHistogram& h) {
    for (int b = 0; b < LatencyHistogram::kBuckets; ++b)
      if (uint64_t n = h.bucket_count(b)) {
        count += n;
        bucket.push_back(b);
        cumulative.push_back(count);
      }
  }
};

double Midpoint(int b) {
  return double(LatencyHistogram::BucketLow(b) + LatencyHistogram::BucketHigh(b) - 1) / 2.0;
}

// The value at quantile q of counts per bucket holding n samples.
double QuantileOf(const std::vector<uint64_t>& counts, uint64_t n, double q) {
  const uint64_t rank = std::max<uint64_t>(1, uint64_t(q * double(n) + 0.999999));
  uint64_t seen = 0;
  for (size_t b = 0; b < counts.size(); ++b) {
    seen += counts[b];
    if (seen >= rank) return Midpoint(int(b));
  }
  return 0.0;
}

// One two-stage resample of a kind's phases into counts per bucket; returns the samples drawn.
uint64_t Resample(const std::vector<PhaseSamples>& phases, SplitMix& rng, std::vector<uint64_t>& counts) {
  std::fill(counts.begin(), counts.end(), 0);
  uint64_t n = 0;
  for (size_t i = 0; i < phases.size(); ++i) {
    const PhaseSamples& p = phases[rng.Next() % phases.size()];
    for (uint64_t k = 0; k < p.count; ++k) {
      const uint64_t r = rng.Next() % p.count;
      const size_t at =
          size_t(std::upper_bound(p.cumulative.begin(), p.cumulative.end(), r) - p.cumulative.begin());
      ++counts[size_t(p.bucket[at])];
    }
    n += p.count;
  }
  return n;
}

double Percentile(std::vector<double>& v, double q) {
  std::sort(v.begin(), v.end());
  const size_t i = std::min(v.size() - 1, size_t(q * double(v.size() - 1) + 0.5));
  return v[i];
}

std::vector<PhaseSamples> PhasesOf(const std::vector<LatencyHistogram>& hs) {
  std::vector<PhaseSamples> out;
  for (const auto& h : hs)
    if (h.count()) out.emplace_back(h);
  return out;
}

}  // namespace

std::optional<SyncComparison> CompareLatency(const std::string& op,
                                             const std::vector<LatencyHistogram>& baseline,
                                             const std::vector<LatencyHistogram>& pinned, uint64_t seed,
                                             uint64_t min_samples, int reps) {
  const std::vector<PhaseSamples> b = PhasesOf(baseline), p = PhasesOf(pinned);
  LatencyHistogram b_all, p_all;
  for (const auto& h : baseline) b_all.Merge(h);
  for (const auto& h : pinned) p_all.Merge(h);
  if (b_all.count() < min_samples || p_all.count() < min_samples) return std::nullopt;
  // Bounded cost: about 4e7 draws at most, whatever the counts.
  const uint64_t draws = b_all.count() + p_all.count();
  reps = int(std::max<uint64_t>(100, std::min<uint64_t>(uint64_t(reps), 40'000'000 / draws)));
  SplitMix rng{seed ? seed : 0x5eed};
  const double qs[3] = {0.5, 0.99, 0.999};
  std::vector<double> ratios[3];
  std::vector<uint64_t> bc(LatencyHistogram::kBuckets), pc(LatencyHistogram::kBuckets);
  for (int r = 0; r < reps; ++r) {
    const uint64_t nb = Resample(b, rng, bc), np = Resample(p, rng, pc);
    for (int k = 0; k < 3; ++k) {
      const double base = QuantileOf(bc, nb, qs[k]);
      ratios[k].push_back(base > 0 ? QuantileOf(pc, np, qs[k]) / base : 0.0);
    }
  }
  SyncComparison c;
  c.op = op;
  c.baseline_count = b_all.count();
  c.pinned_count = p_all.count();
  QuantileRatio* out[3] = {&c.p50, &c.p99, &c.p999};
  for (int k = 0; k < 3; ++k) {
    const double base = double(b_all.Quantile(qs[k]));
    out[k]->ratio = base > 0 ? double(p_all.Quantile(qs[k])) / base : 0.0;
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
