// reclaim-under-pin (and compact-under-pin): memory pressure on the target's pages while the pinner holds
// windows and writes through them, and a pin-coherence check: a block the pinner wrote through its pin must
// read back through the mapping at that generation or newer (a page migrated, reclaimed or replaced under a
// pin leaves the write in a page the mapping no longer shows). Pressure: compaction (1 >
// /proc/sys/vm/compact_memory, root) for both; for reclaim also madvise(MADV_PAGEOUT) of random ranges of the
// mapping and a helper process in a memory cgroup of its own with a low limit (cgroup v2 memory.max, or v1
// memory.limit_in_bytes where the memory controller is on v1) that touches anonymous memory and reads the
// target, so that target pages are charged to it and reclaimed there.
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <memory>
#include <vector>

#include "core/status.h"
#include "workloads/scenarios/scenario_util.h"
#include "workloads/scenarios/scenarios.h"
#include "workloads/writers.h"

namespace longpin {
namespace {

constexpr uint64_t kCgroupLimit = 64ull << 20;
constexpr double kRoundSeconds = 0.1;
constexpr int kCompactEveryRounds = 5;

bool WriteText(const std::string& path, const std::string& text) {
  std::ofstream f(path);
  f << text;
  f.flush();
  return bool(f);
}

// A memory cgroup of this process's own, removed by its destructor (after the helper in it is gone).
class HelperCgroup {
 public:
  ~HelperCgroup() {
    if (!dir_.empty()) ::rmdir(dir_.c_str());
  }
  // Creates it with the limit; the reason when it cannot.
  std::optional<std::string> Create(uint64_t limit) {
    const std::string name = "longpin-" + std::to_string(::getpid());
    std::ifstream controllers("/sys/fs/cgroup/cgroup.controllers");
    std::string line;
    if (std::getline(controllers, line) && line.find("memory") != std::string::npos) {
      dir_ = "/sys/fs/cgroup/" + name;
      limit_file_ = "memory.max";
    } else {
      // Hybrid hierarchy: the memory controller on v1; nest under this process's own memory cgroup.
      std::ifstream self("/proc/self/cgroup");
      std::string path;
      while (std::getline(self, line)) {
        const auto c1 = line.find(':'), c2 = line.find(':', c1 + 1);
        if (c1 != std::string::npos && c2 != std::string::npos &&
            line.substr(c1 + 1, c2 - c1 - 1) == "memory")
          path = line.substr(c2 + 1);
      }
      struct stat st {};
      if (path.empty() || ::stat("/sys/fs/cgroup/memory/memory.limit_in_bytes", &st) != 0)
        return std::string("no memory cgroup controller (v2 memory.max or v1 memory.limit_in_bytes)");
      dir_ = "/sys/fs/cgroup/memory" + (path == "/" ? std::string() : path) + "/" + name;
      limit_file_ = "memory.limit_in_bytes";
    }
    if (::mkdir(dir_.c_str(), 0755) != 0) {
      std::string why = "mkdir " + dir_ + ": " + std::string(ErrnoName(errno));
      dir_.clear();
      return why;
    }
    if (!WriteText(dir_ + "/" + limit_file_, std::to_string(limit)))
      return "write " + dir_ + "/" + limit_file_;
    return std::nullopt;
  }
  bool Adopt(pid_t pid) const { return WriteText(dir_ + "/cgroup.procs", std::to_string(pid)); }
  const std::string& dir() const { return dir_; }

 private:
  std::string dir_, limit_file_;
};

// The helper: async-signal-safe work only (forked from a threaded process). Waits until the parent moved it
// into the cgroup, then touches anonymous memory (half the limit) and reads the target through its own
// descriptor so that target pages get charged to the cgroup and reclaimed under its limit.
[[noreturn]] void HelperLoop(int go_fd, int target_fd, uint64_t target_bytes, pid_t parent) {
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != parent) ::_exit(0);
  char go;
  if (::read(go_fd, &go, 1) != 1) ::_exit(0);
  const size_t anon_bytes = kCgroupLimit / 2, chunk = 1 << 20;
  auto* anon = static_cast<char*>(
      ::mmap(nullptr, anon_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  auto* buf =
      static_cast<char*>(::mmap(nullptr, chunk, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  if (anon == MAP_FAILED || buf == MAP_FAILED) ::_exit(1);
  uint64_t offset = 0;
  for (unsigned round = 0;; ++round) {
    for (size_t i = 0; i < anon_bytes; i += 4096) anon[i] = char(round);
    for (int i = 0; i < 16; ++i) {
      if (::pread(target_fd, buf, chunk, off_t(offset)) <= 0) offset = 0;
      offset = (offset + chunk) % (target_bytes ? target_bytes : chunk);
    }
  }
}

// Checks the pinner's blocks through the mapping: the generation the pinner is at, minus the write in flight,
// must be there. A block the pinner changed while it was read is skipped.
void CheckCoherence(ScenarioEnv& env, int dma_writer, std::byte* copy, uint64_t* bad, uint64_t* first_bad,
                    std::string* first_detail) {
  WorkloadContext& ctx = env.ctx;
  const size_t bs = ctx.block_size();
  for (uint64_t b = uint64_t(dma_writer); b < ctx.block_count; b += uint64_t(ctx.writer_total)) {
    std::atomic_ref<uint64_t> gen(ctx.generations[b]);
    const uint64_t g1 = gen.load(std::memory_order_acquire);
    // The pinner raises the generation before each write: g1 - 1 completed, g1 may be in flight.
    if (g1 < 2) continue;
    std::memcpy(copy, ctx.map + b * bs, bs);
    const BlockVerdict v = ClassifyBlock(*ctx.pattern, b, copy);
    const bool ok = (v.cls == BlockClass::kIntact && v.generation >= g1 - 1) ||
                    (v.cls == BlockClass::kTorn && !v.has_zero_words && v.min_generation >= g1 - 1);
    env.counters["coherence_checks"]++;
    if (ok || gen.load(std::memory_order_acquire) != g1) continue;
    if ((*bad)++ == 0) {
      *first_bad = b;
      *first_detail = std::string(BlockClassName(v.cls)) + " generation " + std::to_string(v.generation) +
                      ", the pinner had completed generation " + std::to_string(g1 - 1);
    }
  }
}

void RunPressure(ScenarioEnv& env, bool reclaim) {
  WorkloadContext& ctx = env.ctx;
  const RunConfig& cfg = *ctx.config;
  if (!env.pinned_phase) return scenario::IdleUntilStop(env);
  const bool root = ::geteuid() == 0;
  const bool file_mapping = cfg.mapping == MappingKind::kShared || cfg.mapping == MappingKind::kPrivate;
  const int dma_writer = (cfg.writers.dma > 0 && env.pinner && env.pinner->can_write())
                             ? cfg.writers.cpu + cfg.writers.pwrite
                             : -1;
  if (dma_writer < 0)
    env.notes.push_back(
        "the pinner does not write through its pin (--writers dma:1 and a writing pinner): no "
        "coherence check, pressure only");
  if (!root) env.notes.push_back("not root: no compaction and no memory cgroup; MADV_PAGEOUT only");

  HelperCgroup cgroup;
  pid_t helper = -1;
  int go[2] = {-1, -1};
  if (reclaim && root) {
    if (auto why = cgroup.Create(kCgroupLimit)) {
      env.notes.push_back("memory cgroup: " + *why + "; reclaim by MADV_PAGEOUT only");
    } else if (::pipe2(go, O_CLOEXEC) == 0) {
      const pid_t parent = ::getpid();
      helper = ::fork();
      if (helper == 0) HelperLoop(go[0], ctx.fd, ctx.map_length, parent);
      if (helper > 0 && cgroup.Adopt(helper)) {
        (void)!::write(go[1], "g", 1);
        env.counters["cgroup_helper"] = 1;
      } else if (helper > 0) {
        env.notes.push_back("could not move the helper into " + cgroup.dir() +
                            ": reclaim by MADV_PAGEOUT only");
        ::kill(helper, SIGKILL);
      }
    }
  }

  std::unique_ptr<std::byte[]> copy(new std::byte[ctx.block_size()]);
  const uint64_t page = uint64_t(::sysconf(_SC_PAGESIZE));
  const uint64_t pages = ctx.map_length / page;
  SplitMix rng{env.seed};
  uint64_t bad = 0, first_bad = 0;
  std::string first_detail;
  for (int round = 0; !ctx.phase_stop.load(); ++round) {
    if (root && round % kCompactEveryRounds == 0) {
      OpScope op(env.slot, OpKind::kWrite);
      if (WriteText("/proc/sys/vm/compact_memory", "1")) env.counters["compactions"]++;
      else env.counters["compact_memory failed"]++;
    }
    if (reclaim && file_mapping) {
      const uint64_t len = std::min<uint64_t>(pages, 1 + rng.Next() % 256);
      const uint64_t first = rng.Next() % (pages - len + 1);
      OpScope op(env.slot, OpKind::kWrite);
      if (::madvise(ctx.map + first * page, len * page, MADV_PAGEOUT) == 0)
        env.counters["pageout_pages"] += len;
      else env.counters[std::string("madvise MADV_PAGEOUT ") + std::string(ErrnoName(errno))]++;
    }
    if (dma_writer >= 0) CheckCoherence(env, dma_writer, copy.get(), &bad, &first_bad, &first_detail);
    if (bad) break;
    if (!scenario::Pause(env, kRoundSeconds)) break;
  }
  // A last check once the pinner has stopped writing would need the phase's end: the pin driver runs until
  // the same stop flag, so the checks above are what the phase gets.
  if (helper > 0) {
    ::kill(helper, SIGKILL);
    int status = 0;
    while (::waitpid(helper, &status, 0) < 0 && errno == EINTR) {
    }
  }
  if (go[0] >= 0) ::close(go[0]);
  if (go[1] >= 0) ::close(go[1]);
  env.counters["coherence_failures"] += bad;
  if (bad)
    env.failures.push_back("pin coherence: block " + std::to_string(first_bad) + " (offset " +
                           std::to_string(first_bad * ctx.block_size()) + ") reads through the mapping as " +
                           first_detail + "; " + std::to_string(bad) +
                           " block(s) in all: a DMA write through the pin is not visible in the mapping");
  scenario::IdleUntilStop(env);
}

void RunReclaim(ScenarioEnv& env) {
  RunPressure(env, true);
}
void RunCompact(ScenarioEnv& env) {
  RunPressure(env, false);
}

}  // namespace

const ScenarioInfo kReclaimUnderPin = {
    "reclaim-under-pin",
    "reclaim (MADV_PAGEOUT, a helper in a low-limit memory cgroup) and compaction over pinned windows; DMA "
    "writes through the pin must stay visible in the mapping",
    RunReclaim};

const ScenarioInfo kCompactUnderPin = {"compact-under-pin",
                                       "compaction (/proc/sys/vm/compact_memory) over pinned windows; DMA "
                                       "writes through the pin must stay visible "
                                       "in the mapping",
                                       RunCompact};

}  // namespace longpin
