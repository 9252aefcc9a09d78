// RunConfig: everything `longpin run` can be told, with the defaults of the README's main job.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "crash/crash_model.h"
#include "pinners/pinner.h"
#include "verifiers/expected_state.h"
#include "workloads/target.h"

namespace longpin {

struct WriterCounts {
  int cpu = 2;     // CPU stores through the mapping
  int pwrite = 1;  // pwrite through the fd
  int dma = 0;     // writes through the pin (pinners that can write)
  int total() const { return cpu + pwrite + dma; }
};

struct RunConfig {
  std::string fs = "ext4";       // ext4|xfs|btrfs|f2fs (scratch image) or dir:PATH
  uint64_t size = 256ull << 20;  // target file bytes
  uint64_t block_size = 4096;
  std::string pinner = "vmsplice";  // a registry name; "none" = the control
  WriterCounts writers;
  // Writes per second per writer (DMA writers too); 0 = as fast as possible. The default bounds the data each
  // sync writes back (3 writers x 1000 x 4 KiB = 12 MB/s, about 60 KiB per 5 ms sync), so that a sync's
  // latency measures the sync, not the volume of a writeback storm (the writeback-storm preset runs unpaced).
  double rate = 1000;
  SyncOpKind sync_op = SyncOpKind::kFsync;
  double sync_interval_s = 0.005;
  // --sync OP:each-write: every CPU and pwrite writer calls OP after each of its writes, in its own thread
  // (fio's --fsync=1), and no syncer thread runs.
  bool sync_each_write = false;
  int syncers = 1;
  double duration_s = 5.0;  // per phase
  std::vector<std::string> phases = {"baseline", "pinned"};
  // The phase list as given runs this many times, interleaved (baseline, pinned, baseline, pinned ...), each
  // phase for duration_s / rounds, so that a slow or noisy stretch of the machine falls on both kinds.
  int rounds = 1;
  uint64_t seed = 0;  // 0: pick one (reported, so the run can be repeated)
  std::string json_path;
  bool keep = false;
  std::string workdir;  // base of run directories; empty: DefaultWorkBase()
  double hang_threshold_s = 30.0;
  uint64_t pin_window = 1ull << 20;  // bytes per pinned window
  int pin_windows = 4;               // windows held at once
  double pin_rotate_s = 0.5;         // a window is released and another pinned this often
  PinnerOptions pinner_options;
  std::string mount_options;
  bool quiet = false;
  // The live progress line (workloads/progress_line.h): the CLI turns it on when stdout is a terminal and
  // --quiet is not given; cycle/cycles/violations_before carry the crash-cycle loop's place and tally.
  struct Progress {
    bool enabled = false;
    int cycle = 0, cycles = 0;
    uint64_t violations_before = 0;
    std::string label;  // what the run is part of ("selftest xfs clean"), shown first
  } progress;
  MappingKind mapping = MappingKind::kShared;
  // Crash models. none: sync verification. shutdown: FS_IOC_SHUTDOWN(NOLOGFLUSH) of the scratch filesystem at
  // the crash point, unmount, mount (log recovery), verify. power-cut: the log goes durably to state_dir for
  // a `longpin verify` after a real power cut. log-writes: the scratch filesystem on dm-log-writes, a mark
  // after every successful sync, every mark's crash state replayed and verified after the run
  // (docs/log-writes.md).
  CrashKind crash = CrashKind::kNone;
  double crash_at_s = -1;  // seconds into the crash phase; < 0: seeded random in [20%, 80%]
  int crash_iterations = 1;
  std::string state_dir;
  std::string target;             // --target PATH: the exact file to create and test (must not exist)
  std::string allow_shutdown_of;  // mount point the user allows longpin to shut down (not a scratch fs)
  std::string scenario;           // a workloads/scenarios actor to run in every phase ("" = none)
  // --race STEPS: a race script (workloads/race_script.h) instead of phases; attempts until --race-attempts
  // (0: no limit) or --duration.
  std::string race;
  uint64_t race_attempts = 0;
  // --contract strict: strict misses ("fsync lied") fail the run too.
  bool contract_strict = false;
  bool fell_back_to_dir = false;  // set by the run: not root, the scratch filesystem was left out
  std::string fallback_reason;
};

}  // namespace longpin
