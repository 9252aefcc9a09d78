// dio-journal: O_DIRECT writes whose source buffer is the target A's own shared mapping, racing the buffered
// writeback of A (writers dirty it, syncers fsync it): the kernel pins A's pages as the source of each DIO
// while A's writeback and journal commit want them (the lock-order case of the 2018 discussion). Two
// destinations: a second file B in A's directory, and A itself beyond the blocks the writers use (A is
// extended for that; the verifier reads only the writers' blocks). No data is checked here: the hang watchdog
// is the check (a DIO that does not return within --hang-threshold is a hang; a phase whose threads do not
// return ends the run with exit 1, see workloads/run.h).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "core/status.h"
#include "workloads/scenarios/scenario_util.h"
#include "workloads/scenarios/scenarios.h"
#include "workloads/writers.h"

namespace longpin {
namespace {

constexpr uint64_t kMaxIo = 1ull << 20;
constexpr uint64_t kDestBytes = 16ull << 20;  // B's size, and the region of A beyond the writers' blocks

struct Destination {
  const char* name;
  int fd = -1;
  uint64_t base = 0;  // first byte this scenario owns in the destination file
};

// One O_DIRECT write of [src_off, src_off + len) of A's mapping into dest at base + dest_off.
void DioWrite(ScenarioEnv& env, Destination& d, uint64_t src_off, uint64_t dest_off, uint64_t len) {
  ssize_t n;
  {
    OpScope op(env.slot, OpKind::kWrite);
    do {
      n = ::pwrite(d.fd, env.ctx.map + src_off, len, off_t(d.base + dest_off));
    } while (n < 0 && errno == EINTR);
  }
  if (n == ssize_t(len)) {
    env.counters[std::string("dio_writes_") + d.name]++;
    env.counters[std::string("dio_bytes_") + d.name] += len;
  } else {
    const int err = n < 0 ? errno : EIO;
    env.counters[std::string("dio_") + d.name + " " + std::string(ErrnoName(err))]++;
  }
}

void Run(ScenarioEnv& env) {
  WorkloadContext& ctx = env.ctx;
  const RunConfig& cfg = *ctx.config;
  if (!env.pinned_phase) return scenario::IdleUntilStop(env);  // the baseline stays free of pins
  auto path = scenario::TargetPath(ctx.fd);
  if (!path || cfg.mapping != MappingKind::kShared) {
    env.notes.push_back(std::string("needs a shared mapping of a file on the filesystem under test, not ") +
                        MappingName(cfg.mapping) + ": no O_DIRECT writes");
    return scenario::IdleUntilStop(env);
  }
  // B: a file next to A (same filesystem, same journal), removed at the end of the phase.
  const std::string b_path = scenario::DirectoryOf(*path) + "/longpin-dio-b-" + std::to_string(::getpid()) +
                             "-" + std::to_string(ctx.phase_index);
  Destination b{"b"}, self{"a"};
  b.fd = ::open(b_path.c_str(), O_CREAT | O_EXCL | O_RDWR | O_DIRECT | O_CLOEXEC, 0600);
  if (b.fd < 0) {
    env.failures.push_back("open O_DIRECT " + b_path + ": " + std::string(ErrnoName(errno)));
    return scenario::IdleUntilStop(env);
  }
  if (::ftruncate(b.fd, off_t(kDestBytes)) != 0)
    env.notes.push_back("ftruncate " + b_path + ": " + std::string(ErrnoName(errno)));
  // A itself, past the end of the writers' blocks: growing A does not change any block the run verifies.
  self.base = ctx.block_count * ctx.block_size();
  self.fd = ::open(("/proc/self/fd/" + std::to_string(ctx.fd)).c_str(), O_RDWR | O_DIRECT | O_CLOEXEC);
  struct stat st {};
  if (self.fd >= 0 && ::fstat(self.fd, &st) == 0 && uint64_t(st.st_size) < self.base + kDestBytes &&
      ::ftruncate(self.fd, off_t(self.base + kDestBytes)) != 0) {
    env.notes.push_back("extending the target for the self-referential O_DIRECT writes: " +
                        std::string(ErrnoName(errno)) + "; only A->B runs");
    ::close(self.fd);
    self.fd = -1;
  } else if (self.fd < 0) {
    env.notes.push_back("reopening the target O_DIRECT: " + std::string(ErrnoName(errno)) +
                        "; only A->B runs");
  }

  const uint64_t page = uint64_t(::sysconf(_SC_PAGESIZE));
  const uint64_t pages = ctx.map_length / page;
  SplitMix rng{env.seed};
  while (!ctx.phase_stop.load(std::memory_order_relaxed)) {
    const uint64_t len = std::min<uint64_t>(page * (1 + rng.Next() % (kMaxIo / page)), ctx.map_length);
    const uint64_t src = (rng.Next() % (pages - len / page + 1)) * page;
    const uint64_t dest = (rng.Next() % ((kDestBytes - len) / page + 1)) * page;
    Destination& d = (self.fd >= 0 && rng.Next() % 2) ? self : b;
    DioWrite(env, d, src, dest, len);
  }
  ::close(b.fd);
  if (::unlink(b_path.c_str()) != 0)
    env.notes.push_back("unlink " + b_path + ": " + std::string(ErrnoName(errno)));
  if (self.fd >= 0) ::close(self.fd);
}

}  // namespace

const ScenarioInfo kDioJournal = {
    "dio-journal",
    "O_DIRECT writes sourced from the target's pinned mapping into a second file and into the target itself, "
    "racing the target's writeback; the hang watchdog is the check",
    Run};

}  // namespace longpin
