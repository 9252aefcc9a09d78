// fork-under-pin: with a private mapping pinned by the pinner, fork a child that writes stamped blocks of its
// own run id all over the same mapping (its own copy-on-write copies) while the parent's writers and pinner
// carry on; after the child exited, no block of the parent's mapping may hold the child's run id: pinned data
// stays with the process that pinned it (the vmsplice/COW bugs of 5.7 and before leaked the other way too).
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>
#include <memory>
#include <vector>

#include "core/status.h"
#include "workloads/scenarios/scenario_util.h"
#include "workloads/scenarios/scenarios.h"
#include "workloads/writers.h"

namespace longpin {
namespace {

constexpr double kChildSeconds = 0.2;
constexpr double kForkInterval = 0.1;

// The child: only async-signal-safe work after fork (the parent has other threads): stamping is plain stores
// into memory prepared before the fork.
[[noreturn]] void ChildWrites(const StampPattern& pattern, std::byte* map, uint64_t block_count, size_t bs,
                              pid_t parent, uint64_t seed) {
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != parent) ::_exit(0);
  timespec start{}, now{};
  ::clock_gettime(CLOCK_MONOTONIC, &start);
  SplitMix rng{seed};
  StampId id{pattern.run_id(), 0, 1, WriterKind::kCpu, 0, 0};
  for (;;) {
    for (int i = 0; i < 64; ++i) {
      id.block = rng.Next() % block_count;
      StampBlock(pattern, id, map + id.block * bs);
    }
    ::clock_gettime(CLOCK_MONOTONIC, &now);
    if (double(now.tv_sec - start.tv_sec) + double(now.tv_nsec - start.tv_nsec) / 1e9 > kChildSeconds)
      ::_exit(0);
  }
}

// Waits for the child; kills it when the phase ends first. Always reaps it.
int ReapChild(ScenarioEnv& env, pid_t child) {
  int status = 0;
  for (;;) {
    const pid_t r = ::waitpid(child, &status, WNOHANG);
    if (r == child) return status;
    if (r < 0 && errno != EINTR) return -1;
    if (env.ctx.phase_stop.load()) ::kill(child, SIGKILL);
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

void Run(ScenarioEnv& env) {
  WorkloadContext& ctx = env.ctx;
  const RunConfig& cfg = *ctx.config;
  if (cfg.mapping != MappingKind::kPrivate) {
    if (env.pinned_phase)
      env.notes.push_back(std::string("needs --mapping private (the child's copies), not ") +
                          MappingName(cfg.mapping) + ": no fork");
    return scenario::IdleUntilStop(env);
  }
  const size_t bs = ctx.block_size();
  SplitMix rng{env.seed};
  // The child's run id differs from the parent's, so any of its blocks in the parent's mapping is foreign.
  uint64_t child_run = rng.Next();
  if (child_run == ctx.run_id) ++child_run;
  // Built before the fork: the child must not allocate.
  const auto child_pattern = std::make_unique<StampPattern>(child_run, bs);
  const pid_t parent = ::getpid();
  uint64_t leaked_blocks = 0, first_leak = UINT64_MAX;

  while (!ctx.phase_stop.load()) {
    const uint64_t child_seed = rng.Next();
    pid_t child;
    {
      OpScope op(env.slot, OpKind::kWrite);
      child = ::fork();
    }
    if (child < 0) {
      env.counters[std::string("fork ") + std::string(ErrnoName(errno))]++;
      if (!scenario::Pause(env, kForkInterval)) break;
      continue;
    }
    if (child == 0) ChildWrites(*child_pattern, ctx.map, ctx.block_count, bs, parent, child_seed);
    const int status = ReapChild(env, child);
    env.counters["forks"]++;
    if (status >= 0 && WIFSIGNALED(status) && WTERMSIG(status) != SIGKILL)
      env.counters["child died of signal " + std::to_string(WTERMSIG(status))]++;

    // The parent's view: no block may carry the child's run id.
    for (uint64_t b = 0; b < ctx.block_count; ++b) {
      const BlockVerdict v = ClassifyBlock(*ctx.pattern, b, ctx.map + b * bs);
      if (v.cls == BlockClass::kForeign && v.found_run == child_run) {
        ++leaked_blocks;
        first_leak = std::min(first_leak, b);
      }
    }
    env.counters["blocks_checked"] += ctx.block_count;
    if (leaked_blocks) break;
    if (!scenario::Pause(env, kForkInterval)) break;
  }
  env.counters["child_blocks_in_parent"] += leaked_blocks;
  if (leaked_blocks)
    env.failures.push_back(std::to_string(leaked_blocks) +
                           " block(s) of the parent's private mapping hold the "
                           "forked child's writes (first: block " +
                           std::to_string(first_leak) + ", offset " + std::to_string(first_leak * bs) +
                           "): the child wrote into the parent's pinned pages");
  scenario::IdleUntilStop(env);
}

}  // namespace

const ScenarioInfo kForkUnderPin = {"fork-under-pin",
                                    "fork children that write their own run's blocks into the pinned private "
                                    "mapping; none may show in the parent",
                                    Run};

}  // namespace longpin
