// LiveCounter: a number that one thread updates and other threads read while it runs (the progress line reads
// the writers' and the pin driver's counts every quarter second).
//
// One writer only: the update is a relaxed load and store, not a read-modify-write, so nothing is lost and on
// x86 it costs the same plain add as a uint64_t (no lock prefix), which keeps the writers' hot path as it
// was.
#pragma once

#include <atomic>
#include <cstdint>

namespace longpin {

class LiveCounter {
 public:
  void Add(uint64_t n = 1) {
    value_.store(value_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  void Set(uint64_t v) { value_.store(v, std::memory_order_relaxed); }
  uint64_t Get() const { return value_.load(std::memory_order_relaxed); }
  LiveCounter& operator++() {
    Add(1);
    return *this;
  }
  operator uint64_t() const { return Get(); }  // NOLINT: reads like the plain count it replaced

 private:
  std::atomic<uint64_t> value_{0};
};

}  // namespace longpin
