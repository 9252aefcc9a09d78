// HangWatchdog: every worker thread publishes the start time of the operation it is in (write, sync, pin,
// unpin) in its own slot; a watchdog thread scans the slots and reports any operation older than the
// threshold, once, with the thread's kernel stack (/proc/self/task/TID/stack, root only) and wchan.
// Publishing is two relaxed atomic stores: no lock, no allocation.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace longpin {

enum class OpKind : uint8_t { kIdle = 0, kWrite, kSync, kPin, kUnpin, kVerify };
const char* OpKindName(OpKind k);

uint64_t MonotonicNs();

struct OpSlot {
  std::atomic<uint64_t> start_ns{0};
  std::atomic<uint8_t> op{0};
  std::atomic<pid_t> tid{0};
  std::atomic<uint64_t> reported_start{0};  // start_ns of the op already reported
  std::string role;                         // "cpu-writer 0", set before the thread starts
};

struct HangReport {
  std::string role;
  std::string op;
  pid_t tid = 0;
  double seconds = 0;  // how long the op had run when it was caught
  std::string wchan;
  std::string kernel_stack;
};

class HangWatchdog {
 public:
  explicit HangWatchdog(double threshold_s) : threshold_ns_(uint64_t(threshold_s * 1e9)) {}
  ~HangWatchdog() { Stop(); }
  // Slots live as long as the watchdog. Call before the owning thread starts.
  OpSlot* NewSlot(std::string role);
  void Start();
  void Stop();
  std::vector<HangReport> Reports() const;
  // Operations in progress now that are older than the threshold (also those already reported).
  size_t StuckNow() const;

 private:
  void Loop();
  uint64_t threshold_ns_;
  std::vector<std::unique_ptr<OpSlot>> slots_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  mutable std::mutex mu_;  // guards reports_: written by the watchdog thread only
  std::vector<HangReport> reports_;
};

// RAII: marks the calling thread's slot busy with op for the guard's lifetime.
class OpScope {
 public:
  OpScope(OpSlot* slot, OpKind op) : slot_(slot) {
    if (!slot_) return;
    slot_->op.store(uint8_t(op), std::memory_order_relaxed);
    slot_->start_ns.store(MonotonicNs(), std::memory_order_release);
  }
  ~OpScope() {
    if (slot_) slot_->start_ns.store(0, std::memory_order_release);
  }
  OpScope(const OpScope&) = delete;
  OpScope& operator=(const OpScope&) = delete;

 private:
  OpSlot* slot_;
};

// Binds the calling thread to its slot (records its tid for the stack capture).
void BindThreadToSlot(OpSlot* slot);

}  // namespace longpin
