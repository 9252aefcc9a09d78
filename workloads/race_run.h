// A race run inside the library: everything a run of a race script holds, shared by the run's stages
// (race_runner.cc: prepare, attempts, conclude, teardown) and the steps of one attempt (race_steps.cc).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/block_stamp.h"
#include "core/kernel_log.h"
#include "core/pin_counters.h"
#include "core/run_directory.h"
#include "core/scratch_fs.h"
#include "pinners/pinner.h"
#include "report/run_report.h"
#include "workloads/race_oracle.h"
#include "workloads/race_reclaim.h"
#include "workloads/race_script.h"
#include "workloads/run_config.h"
#include "workloads/target.h"

namespace longpin::race {

inline double SecondsSince(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// The pin counters and this process's VmPin before a hold, to tell which reference the hold took.
struct HoldProbe {
  PinCounterSnapshot pins;
  uint64_t vmpin_kib = 0;
  static HoldProbe Take();
};

// One attempt: its window (the attempt's index modulo the windows of the target) and what its steps did.
struct Attempt {
  uint64_t index = 0;  // 0-based
  uint64_t window_index = 0;
  uint64_t offset = 0;  // of the window in the target
  uint64_t pages = 0;
  uint64_t first_block = 0;
  uint64_t blocks = 0;
  PinWindow window;
  bool per_io = false;  // the pinner holds pages per IO, not per pin
  std::vector<AttemptWrite> writes;
  std::vector<AttemptSync> syncs;
  bool pinned = false, inflight = false, found = false;
  std::chrono::steady_clock::time_point held_since;
  HoldProbe probe;
};

// What a step leaves the attempt loop to do.
enum class StepOutcome { kNext, kAbortAttempt, kEndRun };

// Everything a race run holds; torn down in reverse by the destructor, whatever happened.
class RaceRun {
 public:
  RaceRun(const RunConfig& cfg, RunReport& report, const RaceScript& script, const PinnerInfo& info)
      : cfg_(cfg), report_(report), script_(script), info_(info), race_(report.race.emplace()) {}
  RaceRun(const RaceRun&) = delete;
  RaceRun& operator=(const RaceRun&) = delete;
  ~RaceRun() { Teardown(); }

  // Creates the run directory, the scratch filesystem, the target and the pinner. On failure the report's
  // verdict says why.
  bool Prepare();
  void Attempts();
  void Conclude();

 private:
  // Stages of Prepare (race_runner.cc).
  bool PrepareRunDirectory();
  bool PlaceTarget();
  bool CheckCrashSupport();
  bool PrepareBuffersAndMonitor();
  bool OpenTarget(bool create);
  void CloseTarget();
  Status CreatePinner();
  void FailOnKernelAlarms();
  void Teardown();

  // One attempt and its steps (race_steps.cc).
  bool RunAttempt(uint64_t attempt);
  Attempt StartAttempt(uint64_t attempt);
  StepOutcome RunStep(Attempt& a, const RaceStep& s, int step);
  StepOutcome PinStep(Attempt& a, const RaceStep& s);
  void StoreStep(Attempt& a, int step);
  void SyncStep(Attempt& a, const RaceStep& s, int step);
  StepOutcome DmaStep(Attempt& a, const RaceStep& s, int step);
  StepOutcome DmaFinishStep(Attempt& a, const RaceStep& s, int step);
  void ReclaimStep(const Attempt& a, const RaceStep& s);
  StepOutcome UnpinStep(Attempt& a, const RaceStep& s, int step);
  StepOutcome CrashStep(Attempt& a, const RaceStep& s);
  void VerifyStep(Attempt& a);
  void EndAttempt(Attempt& a);
  void StampWindow(const Attempt& a, std::byte* base, WriterKind kind, uint64_t gen);
  void Hold(Attempt& a, bool on);
  void MeasureHold(const HoldProbe& before, uint64_t pages, const char* how);
  void StepError(const RaceStep& s, const Status& st);

  const RunConfig& cfg_;
  RunReport& report_;
  const RaceScript& script_;
  const PinnerInfo& info_;
  RaceReport& race_;
  std::optional<RunDirectory> run_dir_;
  std::unique_ptr<ScratchFs> scratch_;
  Target target_;          // until the first crash: the file as created (shared) or the memfd
  std::string file_path_;  // shared file targets: reopened after a crash
  int fd_ = -1;
  std::byte* map_ = nullptr;
  bool own_mapping_ = false;  // fd_/map_ are ours (reopened), not target_'s
  std::unique_ptr<Pinner> pinner_;
  std::unique_ptr<StampPattern> pattern_;
  std::unique_ptr<RaceCgroup> cgroup_;
  std::unique_ptr<KernelLogMonitor> kmsg_;
  std::byte* dma_src_ = nullptr;
  std::byte* read_buf_ = nullptr;
  std::vector<uint64_t> window_generation_;
  uint64_t sync_number_ = 0;
  uint32_t epoch_ = 0;
  bool measured_ = false;
  bool direct_io_ = true;
  std::vector<std::string> first_errors_;
  std::chrono::steady_clock::time_point start_;
  uint64_t page_ = 4096;
};

}  // namespace longpin::race
