#include "cli/run_options.h"

#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstdlib>

#include "core/block_stamp.h"
#include "core/run_directory.h"
#include "core/scratch_fs.h"
#include "core/units.h"
#include "pinners/pinner.h"
#include "workloads/race_script.h"
#include "workloads/scenario.h"

namespace longpin {
namespace {

uint64_t FreeBytes(const std::string& path) {
  struct statvfs sv {};
  if (::statvfs(path.c_str(), &sv) != 0) return UINT64_MAX;
  return uint64_t(sv.f_bavail) * sv.f_frsize;
}

// The nearest existing ancestor of path (the work base may not exist yet).
std::string ExistingAncestor(std::string path) {
  struct stat st {};
  while (!path.empty() && ::stat(path.c_str(), &st) != 0) {
    auto slash = path.rfind('/');
    path = slash == 0 ? "/" : (slash == std::string::npos ? "." : path.substr(0, slash));
  }
  return path.empty() ? "/" : path;
}

// The filesystem under test exists, and the target's size is whole blocks and pages.
std::optional<std::string> CheckFsAndSize(RunConfig& cfg, const RunOptionText& t) {
  if (!t.fs.empty()) cfg.fs = t.fs;
  if (cfg.fs.rfind("dir:", 0) == 0) {
    const std::string path = cfg.fs.substr(4);
    struct stat st {};
    if (path.empty() || ::stat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
      return "--fs " + cfg.fs + ": no such directory (give an existing directory: --fs dir:/path)";
  } else if (!ParseFsType(cfg.fs)) {
    return "--fs " + cfg.fs + ": unknown filesystem (ext4, xfs, btrfs, f2fs or dir:PATH)";
  }
  if (!t.size.empty()) {
    auto v = ParseSize(t.size);
    if (!v || *v == 0) return "--size " + t.size + ": not a size (e.g. 256M, 1G)";
    cfg.size = *v;
  }
  if (!t.block_size.empty()) {
    auto v = ParseSize(t.block_size);
    if (!v) return "--block-size " + t.block_size + ": not a size (e.g. 4k)";
    cfg.block_size = *v;
  }
  if (cfg.block_size < kMinBlockSize || cfg.block_size > kMaxBlockSize ||
      (cfg.block_size & (cfg.block_size - 1)))
    return "--block-size " + std::to_string(cfg.block_size) + ": must be a power of two from 512 to 2M";
  const uint64_t page = uint64_t(::sysconf(_SC_PAGESIZE));
  const uint64_t unit = std::max(cfg.block_size, page);
  if (cfg.size % unit != 0)
    return "--size " + std::to_string(cfg.size) + ": must be a multiple of " + std::to_string(unit) +
           " (the block size and the page size)";
  return std::nullopt;
}

// The writer mix: KIND:COUNT entries.
std::optional<std::string> ParseWriters(RunConfig& cfg, const RunOptionText& t) {
  if (!t.writers.empty()) {
    cfg.writers = WriterCounts{0, 0, 0};
    for (const auto& part : SplitCommaList(t.writers)) {
      auto colon = part.find(':');
      std::string kind = part.substr(0, colon);
      int n = 1;
      if (colon != std::string::npos) {
        try {
          size_t used = 0;
          n = std::stoi(part.substr(colon + 1), &used);
          if (used != part.size() - colon - 1) throw std::invalid_argument("trailing");
        } catch (const std::exception&) {
          return "--writers " + t.writers + ": '" + part + "' is not KIND:COUNT";
        }
      }
      if (n < 0 || n > 64) return "--writers " + t.writers + ": count must be 0..64";
      if (kind == "cpu") cfg.writers.cpu = n;
      else if (kind == "pwrite") cfg.writers.pwrite = n;
      else if (kind == "dma") cfg.writers.dma = n;
      else return "--writers " + t.writers + ": unknown writer kind '" + kind + "' (cpu, pwrite, dma)";
    }
  }
  return std::nullopt;
}

// The sync op and its pace, the phases, and the timings of hangs and pin windows.
std::optional<std::string> ParseSyncAndTimes(RunConfig& cfg, const RunOptionText& t) {
  const uint64_t page = uint64_t(::sysconf(_SC_PAGESIZE));
  if (!t.sync.empty()) {
    auto colon = t.sync.find(':');
    auto op = ParseSyncOpName(t.sync.substr(0, colon));
    if (!op) return "--sync " + t.sync + ": unknown op (fsync, fdatasync, msync, sync_file_range, syncfs)";
    cfg.sync_op = *op;
    if (colon != std::string::npos && t.sync.substr(colon + 1) == "each-write") {
      cfg.sync_each_write = true;
    } else if (colon != std::string::npos) {
      auto d = ParseDuration(t.sync.substr(colon + 1));
      if (!d || *d <= 0)
        return "--sync " + t.sync + ": after the colon, a positive interval (e.g. 10ms) or each-write";
      cfg.sync_interval_s = *d;
    }
  }
  if (!t.duration.empty()) {
    auto d = ParseDuration(t.duration);
    if (!d || *d <= 0) return "--duration " + t.duration + ": must be a positive duration (e.g. 5s)";
    cfg.duration_s = *d;
  }
  if (!t.phases.empty()) {
    cfg.phases = SplitCommaList(t.phases);
    if (cfg.phases.empty()) return "--phases: give at least one of baseline, pinned";
    for (const auto& p : cfg.phases)
      if (p != "baseline" && p != "pinned")
        return "--phases " + t.phases + ": unknown phase '" + p + "' (baseline, pinned)";
  }
  if (!t.hang_threshold.empty()) {
    auto d = ParseDuration(t.hang_threshold);
    if (!d || *d <= 0) return "--hang-threshold " + t.hang_threshold + ": must be a positive duration";
    cfg.hang_threshold_s = *d;
  }
  if (!t.pin_window.empty()) {
    auto v = ParseSize(t.pin_window);
    if (!v || *v < page) return "--pin-window " + t.pin_window + ": must be a size of at least one page";
    cfg.pin_window = *v;
  }
  if (!t.pin_rotate.empty()) {
    auto d = ParseDuration(t.pin_rotate);
    if (!d || *d <= 0) return "--pin-rotate " + t.pin_rotate + ": must be a positive duration";
    cfg.pin_rotate_s = *d;
  }
  return std::nullopt;
}

// How the pinner pins: access and hold.
std::optional<std::string> ParsePinAccess(RunConfig& cfg, const RunOptionText& t) {
  if (!t.pin_access.empty()) {
    if (t.pin_access == "rw") cfg.pinner_options.access = PinAccess::kReadWrite;
    else if (t.pin_access == "ro") cfg.pinner_options.access = PinAccess::kReadOnly;
    else return "--pin-access " + t.pin_access + ": must be rw or ro";
  }
  if (!t.pin_hold.empty()) {
    auto d = ParseDuration(t.pin_hold);
    if (!d) return "--pin-hold " + t.pin_hold + ": not a duration";
    cfg.pinner_options.Set("hold", t.pin_hold, true);
  }
  return std::nullopt;
}

// Options that another option makes meaningless are refused, not ignored.
std::optional<std::string> CheckConflicts(RunConfig& cfg, const RunOptionText& t) {
  if (cfg.writers.total() == 0) return "--writers: at least one writer is needed";
  // Options that another option makes meaningless are refused, not ignored.
  if (!cfg.target.empty() && t.fs_given)
    return "--target " + cfg.target + " and --fs " + t.fs +
           ": the target's directory is its filesystem; give one of them";
  if (!t.mapping.empty() && t.fs_given &&
      (t.mapping == "memfd" || t.mapping == "thp" || t.mapping == "hugetlb"))
    return "--mapping " + t.mapping + " lives in memory, not on --fs " + t.fs +
           ": leave --fs out, or use --mapping shared|private";
  if (!cfg.state_dir.empty() && t.crash != "power-cut" && cfg.allow_shutdown_of.empty())
    return "--state-dir " + cfg.state_dir +
           ": only a two-phase run keeps state (--crash power-cut, or --crash "
           "shutdown with --allow-shutdown-of)";
  if (!t.pin_hold.empty() && cfg.pinner != "fuse")
    return "--pin-hold " + t.pin_hold + ": only the fuse pinner holds its IO (pinner " + cfg.pinner +
           " does not)";
  if (t.pin_access == "ro" && (cfg.pinner == "io_uring" || cfg.pinner == "fuse"))
    return "--pin-access ro: the " + cfg.pinner +
           " pinner always pins for writing (use rdma, cuda or vmsplice)";
  if (!t.contract.empty()) {
    if (t.contract == "strict") cfg.contract_strict = true;
    else if (t.contract == "kernel") cfg.contract_strict = false;
    else return "--contract " + t.contract + ": must be kernel or strict";
  }
  return std::nullopt;
}

// A race script replaces the phases: it runs alone, on windows a FUSE request holds whole.
std::optional<std::string> CheckRace(RunConfig& cfg, const RunOptionText& t) {
  if (!t.race.empty()) {
    auto script = ParseRaceScript(t.race);
    if (!script.ok()) return "--race: " + script.status().message();
    if (Status s = CheckRaceScript(*script, RaceCapabilitiesOf(cfg.pinner), cfg.pinner); !s.ok())
      return "--race: " + s.message() + " (pinner " + cfg.pinner + ")";
    cfg.race = t.race;
    // One FUSE request carries up to 128 KiB: a window of 64 KiB is held by one request, whole.
    if (t.pin_window.empty()) cfg.pin_window = 64 << 10;
    if (!t.crash.empty() && t.crash != "none")
      return "--crash " + t.crash + ": a race script crashes with its crash step, not a crash model";
    if (!cfg.scenario.empty()) return "--race: a race script runs alone, without --scenario/--pressure";
    // A race script judges each window by reading the file back: stores into a private mapping never reach
    // it.
    if (t.mapping == "private")
      return "--race with --mapping private: the window is read back from the file, which private stores "
             "never "
             "reach; use --mapping shared or memfd";
  }
  return std::nullopt;
}

// The pinner's own options, the mapping, and the memory-pressure actor.
std::optional<std::string> ParseMappingAndActors(RunConfig& cfg, const RunOptionText& t) {
  if (Status s = CheckPinnerOptions(cfg.pinner, cfg.pinner_options); !s.ok()) return s.what();
  if (!t.mapping.empty()) {
    auto m = ParseMapping(t.mapping);
    if (!m) return "--mapping " + t.mapping + ": unknown mapping (shared, private, memfd, thp, hugetlb)";
    cfg.mapping = *m;
  }
  if (cfg.mapping == MappingKind::kPrivate && cfg.writers.pwrite > 0)
    return "--mapping private: pwrite writers write the file, which a private mapping does not show; use "
           "--writers cpu:N[,dma:N]";
  if (!t.pressure.empty()) {
    if (t.pressure != "compact" && t.pressure != "reclaim")
      return "--pressure " + t.pressure + ": must be compact or reclaim";
    const std::string actor = t.pressure + "-under-pin";
    if (!cfg.scenario.empty() && cfg.scenario != actor)
      return "--pressure " + t.pressure + ": the scenario " + cfg.scenario +
             " already runs (one actor per run)";
    cfg.scenario = actor;
  }
  if (!cfg.scenario.empty() && !FindScenario(cfg.scenario)) {
    std::string names;
    for (const auto& s : ScenarioRegistry()) names += (names.empty() ? "" : ", ") + std::string(s.name);
    return "--scenario " + cfg.scenario + ": unknown scenario (" + names + ")";
  }
  return std::nullopt;
}

// The crash model and the exact target, if given.
std::optional<std::string> ParseCrashAndTarget(RunConfig& cfg, const RunOptionText& t) {
  if (!t.crash.empty()) {
    if (t.crash == "none") cfg.crash = CrashKind::kNone;
    else if (t.crash == "shutdown") cfg.crash = CrashKind::kShutdown;
    else if (t.crash == "power-cut") cfg.crash = CrashKind::kPowerCut;
    else if (t.crash == "log-writes") cfg.crash = CrashKind::kLogWrites;
    else return "--crash " + t.crash + ": unknown crash model (none, shutdown, power-cut, log-writes)";
  }
  if (!t.crash_at.empty()) {
    auto d = ParseDuration(t.crash_at);
    if (!d) return "--crash-at " + t.crash_at + ": not a duration";
    cfg.crash_at_s = *d;
  }
  if (cfg.crash != CrashKind::kNone && cfg.mapping != MappingKind::kShared)
    return "--crash " + t.crash + ": crash checks read the file on disk; use --mapping shared";
  if (!cfg.target.empty()) {
    struct stat st {};
    if (::lstat(cfg.target.c_str(), &st) == 0)
      return "--target " + cfg.target +
             ": exists; longpin only tests a file it creates (remove it or name another)";
    const auto slash = cfg.target.rfind('/');
    const std::string parent =
        slash == std::string::npos ? "." : (slash == 0 ? "/" : cfg.target.substr(0, slash));
    if (::stat(parent.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
      return "--target " + cfg.target + ": directory " + parent + " does not exist";
    cfg.fs = "dir:" + parent;
  }
  return std::nullopt;
}

std::optional<std::string> FallBackToDirWhenNotRoot(RunConfig& cfg, const RunOptionText& t) {
  // Not root: the scratch filesystem needs a loop device and mount. With the default --fs, fall back to a
  // temp directory and say so; an explicit --fs ext4 etc. is refused by the run (exit 77).
  if (!t.fs_given && cfg.target.empty() && ::geteuid() != 0) {
    const char* tmp = std::getenv("TMPDIR");
    cfg.fs = std::string("dir:") + (tmp && *tmp ? tmp : "/tmp");
    cfg.fell_back_to_dir = true;
    cfg.fallback_reason =
        "not root: no scratch filesystem (needs a loop device and mount); testing a file in " +
        cfg.fs.substr(4) + " instead; kernel stacks of hangs and vmstat refresh are unavailable";
  }
  return std::nullopt;
}

// What each crash model needs of the target: a scratch fs, or a mount point the user gave up, and a state
// directory on another filesystem.
std::optional<std::string> CheckCrashTargets(RunConfig& cfg, const RunOptionText& t) {
  const bool scratch = cfg.fs.rfind("dir:", 0) != 0;
  const std::string target_dir = scratch ? "" : cfg.fs.substr(4);
  if (cfg.crash == CrashKind::kShutdown && !scratch) {
    if (cfg.allow_shutdown_of.empty())
      return "--crash shutdown: only a scratch filesystem longpin made is shut down; for " + target_dir +
             " pass --allow-shutdown-of MOUNTPOINT (and --state-dir)";
    char real[PATH_MAX];
    if (!::realpath(cfg.allow_shutdown_of.c_str(), real))
      return "--allow-shutdown-of " + cfg.allow_shutdown_of + ": no such path";
    if (std::string(real) == "/")
      return "--allow-shutdown-of /: longpin never shuts down the root filesystem";
    struct stat mp {
    }, parent{}, td{};
    ::stat(real, &mp);
    ::stat((std::string(real) + "/..").c_str(), &parent);
    if (mp.st_dev == parent.st_dev)
      return "--allow-shutdown-of " + cfg.allow_shutdown_of + ": not a mount point";
    if (::stat(target_dir.c_str(), &td) != 0 || td.st_dev != mp.st_dev)
      return "--allow-shutdown-of " + cfg.allow_shutdown_of + ": the target is not on that filesystem";
    struct stat root {};
    if (::stat("/", &root) == 0 && root.st_dev == mp.st_dev)
      return "--allow-shutdown-of: that is the root filesystem; longpin never shuts it down";
  }
  // log-writes: the filesystem must sit on the dm-log-writes device longpin builds.
  if (cfg.crash == CrashKind::kLogWrites && !scratch)
    return "--crash log-writes: needs a scratch filesystem (--fs ext4|xfs|btrfs) on the dm-log-writes device";
  if (cfg.crash == CrashKind::kPowerCut || !cfg.allow_shutdown_of.empty()) {
    if (cfg.state_dir.empty())
      return "--crash " + t.crash + ": needs --state-dir DIR for the durable expected log";
    if (scratch)
      return "--crash power-cut: needs a target that survives a reboot: --fs dir:PATH or --target PATH, not "
             "a "
             "scratch image";
    // The directory is created by the run, after every check passed: bad input creates nothing.
    struct stat sd {
    }, td{};
    if (::stat(cfg.state_dir.c_str(), &sd) == 0) {
      if (!S_ISDIR(sd.st_mode)) return "--state-dir " + cfg.state_dir + ": not a directory";
    } else if (::stat(ExistingAncestor(cfg.state_dir).c_str(), &sd) != 0 ||
               ExistingAncestor(cfg.state_dir) != cfg.state_dir.substr(0, cfg.state_dir.rfind('/'))) {
      return "--state-dir " + cfg.state_dir + ": its parent directory does not exist";
    }
    if (::stat(target_dir.c_str(), &td) == 0 && sd.st_dev == td.st_dev)
      return "--state-dir " + cfg.state_dir + ": on the same filesystem as the target (" + target_dir +
             "); a crash of the target must not take the log with it: choose a directory on another "
             "filesystem";
    struct stat probe {};
    if (::stat((cfg.state_dir + "/state.json").c_str(), &probe) == 0)
      return "--state-dir " + cfg.state_dir + ": holds the state of another run; verify or remove it first";
  }
  if (!cfg.allow_shutdown_of.empty() && cfg.crash != CrashKind::kShutdown)
    return "--allow-shutdown-of: only with --crash shutdown";
  return std::nullopt;
}

std::optional<std::string> ExpandRounds(RunConfig& cfg, const RunOptionText& t) {
  // Interleaved rounds: only where there are two kinds of phases to compare, and no crash ends the run early.
  const bool both_kinds = std::count(cfg.phases.begin(), cfg.phases.end(), "baseline") > 0 &&
                          std::count(cfg.phases.begin(), cfg.phases.end(), "pinned") > 0;
  if (t.rounds > 1 && (!both_kinds || cfg.crash != CrashKind::kNone || !cfg.race.empty()))
    return "--rounds " + std::to_string(t.rounds) +
           ": rounds interleave baseline and pinned phases of a run without a "
           "crash model or race script; here there is nothing to interleave";
  // Four rounds by default: the interval's cluster bootstrap needs a few phases of each kind to see how much
  // phases differ among themselves.
  cfg.rounds =
      t.rounds ? t.rounds : (both_kinds && cfg.crash == CrashKind::kNone && cfg.race.empty() ? 4 : 1);
  if (cfg.rounds > 1) {
    std::vector<std::string> order;
    // Counterbalanced (ABBA...): every other round runs the list backwards, so that a drift of the machine
    // over the run (a cold start, a filling journal) weighs on both kinds alike instead of on the first.
    for (int r = 0; r < cfg.rounds; ++r) {
      if (r % 2) order.insert(order.end(), cfg.phases.rbegin(), cfg.phases.rend());
      else order.insert(order.end(), cfg.phases.begin(), cfg.phases.end());
    }
    cfg.phases = order;
    cfg.duration_s /= cfg.rounds;
  }
  return std::nullopt;
}

std::optional<std::string> CheckFreeSpace(RunConfig& cfg, const RunOptionText&) {
  // Free space: the target must fit where it will live (the scratch image is sparse: about the target's
  // size).
  const std::string where = cfg.fs.rfind("dir:", 0) == 0
                                ? cfg.fs.substr(4)
                                : ExistingAncestor(cfg.workdir.empty() ? DefaultWorkBase() : cfg.workdir);
  const uint64_t free_bytes = FreeBytes(where);
  const uint64_t need = cfg.size + (cfg.fs.rfind("dir:", 0) == 0 ? 0 : (64ull << 20));
  if (free_bytes < need)
    return "--size " + FormatSize(cfg.size) + ": larger than the free space of " + where + " (" +
           FormatSize(free_bytes / 4096 * 4096) + " free)";
  return std::nullopt;
}

}  // namespace

namespace {

// What is run: the target, the writers and syncers, the phases and the pin windows.
void AddWorkloadOptions(CLI::App& app, RunConfig& cfg, RunOptionText& t) {
  app.add_option("--fs", t.fs,
                 "Filesystem under test: ext4|xfs|btrfs|f2fs (a scratch image on a loop device, root) or "
                 "dir:PATH (a file in an existing directory). Default ext4; not root: a temp directory");
  app.add_option("--size", t.size, "Target file size (e.g. 256M, 1G). Default 256M");
  app.add_option("--block-size", t.block_size, "Stamped block size, a power of two, 512 .. 2M. Default 4k");
  app.add_option("--pinner", cfg.pinner, "Pinner NAME or none (see `longpin list`). Default vmsplice");
  app.add_option("--writers", t.writers, "Writers: cpu:N,pwrite:N[,dma:N]. Default cpu:2,pwrite:1");
  app.add_option("--rate", cfg.rate,
                 "Writes per second per writer, DMA writers too (0: as fast as possible, a writeback storm). "
                 "Default 1000: each sync writes back a bounded amount")
      ->check(CLI::NonNegativeNumber);
  app.add_option(
         "--rounds", t.rounds,
         "Run the phases this many times, interleaved and counterbalanced (baseline, pinned, pinned, "
         "baseline ...), each for "
         "--duration / N; the pinned/baseline sync latency ratio is reported with a 95% interval. Default 4 "
         "(1 with a crash model)")
      ->check(CLI::Range(1, 1000));
  app.add_option("--sync", t.sync,
                 "Sync op fsync|fdatasync|msync|sync_file_range|syncfs, optionally :INTERVAL (a syncer "
                 "thread) or :each-write "
                 "(every writer syncs after each of its writes, like fio --fsync=1). Default fsync:5ms");
  app.add_option("--syncers", cfg.syncers, "Syncer threads. Default 1")->check(CLI::Range(1, 64));
  app.add_option(
      "--duration", t.duration,
      "Time of each phase kind, split over --rounds (e.g. 5s, 500ms); a race script's time. Default 5s");
  app.add_option("--phases", t.phases, "Phases in order, from baseline,pinned. Default baseline,pinned");
  app.add_option("--seed", cfg.seed, "Seed of the run (block choice, pin windows, run id). Default random");
  app.add_option("--json", cfg.json_path, "Write the JSON report to FILE");
  app.add_flag("--keep", cfg.keep, "Keep the scratch image (and target) for inspection");
  app.add_option("--workdir", cfg.workdir,
                 "Base directory for run directories (scratch image, expected log). Default /var/tmp/longpin "
                 "(root) or $TMPDIR/longpin-UID");
  app.add_option("--hang-threshold", t.hang_threshold,
                 "Report any write, sync or pin call longer than this. Default 30s");
  app.add_option("--pin-window", t.pin_window, "Bytes per pinned window. Default 1M");
  app.add_option("--pin-windows", cfg.pin_windows, "Windows held at once. Default 4")
      ->check(CLI::Range(1, 4096));
  app.add_option("--pin-rotate", t.pin_rotate,
                 "Release one window and pin another this often. Default 500ms");
  app.add_option("--pin-access", t.pin_access, "Pin access rw|ro where the pinner allows. Default rw");
  app.add_option("--pin-hold", t.pin_hold, "How long a per-IO hold lasts (fuse, odirect pinners). Default 0");
  app.add_option("--mount-options", cfg.mount_options, "Mount options of the scratch filesystem");
}

// The pinners' own options, the output, the mapping, crash models, scenario actors and race scripts.
void AddPinnerCrashAndActorOptions(CLI::App& app, RunConfig& cfg, RunOptionText& t) {
  // The pinner-specific flags are shorthands for --pinner-option KEY=VALUE that any pinner may ignore.
  const auto shared_pinner_option = [&cfg](const char* key) {
    return [&cfg, key](const std::string& value) { cfg.pinner_options.Set(key, value, true); };
  };
  app.add_option_function<std::string>(
      "--rdma-dev", shared_pinner_option("device"),
      "rdma: device NAME (default the first, see `longpin list`); cuda: device index (default 0)");
  app.add_option_function<std::string>(
      "--cuda-flags", shared_pinner_option("flags"),
      "cuda: cudaHostRegister flags, comma list of default|portable|mapped|readonly. Default default");
  app.add_option_function<std::string>(
         "--cuda-write", shared_pinner_option("write"),
         "cuda: how the GPU writes: copy (cudaMemcpyAsync) | kernel (stores through the mapped pointer). "
         "Default copy")
      ->check(CLI::IsMember({"copy", "kernel"}));
  app.add_option_function<std::vector<std::string>>(
         "--pinner-option",
         [&cfg](const std::vector<std::string>& pairs) {
           for (const auto& kv : pairs)
             cfg.pinner_options.Set(kv.substr(0, kv.find('=')), kv.substr(kv.find('=') + 1));
         },
         "A pinner's own option KEY=VALUE, repeatable (docs/pinners.md): rdma device; cuda device, flags, "
         "write; fuse and odirect hold")
      ->check(CLI::Validator(
          [](std::string& kv) {
            return kv.find('=') == std::string::npos || kv.front() == '=' ? "not KEY=VALUE" : std::string();
          },
          "KEY=VALUE"));
  app.add_flag("--quiet,-q", cfg.quiet,
               "Print only the verdict line (no live progress line either; it is drawn only when stdout is a "
               "terminal)");
  app.add_option(
      "--mapping", t.mapping,
      "How the target is mapped: shared (file, default), private (file, MAP_PRIVATE), memfd, thp, hugetlb");
  app.add_option(
      "--crash", t.crash,
      "Crash model: none (sync check, default), shutdown (FS_IOC_SHUTDOWN of the scratch fs, remount, "
      "verify), power-cut (durable log in --state-dir; verify after the cut with `longpin verify`), "
      "log-writes (scratch fs on dm-log-writes; replay and verify every crash state after each sync)");
  app.add_option("--crash-at", t.crash_at,
                 "Crash this long into the crash phase (default: seeded, 20%..80%)");
  app.add_option("--crash-iterations", cfg.crash_iterations,
                 "Whole crash cycles to run (fresh fs and run id each)")
      ->check(CLI::Range(1, 100000));
  app.add_option("--state-dir", cfg.state_dir,
                 "Directory (on another filesystem than the target) for the durable expected log and state");
  app.add_option("--target", cfg.target,
                 "The file to test (created by longpin; must not exist). Implies no scratch fs");
  // Scenario actors and memory pressure (workloads/scenarios/).
  app.add_option(
      "--scenario", cfg.scenario,
      "Extra actor in every phase: truncate-under-pin, fork-under-pin, dio-journal, reclaim-under-pin, "
      "compact-under-pin (docs/workloads.md). Default none");
  app.add_option(
      "--pressure", t.pressure,
      "Memory pressure over pinned windows with a pin-coherence check: compact (compact_memory) or "
      "reclaim (also MADV_PAGEOUT and a low-limit memory cgroup). Default none");
  app.add_option(
      "--race", t.race,
      "Race script: steps run in order on a fresh window per attempt, instead of phases: pin, store, "
      "sync[:OP], dma, dma-start, dma-finish, reclaim[:pageout|cgroup|fadvise], unpin, crash, wait:TIME, "
      "verify "
      "(docs/race-scripts.md). Attempts until --race-attempts or --duration");
  app.add_option("--race-attempts", cfg.race_attempts,
                 "Race attempts at most (0: until --duration). Default 0");
  app.add_option(
      "--contract", t.contract,
      "Which misses fail the run: kernel (kernel-contract violations, default) or strict (also strict "
      "misses: writes acknowledged before a successful sync not on disk, \"fsync lied\")");
  app.add_option(
      "--allow-shutdown-of", cfg.allow_shutdown_of,
      "Allow --crash shutdown of the filesystem mounted at PATH (not a scratch fs; never /). Needs "
      "--state-dir; verify with `longpin verify` after you remount it");
}

}  // namespace

CLI::Validator NonEmptyValue() {
  return CLI::Validator(
      [](std::string& v) {
        return v.empty() ? std::string("empty value: give one, or leave the option out") : std::string();
      },
      "", "NONEMPTY");
}

void AddRunOptions(CLI::App& app, RunConfig& cfg, RunOptionText& t) {
  AddWorkloadOptions(app, cfg, t);
  AddPinnerCrashAndActorOptions(app, cfg, t);
  // An option given with an empty value ("--size ''") is a mistake, never "the default".
  const CLI::Validator non_empty = NonEmptyValue();
  for (CLI::Option* o : app.get_options())
    if (o->get_expected_min() > 0) o->check(non_empty);
}

std::optional<std::string> FinishRunConfig(RunConfig& cfg, const RunOptionText& t) {
  // In this order: later steps read what earlier ones set (the mapping before the crash checks, the target's
  // directory before the free space).
  for (auto step : {CheckFsAndSize, ParseWriters, ParseSyncAndTimes, ParsePinAccess, CheckConflicts,
                    CheckRace, ParseMappingAndActors, ParseCrashAndTarget, FallBackToDirWhenNotRoot,
                    CheckCrashTargets, ExpandRounds, CheckFreeSpace})
    if (auto err = step(cfg, t)) return err;
  return std::nullopt;
}

}  // namespace longpin
