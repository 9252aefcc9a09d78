// Race scripts: longpin drives the failing order of the seed discussion step by step, one window at a time,
// many times a second, instead of hoping that random load interleaves it (../shared/DESIGN.md, "Race
// scripts").
//
// A script is a comma list of steps, run in order on a fresh window per attempt:
//   pin          hold the window (long-term pinners: ibv_reg_mr, io_uring registration; per-IO pinners only
//                choose the window: their pages are held while a DMA is in flight)
//   store        CPU stores of a new generation into every block of the window (dirties the pages)
//   sync[:OP]    the sync op (fsync, fdatasync, msync, sync_file_range, syncfs): writeback cleans the pages
//   dma          a DMA write of a new generation through the pin, completed when the step returns
//   dma-start    a DMA write whose completion longpin holds (fuse: the daemon keeps its reply): the kernel
//                holds the pages from here on
//   dma-finish   lets the held DMA complete: the kernel copies the data, unpins and dirties the pages
//   reclaim[:M]  reclaim the window's pages: pageout (MADV_PAGEOUT, default), cgroup (memory.reclaim of a
//                memory cgroup longpin creates and owns), fadvise (POSIX_FADV_DONTNEED, a control)
//   unpin        release the long-term pin (the kernel re-dirties the pages)
//   crash        FS_IOC_SHUTDOWN(NOLOGFLUSH) of the scratch filesystem with what is held still held, then
//                release, unmount, mount
//   verify       read the window from the disk (O_DIRECT) and judge it against what the steps promised
//   wait:TIME    do nothing for TIME with everything held (widens a window for writeback, a tracer, a kill)
// The oracle per block: the kernel contract promises a CPU store, and a DMA write once its pin was released
// (per-IO: when the IO completed), before a sync that returned 0 started; the strict contract promises every
// write completed before such a sync. A miss of the first is a kernel-contract violation, of the second a
// strict miss ("fsync lied").
//
// Where the parts live: race_script.cc parses and checks a script; race_runner.cc is the run (prepare,
// attempts, verdict, teardown); race_steps.cc one attempt and what each step does; race_oracle.cc judges the
// window read back; race_reclaim.cc reclaims it (and owns the memory cgroup of reclaim:cgroup).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "report/run_report.h"
#include "verifiers/expected_state.h"
#include "workloads/run_config.h"

namespace longpin {

enum class RaceStepKind {
  kPin,
  kStore,
  kSync,
  kDma,
  kDmaStart,
  kDmaFinish,
  kReclaim,
  kUnpin,
  kCrash,
  kVerify,
  kWait
};
enum class ReclaimMethod { kPageout, kCgroup, kFadvise };

struct RaceStep {
  RaceStepKind kind = RaceStepKind::kPin;
  std::optional<SyncOpKind> sync_op;  // sync:OP; nullopt = the run's --sync op
  ReclaimMethod reclaim = ReclaimMethod::kPageout;
  double wait_s = 0;  // wait:DURATION
  std::string text;   // as written in the script
};

struct RaceScript {
  std::vector<RaceStep> steps;
  std::string text;  // the normalised step list
  bool needs_crash() const;
  bool needs_cgroup() const;
};

// What the pinner offers, for checking a script against it.
struct RaceCapabilities {
  bool per_io = false;     // the hold lasts one IO (fuse, odirect, process-vm)
  bool can_write = false;  // DMA writes through the hold
  bool can_hold = false;   // dma-start / dma-finish (fuse)
};

// What each pinner of the registry offers to a race script.
RaceCapabilities RaceCapabilitiesOf(const std::string& pinner);
// Parses a step list. The error names the step and what to do (exit 2).
Result<RaceScript> ParseRaceScript(const std::string& text);
// Checks the order against the pinner: a DMA needs a pin before it, a held DMA must finish before unpin,
// crash or the end, a pinner that cannot write has no DMA steps. The error names the step (exit 2).
Status CheckRaceScript(const RaceScript& script, const RaceCapabilities& caps, const std::string& pinner);

// Runs the race script of cfg.race (a `longpin run --race STEPS`, or a preset's race key).
RunReport RunRace(const RunConfig& cfg);

// Removes memory cgroups race scripts created (/sys/fs/cgroup/longpin-race-PID) whose process is gone; what
// it did, one line each. Never touches a cgroup of another name.
std::vector<std::string> CleanupStaleRaceCgroups(bool dry_run);

}  // namespace longpin
