// PhaseThreads: the threads of one phase, joinable with a deadline. std::thread cannot be joined with a
// timeout, and a thread stuck in the kernel (a deadlocked writeback, a pin that never returns) must not hang
// the caller: each thread counts itself done on its way out, the run waits for the count with a deadline, and
// threads that missed it are detached and left to the kernel (the run then ends without cleanup, see run.h).
#pragma once

#include <sys/types.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

namespace longpin {

class PhaseThreads {
 public:
  PhaseThreads() = default;
  PhaseThreads(const PhaseThreads&) = delete;
  PhaseThreads& operator=(const PhaseThreads&) = delete;
  // Threads still running here were given up on by JoinUntil's caller: they are detached, never joined.
  ~PhaseThreads() {
    for (auto& t : threads_)
      if (t.joinable()) t.detach();
  }

  // Same arguments as std::thread's constructor (copied, std::ref for references).
  template <typename F, typename... Args>
  void emplace_back(F&& f, Args&&... args) {
    auto state = std::make_shared<Entry>();
    entries_.push_back(state);
    threads_.emplace_back([shared = shared_, state, fn = std::forward<F>(f),
                           bound = std::tuple<std::decay_t<Args>...>(std::forward<Args>(args)...)]() mutable {
      state->tid.store(::gettid());
      std::apply([&](auto&... a) { std::invoke(fn, std::move(a)...); }, bound);
      std::lock_guard<std::mutex> g(shared->mu);
      state->done.store(true);
      shared->cv.notify_all();
    });
  }

  // Waits until every thread returned or the deadline passed; joins those that returned. True when all did.
  bool JoinUntil(std::chrono::steady_clock::time_point deadline) {
    {
      std::unique_lock<std::mutex> lock(shared_->mu);
      shared_->cv.wait_until(lock, deadline, [&] {
        for (const auto& e : entries_)
          if (!e->done.load()) return false;
        return true;
      });
    }
    bool all = true;
    for (size_t i = 0; i < threads_.size(); ++i) {
      if (!threads_[i].joinable()) continue;
      if (entries_[i]->done.load()) threads_[i].join();
      else all = false;
    }
    return all;
  }

  // Thread ids of the threads that have not returned (valid after JoinUntil returned false).
  std::vector<pid_t> StuckTids() const {
    std::vector<pid_t> out;
    for (size_t i = 0; i < threads_.size(); ++i)
      if (threads_[i].joinable() && !entries_[i]->done.load()) out.push_back(entries_[i]->tid.load());
    return out;
  }

 private:
  struct Shared {
    std::mutex mu;
    std::condition_variable cv;
  };
  struct Entry {
    std::atomic<bool> done{false};
    std::atomic<pid_t> tid{0};
  };
  // Shared with the threads, so a detached thread that returns late still finds them alive.
  std::shared_ptr<Shared> shared_ = std::make_shared<Shared>();
  std::vector<std::shared_ptr<Entry>> entries_;
  std::vector<std::thread> threads_;
};

}  // namespace longpin
