// The run loop: set up the target (scratch filesystem or a directory), run the phases (writers, syncers,
// the pinner), then either sync and verify, or crash (shutdown), remount and verify; tear down everything
// the run created.
#pragma once

#include <atomic>
#include <functional>
#include <vector>

#include "core/scratch_fs.h"
#include "verifiers/expected_state.h"
#include "workloads/run_config.h"
#include "workloads/run_report.h"

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

// Verdict bookkeeping shared by run, verify and selftest: a fail is never downgraded.
void SetVerdict(RunReport& r, const char* verdict, int exit_code, std::string reason);
// Turns a finished verification, kernel events, hangs and IO errors into the verdict.
void ConcludeVerdict(RunReport& r);

}  // namespace longpin
