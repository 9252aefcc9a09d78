// LatencyHistogram: log-linear buckets over nanoseconds (HDR style). 2^7 sub-buckets per power of two give a
// worst-case relative error of 1/128 (0.78%), the same class as fio's lat_ns percentiles. Record() is O(1),
// allocates nothing and takes no lock: each recording thread owns its histogram; Merge() after the threads
// are joined.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>

namespace longpin {

// The percentiles fio reports (its default percentile_list), so a longpin report lines up with fio's.
inline constexpr double kFioPercentiles[] = {1,  5,  10, 20, 30,   40,   50,    60,   70,
                                             80, 90, 95, 99, 99.5, 99.9, 99.95, 99.99};

class LatencyHistogram {
 public:
  static constexpr int kSubBits = 7;
  static constexpr int kSub = 1 << kSubBits;
  static constexpr int kBuckets = (64 - kSubBits + 1) * kSub;

  void Record(uint64_t ns) {
    ++counts_[BucketOf(ns)];
    ++count_;
    sum_ += ns;
    if (ns < min_) min_ = ns;
    if (ns > max_) max_ = ns;
  }
  void Merge(const LatencyHistogram& other);
  // Records n samples known only by their bucket (a LiveLatency snapshot): each counts as the bucket's
  // midpoint.
  void RecordBucket(int bucket, uint64_t n);

  uint64_t count() const { return count_; }
  uint64_t bucket_count(int b) const { return counts_[size_t(b)]; }
  uint64_t min() const { return count_ ? min_ : 0; }
  uint64_t max() const { return max_; }
  double mean() const { return count_ ? double(sum_) / double(count_) : 0.0; }
  // The value at quantile q in [0, 1]: the midpoint of the bucket holding the ceil(q*count)-th sample,
  // clamped to [min, max]. 0 for an empty histogram.
  uint64_t Quantile(double q) const;

  static int BucketOf(uint64_t ns) {
    if (ns < uint64_t{kSub}) return int(ns);
    const int msb = 63 - __builtin_clzll(ns);
    const int shift = msb - kSubBits;
    return (shift + 1) * kSub + int((ns >> shift) & (kSub - 1));
  }
  static uint64_t BucketLow(int b) {
    if (b < kSub) return uint64_t(b);
    const int shift = b / kSub - 1;
    return (uint64_t{kSub} + uint64_t(b % kSub)) << shift;
  }
  static uint64_t BucketHigh(int b) {  // exclusive
    if (b < kSub) return uint64_t(b) + 1;
    const int shift = b / kSub - 1;
    return BucketLow(b) + (uint64_t{1} << shift);
  }

 private:
  std::array<uint64_t, kBuckets> counts_{};
  uint64_t count_ = 0;
  uint64_t sum_ = 0;
  uint64_t min_ = UINT64_MAX;
  uint64_t max_ = 0;
};

// LiveLatency: the same buckets, recorded by one thread while another reads them (the progress line's p99 so
// far). Relaxed atomics with one writer each: a reader sees a slightly stale count, never a torn one. A class
// of its own so that LatencyHistogram stays plain, copyable and mergeable for the report.
class LiveLatency {
 public:
  void Record(uint64_t ns) {
    auto& c = counts_[size_t(LatencyHistogram::BucketOf(ns))];
    c.store(c.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }
  // Adds the counts as of now into h (quantiles to the bucket midpoint).
  void SnapshotInto(LatencyHistogram& h) const;

 private:
  std::array<std::atomic<uint32_t>, LatencyHistogram::kBuckets> counts_{};
};

}  // namespace longpin
