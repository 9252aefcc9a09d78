// The run loop: set up the target (scratch filesystem or a directory), run the phases (writers, syncers,
// the pinner), sync, verify against the expected log, and tear everything down that the run created.
#pragma once

#include <atomic>

#include "workloads/run_config.h"
#include "workloads/run_report.h"

namespace longpin {

// Set by SIGINT/SIGTERM: the run stops its phase, releases pins, verifies what ran and cleans up.
extern std::atomic<bool> g_interrupted;
void InstallInterruptHandlers();

RunReport Run(RunConfig config);

// Verdict bookkeeping shared by run and verify.
void SetVerdict(RunReport& r, const char* verdict, int exit_code, std::string reason);

}  // namespace longpin
