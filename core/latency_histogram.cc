#include "core/latency_histogram.h"

#include <algorithm>
#include <cmath>

namespace longpin {

void LatencyHistogram::Merge(const LatencyHistogram& other) {
  for (int i = 0; i < kBuckets; ++i) counts_[i] += other.counts_[i];
  count_ += other.count_;
  sum_ += other.sum_;
  min_ = std::min(min_, other.min_);
  max_ = std::max(max_, other.max_);
}

uint64_t LatencyHistogram::Quantile(double q) const {
  if (count_ == 0) return 0;
  q = std::clamp(q, 0.0, 1.0);
  uint64_t rank = uint64_t(std::ceil(q * double(count_)));
  if (rank == 0) rank = 1;
  uint64_t seen = 0;
  for (int b = 0; b < kBuckets; ++b) {
    seen += counts_[b];
    if (seen >= rank) {
      const uint64_t lo = BucketLow(b), hi = BucketHigh(b);
      const uint64_t mid = lo + (hi - lo - 1) / 2;
      return std::clamp(mid, min(), max_);
    }
  }
  return max_;
}

void LatencyHistogram::RecordBucket(int bucket, uint64_t n) {
  if (n == 0) return;
  const uint64_t lo = BucketLow(bucket), hi = BucketHigh(bucket);
  const uint64_t mid = lo + (hi - lo - 1) / 2;
  counts_[size_t(bucket)] += n;
  count_ += n;
  sum_ += mid * n;
  min_ = std::min(min_, lo);
  max_ = std::max(max_, hi - 1);
}

void LiveLatency::SnapshotInto(LatencyHistogram& h) const {
  for (int b = 0; b < LatencyHistogram::kBuckets; ++b)
    if (const uint32_t n = counts_[size_t(b)].load(std::memory_order_relaxed)) h.RecordBucket(b, n);
}

}  // namespace longpin
