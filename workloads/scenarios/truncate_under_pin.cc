// truncate-under-pin: while the pinner holds windows and writes through them, punch holes
// (FALLOC_FL_PUNCH_HOLE | KEEP_SIZE) over the file and truncate its tail away and back. Each punch is logged
// twice, a start record before the call and an end record after it (verifiers/expected_state.cc): data
// written before the start must never reappear (the oracle requires zeros or a later generation), writes in
// flight across the punch promise nothing, later writes are promised as usual.
#include <fcntl.h>
#include <linux/falloc.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "core/status.h"
#include "workloads/scenarios/scenario_util.h"
#include "workloads/scenarios/scenarios.h"
#include "workloads/writers.h"

namespace longpin {
namespace {

// A writer's completion is logged right after its syscall returns, but a writer preempted in between (the
// punch's wakeup preempting it is the common case) may log after the punch returned: the end record waits
// this long so that such a write is logged before it, where it promises nothing.
constexpr double kEndRecordDelay = 0.02;
constexpr double kPunchInterval = 0.05;

// Runs one punch-like call over [offset, offset + bytes) between its two log records. false: the call failed
// (the start record stays unmatched: the range promises nothing from then on, which is weaker, never wrong).
bool LoggedPunch(ScenarioEnv& env, uint64_t offset, uint64_t bytes, const char* what,
                 int (*call)(WorkloadContext&, uint64_t, uint64_t, uint64_t), uint64_t file_size) {
  env.lane->Append(RecordType::kPunch, 0, 0, 1, offset, bytes);
  int rc;
  {
    OpScope op(env.slot, OpKind::kWrite);
    rc = call(env.ctx, offset, bytes, file_size);
  }
  if (rc != 0) {
    const int err = errno;
    env.counters[std::string(what) + " " + std::string(ErrnoName(err))]++;
    if (env.notes.size() < 8)
      env.notes.push_back(std::string(what) + " of [" + std::to_string(offset) + ", +" +
                          std::to_string(bytes) + ") failed: " + std::string(ErrnoName(err)));
    return false;
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(kEndRecordDelay));
  env.lane->Append(RecordType::kPunch, 0, 0, 0, offset, bytes);
  env.counters[std::string(what) + "_done"]++;
  env.counters[std::string(what) + "_bytes"] += bytes;
  return true;
}

int PunchHole(WorkloadContext& ctx, uint64_t offset, uint64_t bytes, uint64_t) {
  return ::fallocate(ctx.fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off_t(offset), off_t(bytes));
}

// Truncates the file to `offset` and extends it back to its size: the tail reads as zeros.
int TruncateTail(WorkloadContext& ctx, uint64_t offset, uint64_t, uint64_t file_size) {
  // Re-extend at once: until then the CPU writers' stores beyond the end fault (logged as failed writes) and
  // the pinner's IO into the mapping there fails with EFAULT; the odd epoch tells the pin driver that such an
  // EFAULT is this scenario's doing (workload_context.h).
  ctx.truncate_epoch.fetch_add(1, std::memory_order_acq_rel);
  int rc = ::ftruncate(ctx.fd, off_t(offset));
  if (rc == 0) {
    while ((rc = ::ftruncate(ctx.fd, off_t(file_size))) != 0 && errno == EINTR) {
    }
  }
  const int err = errno;
  ctx.truncate_epoch.fetch_add(1, std::memory_order_acq_rel);
  errno = err;
  return rc;
}

void Run(ScenarioEnv& env) {
  WorkloadContext& ctx = env.ctx;
  const RunConfig& cfg = *ctx.config;
  if (!env.pinned_phase) return scenario::IdleUntilStop(env);
  if (cfg.mapping != MappingKind::kShared && cfg.mapping != MappingKind::kMemfd) {
    env.notes.push_back(std::string("needs a shared file or memfd mapping, not ") + MappingName(cfg.mapping) +
                        ": nothing punched");
    return scenario::IdleUntilStop(env);
  }
  if (cfg.writers.cpu > 0) {
    // A CPU store sequence cut by the punch's unmap refaults a zeroed page and finishes there: a torn block
    // the kernel made correctly, which the oracle cannot tell from damage. pwrite and DMA writes are atomic
    // per block against a punch.
    env.notes.push_back(
        "CPU writers tear blocks legitimately when a punch cuts their stores: nothing punched; "
        "use --writers pwrite:N,dma:N");
    return scenario::IdleUntilStop(env);
  }
  struct stat st {};
  if (::fstat(ctx.fd, &st) != 0) {
    env.failures.push_back("fstat of the target: " + std::string(ErrnoName(errno)));
    return;
  }
  const uint64_t file_size = uint64_t(st.st_size);
  const uint64_t page = uint64_t(::sysconf(_SC_PAGESIZE));
  const uint64_t unit = std::max<uint64_t>(page, ctx.block_size());
  const uint64_t units = ctx.map_length / unit;
  if (units < 4) return scenario::IdleUntilStop(env);
  SplitMix rng{env.seed};
  for (uint64_t round = 0; !ctx.phase_stop.load(); ++round) {
    if (round % 4 == 3) {
      // The tail: up to an eighth of the file.
      const uint64_t tail = 1 + rng.Next() % std::max<uint64_t>(1, units / 8);
      if (!LoggedPunch(env, (units - tail) * unit, tail * unit, "truncate", TruncateTail, file_size)) break;
    } else {
      // Holes up to a quarter of the file: with a whole-file pin window, in-flight DMA lands inside often.
      const uint64_t len = 1 + rng.Next() % std::max<uint64_t>(1, units / 4);
      const uint64_t first = rng.Next() % (units - len + 1);
      if (!LoggedPunch(env, first * unit, len * unit, "punch", PunchHole, file_size)) break;
    }
    if (!scenario::Pause(env, kPunchInterval)) break;
  }
  scenario::IdleUntilStop(env);
}

}  // namespace

const ScenarioInfo kTruncateUnderPin = {"truncate-under-pin",
                                        "punch holes and truncate the tail away and back over pinned windows "
                                        "while the pinner writes through them",
                                        Run};

}  // namespace longpin
