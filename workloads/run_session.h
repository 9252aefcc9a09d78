// RunSession: the parts of one run (`longpin run` without --race), made by its stages in order and handed
// from one to the next. Run() (workloads/run.cc) is the sequence:
//   StartRun           the report's identity, the pinner looked up, the run directory    (run.cc)
//   PrepareTarget      where the target lives: scratch fs (the crash model's device under
//                      it), a directory, --target, or shmem; the target file and mapping (run_target.cc)
//   OpenExpectedLog    the workload context and the expected log (durable for power cuts) (run_target.cc)
//   PrepareThreads     monitors, log lanes and watchdog slots, the crash point           (run_phase.cc)
//   RunPhase           one phase: its threads, sampling, the crash, tallies              (run_phase.cc)
//   CheckPinBalance    nr_foll_pin balance and the measured pin kind                     (pin_balance.cc)
//   FinalSyncAndVerify the promise point, recovery after a crash, the oracle's judgement (run_verify.cc)
//   ConcludeRun        the verdict, then what the run made is removed                   (run_conclusion.cc)
// A stage that returns false has set the verdict; the run goes straight to ConcludeRun.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/expected_log.h"
#include "core/hang_watchdog.h"
#include "core/kernel_log.h"
#include "core/pin_counters.h"
#include "core/run_directory.h"
#include "core/scratch_fs.h"
#include "core/split_mix.h"
#include "core/writeback_trace.h"
#include "crash/crash_model.h"
#include "pinners/pinner.h"
#include "report/run_report.h"
#include "workloads/progress_line.h"
#include "workloads/run.h"
#include "workloads/scenario.h"
#include "workloads/target.h"
#include "workloads/workload_context.h"

namespace longpin {

// One thread's place in the expected log and in the hang watchdog.
struct Worker {
  LogLane* lane = nullptr;
  OpSlot* slot = nullptr;
};

// Declared in the order the stages make them: torn down in reverse, the pinner before the mapping it pins.
struct RunSession {
  RunSession(RunConfig config, const BeforeVerifyHook& before_verify)
      : cfg(std::move(config)), hook(before_verify) {}
  RunConfig cfg;
  const BeforeVerifyHook& hook;
  RunReport report;
  SplitMix seeds{1};
  uint64_t run_start_ns = 0;
  const PinnerInfo* pinner_info = nullptr;

  // Where the target lives (run_target.cc).
  std::optional<RunDirectory> run_dir;
  bool run_dir_holds_evidence = true;  // false when setup failed before anything ran
  std::unique_ptr<CrashModel> crash;
  std::unique_ptr<ScratchFs> scratch;
  Target target;
  WorkloadContext ctx;
  std::unique_ptr<ExpectedLog> elog;

  // What watches the phases (run_phase.cc).
  std::unique_ptr<KernelLogMonitor> kmsg;
  std::unique_ptr<ProgressLine> progress;
  std::unique_ptr<HangWatchdog> watchdog;
  WritebackTrace writeback;
  std::vector<Worker> cpu_workers, pwrite_workers, sync_workers;
  Worker pin_worker, scenario_worker, main_worker;
  const ScenarioInfo* scenario = nullptr;
  PinnerOptions pinner_options;
  uint8_t pinner_index = 0;
  std::unique_ptr<Pinner> pinner;
  size_t crash_phase = 0;
  double crash_at_s = 0;
  bool phases_ran = false;  // ConcludeRun judges only a run that got this far
  bool crashed = false;
  PinCounterSnapshot run_pins_before;

  // The final sync and the check (run_verify.cc).
  int final_sync_err = 0;
  Status log_status;

  double SinceStartMs(uint64_t ns) const {
    return ns >= run_start_ns ? double(ns - run_start_ns) / 1e6 : 0.0;
  }
  ProgressSample Sample(const std::string& phase, size_t number) const;
};

double SecondsSince(std::chrono::steady_clock::time_point since);

bool PrepareTarget(RunSession& s);
bool OpenExpectedLog(RunSession& s);
bool PrepareThreads(RunSession& s);
// False when the run stops after this phase: a crash, an interruption, or a pinner that cannot be made.
bool RunPhase(RunSession& s, size_t p);
void CheckPinBalance(RunSession& s);
void RecordPinKind(RunSession& s);
void FinalSyncAndVerify(RunSession& s);
RunReport ConcludeRun(RunSession& s);

// A phase's threads stayed in the kernel past --hang-threshold: the report goes out, the process ends.
[[noreturn]] void AbandonRun(RunReport& report, HangWatchdog& watchdog, KernelLogMonitor& kmsg,
                             const std::vector<pid_t>& stuck, const std::string& phase, double threshold_s);

}  // namespace longpin
