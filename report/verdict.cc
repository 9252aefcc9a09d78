#include "report/verdict.h"

#include <algorithm>

#include "report/run_report.h"

namespace longpin {

const char* VerdictName(Verdict v) {
  switch (v) {
    case Verdict::kPass: return "pass";
    case Verdict::kPending: return "pending";
    case Verdict::kInterrupted: return "interrupted";
    case Verdict::kSkip: return "skip";
    case Verdict::kRefused: return "refused";
    case Verdict::kError: return "error";
    case Verdict::kBadInput: return "error";
    case Verdict::kFail: return "fail";
  }
  return "error";
}

std::optional<Verdict> ParseVerdict(std::string_view name) {
  for (Verdict v : {Verdict::kPass, Verdict::kPending, Verdict::kInterrupted, Verdict::kSkip,
                    Verdict::kRefused, Verdict::kError, Verdict::kFail})
    if (name == VerdictName(v)) return v;
  return std::nullopt;
}

Verdict WorseVerdict(Verdict a, Verdict b) {
  return std::max(a, b);
}

int ExitCodeOf(Verdict v) {
  switch (v) {
    case Verdict::kPass:
    case Verdict::kPending: return kExitPass;
    case Verdict::kInterrupted: return kExitInterrupted;
    case Verdict::kSkip:
    case Verdict::kRefused: return kExitCannotRun;
    case Verdict::kError: return kExitError;
    case Verdict::kBadInput: return kExitUsage;
    case Verdict::kFail: return kExitFail;
  }
  return kExitError;
}

void RaiseVerdict(RunReport& r, Verdict v, std::string reason) {
  r.verdict = WorseVerdict(r.verdict, v);
  if (!reason.empty()) r.reasons.push_back(std::move(reason));
}

}  // namespace longpin
