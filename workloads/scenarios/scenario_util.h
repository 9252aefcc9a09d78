// Helpers shared by the scenario actors (workloads/scenarios/*.cc): waiting that ends with the phase, and
// where the target lives.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <thread>

#include "workloads/scenario.h"

namespace longpin::scenario {

// Sleeps up to `seconds`, waking early when the phase ends; false when it ended.
inline bool Pause(const ScenarioEnv& env, double seconds) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < end) {
    if (env.ctx.phase_stop.load(std::memory_order_relaxed)) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return !env.ctx.phase_stop.load(std::memory_order_relaxed);
}

inline void IdleUntilStop(const ScenarioEnv& env) {
  while (Pause(env, 1.0)) {
  }
}

// The target's path from its open descriptor; nullopt when it is not a file in a directory (memfd).
std::optional<std::string> TargetPath(int fd);
// The directory holding path.
std::string DirectoryOf(const std::string& path);

}  // namespace longpin::scenario
