// The verdict of a run, a `longpin verify`, a self-test or a matrix: one ordered scale from pass to fail, one
// rule for combining two findings (the worse one stands) and one mapping to the process's exit code.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace longpin {

// Exit codes (README, exit codes): the verdict decides.
enum ExitCode : int {
  kExitPass = 0,
  kExitFail = 1,   // kernel-contract violation, kernel event, hang, pin leak
  kExitUsage = 2,  // bad input
  kExitError = 3,  // the run could not complete (setup failed, ENOSPC/EIO, log lost)
  kExitInterrupted = 130,
  kExitCannotRun = 77,  // not possible here (missing device, filesystem, privilege)
};

// Ordered from best to worst: a finding only ever raises the verdict, so a fail is never hidden by a later
// error and an error never by a later pass.
enum class Verdict {
  kPass,         // verified, nothing wrong
  kPending,      // the second half is `longpin verify` (a user filesystem was shut down)
  kInterrupted,  // what ran was verified, but a signal stopped the rest
  kSkip,         // cannot run here (device, filesystem, privilege)
  kRefused,      // a race whose pin the kernel refused: nothing to race
  kError,        // could not complete (setup, IO errors, a lost log)
  kBadInput,     // the user's input is wrong; named "error" in reports, exit 2
  kFail,         // the kernel broke its contract, or a kernel event, hang or pin leak
};

// The name in JSON, the summary and KTAP: pass, pending, interrupted, skip, refused, error, fail.
const char* VerdictName(Verdict v);
// The inverse of VerdictName; "error" reads as kError.
std::optional<Verdict> ParseVerdict(std::string_view name);
Verdict WorseVerdict(Verdict a, Verdict b);
int ExitCodeOf(Verdict v);

struct RunReport;
// Raises the report's verdict to `v` if that is worse, and adds the reason (if any) to the report's reasons.
void RaiseVerdict(RunReport& r, Verdict v, std::string reason);

}  // namespace longpin
