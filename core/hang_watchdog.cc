#include "core/hang_watchdog.h"

#include <unistd.h>

#include <chrono>
#include <ctime>
#include <fstream>
#include <sstream>

namespace longpin {

uint64_t MonotonicNs() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return uint64_t(ts.tv_sec) * 1000000000ULL + uint64_t(ts.tv_nsec);
}

const char* OpKindName(OpKind k) {
  switch (k) {
    case OpKind::kIdle: return "idle";
    case OpKind::kWrite: return "write";
    case OpKind::kSync: return "sync";
    case OpKind::kPin: return "pin";
    case OpKind::kUnpin: return "unpin";
    case OpKind::kVerify: return "verify";
  }
  return "?";
}

void BindThreadToSlot(OpSlot* slot) {
  if (slot) slot->tid.store(::gettid(), std::memory_order_release);
}

OpSlot* HangWatchdog::NewSlot(std::string role) {
  slots_.push_back(std::make_unique<OpSlot>());
  slots_.back()->role = std::move(role);
  return slots_.back().get();
}

void HangWatchdog::Start() {
  stop_.store(false);
  thread_ = std::thread([this] { Loop(); });
}

void HangWatchdog::Stop() {
  if (thread_.joinable()) {
    stop_.store(true);
    thread_.join();
  }
}

std::vector<HangReport> HangWatchdog::Reports() const {
  std::lock_guard<std::mutex> g(mu_);
  return reports_;
}

size_t HangWatchdog::StuckNow() const {
  size_t n = 0;
  const uint64_t now = MonotonicNs();
  for (const auto& s : slots_) {
    uint64_t start = s->start_ns.load(std::memory_order_acquire);
    if (start && start < now && now - start > threshold_ns_) ++n;
  }
  return n;
}

void HangWatchdog::Loop() {
  while (!stop_.load()) {
    const uint64_t now = MonotonicNs();
    for (const auto& s : slots_) {
      const uint64_t start = s->start_ns.load(std::memory_order_acquire);
      // An op that started after `now` was taken is young, not 584 years old.
      if (!start || start > now || now - start <= threshold_ns_ || s->reported_start.load() == start)
        continue;
      s->reported_start.store(start);
      HangReport r;
      r.role = s->role;
      r.op = OpKindName(OpKind(s->op.load()));
      r.tid = s->tid.load();
      r.seconds = double(now - start) / 1e9;
      const std::string task = "/proc/self/task/" + std::to_string(r.tid);
      std::ifstream wchan(task + "/wchan");
      std::getline(wchan, r.wchan);
      std::ifstream stack(task + "/stack");
      std::stringstream ss;
      ss << stack.rdbuf();
      r.kernel_stack = ss.str();
      if (r.kernel_stack.empty()) r.kernel_stack = "(kernel stack not readable: needs root)";
      std::lock_guard<std::mutex> g(mu_);
      reports_.push_back(std::move(r));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

}  // namespace longpin
