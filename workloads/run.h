// The run: set up the target (scratch filesystem, a directory, --target or shmem), run the phases (writers,
// syncers, the pinner), then sync and verify, or let the crash model crash, recover and verify; tear down
// everything the run created. Its stages are in workloads/run_session.h.
#pragma once

#include <atomic>
#include <functional>
#include <vector>

#include "core/scratch_fs.h"
#include "report/run_report.h"
#include "verifiers/expected_state.h"
#include "workloads/run_config.h"

namespace longpin {

// Set by SIGINT/SIGTERM: the run stops its phase, releases pins, verifies what ran and cleans up.
extern std::atomic<bool> g_interrupted;
void InstallInterruptHandlers();

// Called in crash mode between the remount and the verification (the self-test plants faults here).
struct BeforeVerify {
  ScratchFs* scratch;
  const std::string& target_path;
  const StampPattern& pattern;
  const ExpectedState& expected;
  std::vector<PlantedFault>* planted;
};
using BeforeVerifyHook = std::function<Status(BeforeVerify&)>;

RunReport Run(RunConfig config, const BeforeVerifyHook& hook = {});

// A phase whose threads are still inside the kernel --hang-threshold after the phase ended cannot be cleaned
// up or verified (they may still use the mapping, the log and the filesystem): Run() concludes the report
// (hangs with every stuck thread's kernel stack, kernel events), hands it to this hook to be written out, and
// ends the process with _exit(report.exit_code()), leaving the stuck threads to the kernel. Set by main
// before Run(); without a hook the summary goes to stdout.
using AbandonHook = std::function<void(const RunReport&)>;
void SetAbandonHook(AbandonHook hook);

// Raises the verdict (report/verdict.h) by a finished verification, kernel events, hangs, IO errors and a pin
// leak; shared by run and verify.
void ConcludeVerdict(RunReport& r);

}  // namespace longpin
