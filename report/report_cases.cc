// The test cases of a report document: what JUnit, KTAP and KCIDB each write in their own syntax.
#include "report/report_cases.h"

#include <fmt/format.h>

#include <string>

#include "core/units.h"
#include "report/report_formats.h"

namespace longpin {
namespace report_detail {
namespace {

using nlohmann::json;

// The failure body lists this many violations; the JSON report has them all.
constexpr size_t kListedViolations = 100;

const char* const kSyncOps[] = {"fsync", "fdatasync", "msync", "sync_file_range", "syncfs"};

std::string Join(const std::vector<std::string>& parts, std::string_view sep) {
  std::string out;
  for (const auto& p : parts) {
    if (!out.empty()) out += sep;
    out += p;
  }
  return out;
}

std::vector<std::string> Strings(const json& j) {
  std::vector<std::string> out;
  if (!j.is_array()) return out;
  for (const auto& e : j) {
    std::string s = Text(e);
    if (!s.empty()) out.push_back(std::move(s));
  }
  return out;
}

std::string PhaseOutput(const json& phase) {
  std::string out = fmt::format("seconds {:.3f}", NumberAt(phase, "seconds"));
  const json& writes = Member(phase, "writes");
  if (writes.is_object())
    for (const auto& [kind, n] : writes.items()) out += fmt::format("; {} writes {}", kind, Text(n, "?"));
  const json& sync = Member(phase, "sync");
  for (const char* op : kSyncOps) {
    const json& h = Member(sync, op);
    if (CountAt(h, "count") == 0) continue;
    out += fmt::format("; {} x{} p50 {} p99 {} p99.9 {} max {}", op, CountAt(h, "count"),
                       FormatNs(CountAt(h, "p50_ns")), FormatNs(CountAt(h, "p99_ns")),
                       FormatNs(CountAt(h, "p999_ns")), FormatNs(CountAt(h, "max_ns")));
  }
  const json& pins = Member(phase, "pins");
  if (TextAt(pins, "pinner", "none") != "none")
    out += fmt::format("; pins {} {}: {}/{} pages granted", TextAt(pins, "pinner"), TextAt(pins, "reference"),
                       CountAt(pins, "granted_pages"), CountAt(pins, "requested_pages"));
  for (const char* key : {"sync_errors", "write_errors"}) {
    const json& errs = Member(phase, key);
    if (errs.is_object())
      for (const auto& [what, n] : errs.items()) out += fmt::format("; {} x{}", what, Text(n, "?"));
  }
  return out;
}

// What made a run fail besides the verifier: kernel log lines, hangs with their stacks, sync errors.
std::vector<std::string> EventLines(const json& run) {
  std::vector<std::string> out;
  const json& events = Member(run, "kernel_events");
  if (events.is_array())
    for (const auto& e : events) {
      const json& alarm = Member(e, "alarm");
      if (alarm.is_boolean() && !alarm.get<bool>()) continue;
      const std::string pid = TextAt(e, "pid");
      const std::string task =
          pid.empty() || pid == "0"
              ? ""
              : fmt::format(" (PID {} {}, {})", pid, TextAt(e, "comm"), TextAt(e, "origin"));
      out.push_back(fmt::format("kernel {}: {}{}", TextAt(e, "class", "event"), TextAt(e, "line"), task));
    }
  const json& hangs = Member(run, "hangs");
  if (hangs.is_array())
    for (const auto& h : hangs) {
      out.push_back(fmt::format("hang: {} in {} for {:.1f} s, wchan {}", TextAt(h, "role", "?"),
                                TextAt(h, "op", "?"), NumberAt(h, "seconds"), TextAt(h, "wchan", "?")));
      std::string stack = TextAt(h, "kernel_stack");
      size_t start = 0;
      while (start < stack.size()) {
        size_t end = stack.find('\n', start);
        if (end == std::string::npos) end = stack.size();
        if (end > start) out.push_back("  " + stack.substr(start, end - start));
        start = end + 1;
      }
    }
  const json& errors = Member(run, "sync_errors");
  if (errors.is_object())
    for (const auto& [what, n] : errors.items())
      out.push_back(fmt::format("sync error {} x{}", what, Text(n, "?")));
  return out;
}

std::vector<std::string> ViolationLines(const json& verification) {
  std::vector<std::string> out;
  const json& list = Member(verification, "violations");
  if (list.is_array()) {
    for (const auto& v : list) {
      if (out.size() == kListedViolations) break;
      out.push_back(ViolationLine(v));
    }
    size_t more = list.size() - out.size() + CountAt(verification, "violations_not_listed");
    if (more) out.push_back(fmt::format("... {} more violation(s) not listed here", more));
  }
  return out;
}

double RunSeconds(const json& run) {
  double total = 0;
  const json& phases = Member(run, "phases");
  if (phases.is_array())
    for (const auto& p : phases) total += NumberAt(p, "seconds");
  return total + NumberAt(Member(run, "verification"), "seconds");
}

ReportCase VerificationCase(const json& run) {
  ReportCase c;
  c.name = "verification";
  const json& v = Member(run, "verification");
  if (!v.is_object()) {
    c.result = ReportCase::Result::kSkip;
    std::vector<std::string> reasons = Strings(Member(run, "reasons"));
    c.message =
        "not verified: " + (reasons.empty() ? std::string("no verification in this report") : reasons[0]);
    return c;
  }
  c.seconds = NumberAt(v, "seconds");
  uint64_t kernel = CountAt(Member(v, "kernel_contract"), "violations");
  const json& strict = Member(v, "strict_contract");
  uint64_t strict_misses = CountAt(strict, "misses");
  c.output = fmt::format(
      "mode {}, method {}, {} blocks checked; kernel contract: {} violation(s); strict contract: {} "
      "miss(es)",
      TextAt(v, "mode", "?"), TextAt(v, "method", "?"), CountAt(v, "checked_blocks"), kernel, strict_misses);
  const json& by_writer = Member(strict, "by_writer");
  if (by_writer.is_object())
    for (const auto& [kind, t] : by_writer.items())
      if (CountAt(t, "promised"))
        c.output += fmt::format("; {} writes completed before a successful sync: found {} of {}", kind,
                                CountAt(t, "found"), CountAt(t, "promised"));
  c.details = ViolationLines(v);
  // Only the kernel contract fails a run (DESIGN.md); strict misses are measured and listed, not failed.
  if (kernel) {
    c.result = ReportCase::Result::kFail;
    c.message =
        fmt::format("{} kernel-contract violation(s), {} strict-contract miss(es)", kernel, strict_misses);
  }
  return c;
}

ReportCase VerdictCase(const json& run) {
  ReportCase c;
  c.name = "verdict";  // a judgement, not a step: its time is 0 so that the suite's time is the run's
  std::string verdict = TextAt(run, "verdict");
  std::vector<std::string> reasons = Strings(Member(run, "reasons"));
  c.message = Join(reasons, "; ");
  c.details = reasons;
  for (auto& line : EventLines(run)) c.details.push_back(std::move(line));
  const json& env = Member(run, "environment");
  const json& info = Member(run, "run");
  c.output = fmt::format("kernel {}; {}; pinner {}; sync {}; seed {}", TextAt(env, "kernel", "?"),
                         TextAt(env, "fs_detail", TextAt(env, "fs", "?")), TextAt(info, "pinner", "?"),
                         TextAt(info, "sync_op", "?"), TextAt(info, "seed", "?"));
  for (const auto& note : Strings(Member(run, "notes"))) c.output += "\nnote: " + note;
  const json& crash = Member(run, "crash");
  if (crash.is_object()) c.output += "\ncrash: " + Dump(crash);
  if (verdict == "pass") {
    c.result = ReportCase::Result::kPass;
  } else if (verdict == "fail") {
    c.result = ReportCase::Result::kFail;
  } else if (verdict == "skip" || verdict == "refused") {
    c.result = ReportCase::Result::kSkip;
  } else {
    c.result = ReportCase::Result::kError;
    if (verdict.empty())
      c.message = "no verdict in this report" + (c.message.empty() ? "" : "; " + c.message);
  }
  if (c.message.empty() && c.result != ReportCase::Result::kPass) c.message = "verdict " + verdict;
  return c;
}

// What the kernel did wrong, first: totals over every crash cycle and race attempt, the first examples, and
// the command that reproduces them.
ReportCase FindingsCase(const json& run) {
  ReportCase c;
  c.name = "findings";
  const json& f = Member(run, "findings");
  const uint64_t kernel = CountAt(f, "kernel_violations"), strict = CountAt(f, "strict_misses"),
                 alarms = CountAt(f, "kernel_alarms"), attempts = CountAt(f, "attempts");
  c.output = fmt::format("kernel-contract violations {}, strict misses {}, kernel alarms {}", kernel, strict,
                         alarms);
  if (attempts) c.output += fmt::format(", race attempts {}", attempts);
  const std::string reproduce = TextAt(f, "reproduce", "");
  if (!reproduce.empty()) c.output += "\nreproduce: " + reproduce;
  const json& race = Member(run, "race");
  const json& examples = Member(race, "examples");
  if (examples.is_array())
    for (const auto& e : examples) {
      if (c.details.size() >= 10) break;
      c.details.push_back(
          fmt::format("attempt {}: {} block {} (offset {}) expected gen >= {} ({}), found {}, promised by {}",
                      CountAt(e, "attempt"), TextAt(e, "contract", "?"), CountAt(e, "block"),
                      CountAt(e, "offset"), CountAt(e, "expected_generation"), TextAt(e, "writer", "?"),
                      TextAt(e, "found", "?"), TextAt(e, "promised_by", "?")));
    }
  for (auto& line : ViolationLines(Member(run, "verification")))
    if (c.details.size() < 10) c.details.push_back(std::move(line));
  if (!reproduce.empty() && (kernel || strict || alarms)) c.details.push_back("reproduce: " + reproduce);
  if (kernel || alarms || (strict && TextAt(run, "verdict") == "fail")) {
    c.result = ReportCase::Result::kFail;
    c.message = fmt::format("{} kernel-contract violation(s), {} strict miss(es), {} kernel alarm(s)", kernel,
                            strict, alarms);
  }
  return c;
}

}  // namespace

std::string TestName(std::string_view text) {
  std::string out;
  for (char ch : text) out += (ch == '#' || static_cast<unsigned char>(ch) <= ' ') ? '_' : ch;
  return out.empty() ? "unnamed" : out;
}

std::string ViolationLine(const json& v) {
  return fmt::format(
      "{} {}: block {} (offset {}) expected generation >= {}, found {} (generation {}), writer {}, "
      "promised by {} #{}",
      TextAt(v, "contract", "?"), TextAt(v, "kind", "?"), TextAt(v, "block", "?"), TextAt(v, "offset", "?"),
      TextAt(v, "expected_generation", "?"), TextAt(v, "found", "?"), TextAt(v, "found_generation", "?"),
      TextAt(v, "writer", "?"), TextAt(v, "sync_op", "?"), TextAt(v, "sync_id", "?"));
}

std::vector<ReportCase> RunCases(const json& run) {
  std::vector<ReportCase> cases;
  // A race script's outcome is its findings: they lead, in place of a whole-target verification.
  const bool race = Member(run, "race").is_object();
  if (race) cases.push_back(FindingsCase(run));
  const json& phases = Member(run, "phases");
  if (phases.is_array())
    for (size_t i = 0; i < phases.size(); ++i) {
      const json& p = phases[i];
      ReportCase c;
      c.name = TestName("phase." + TextAt(p, "name", std::to_string(i)));
      c.output = PhaseOutput(p);
      c.seconds = NumberAt(p, "seconds");
      cases.push_back(std::move(c));
    }
  if (!race) cases.push_back(VerificationCase(run));
  ReportCase verdict = VerdictCase(run);
  // The verdict's details lead with what the kernel did wrong, over every crash cycle, and how to reproduce
  // it.
  const json& f = Member(run, "findings");
  if (f.is_object() &&
      (CountAt(f, "kernel_violations") || CountAt(f, "strict_misses") || CountAt(f, "kernel_alarms"))) {
    std::vector<std::string> lead = {fmt::format(
        "findings: {} kernel-contract violation(s), {} strict miss(es), {} kernel alarm(s)",
        CountAt(f, "kernel_violations"), CountAt(f, "strict_misses"), CountAt(f, "kernel_alarms"))};
    if (!TextAt(f, "reproduce", "").empty()) lead.push_back("reproduce: " + TextAt(f, "reproduce", ""));
    verdict.details.insert(verdict.details.begin(), lead.begin(), lead.end());
  }
  cases.push_back(std::move(verdict));
  return cases;
}

std::string MarkedCellOutcome(const json& cell) {
  std::string out = TextAt(cell, "outcome", TextAt(Member(cell, "report"), "verdict", "no outcome"));
  const json& expected = Member(cell, "as_expected");
  if (expected.is_boolean()) out += expected.get<bool>() ? " [ok]" : " [UNEXPECTED]";
  else if (TextAt(cell, "judgement").rfind("no rule", 0) == 0) out += " [no rule]";
  return out;
}

ReportCase CellCase(const json& cell) {
  ReportCase c;
  c.name = TestName(fmt::format("{}/{}/{}/{}", TextAt(cell, "pinner", "?"), TextAt(cell, "fs", "?"),
                                TextAt(cell, "mapping", "?"), TextAt(cell, "sync", "?")));
  c.group = TextAt(cell, "kernel_name");
  const json& run = Member(cell, "report");
  std::string outcome = TextAt(cell, "outcome");
  if (outcome.empty()) outcome = TextAt(run, "verdict", "no outcome in this report");
  c.message = outcome;
  c.seconds = RunSeconds(run);
  auto starts = [&](std::string_view prefix) { return outcome.rfind(prefix, 0) == 0; };
  const json& expected = Member(cell, "as_expected");
  if (starts("fail") || starts("kernel event") || starts("hang")) {
    c.result = ReportCase::Result::kFail;
  } else if (expected.is_boolean() && !expected.get<bool>()) {
    // The kernel did what its rule says it must not: a failure whatever the run's own verdict.
    c.result = ReportCase::Result::kFail;
    c.message = "UNEXPECTED: " + TextAt(cell, "judgement", outcome);
  } else if (starts("refused") && expected.is_boolean()) {
    c.result = ReportCase::Result::kXfail;
    c.message = outcome + ": " + TextAt(cell, "judgement");
  } else if (starts("pass")) {
    c.result = ReportCase::Result::kPass;
  } else if (starts("skip") || starts("refused")) {
    // A refused pin no rule speaks for is what this kernel does, not a failure of it: reported, never failed.
    c.result = ReportCase::Result::kSkip;
  } else {
    c.result = ReportCase::Result::kError;
  }
  if (!TextAt(cell, "kernel").empty())
    c.output += "kernel " + TextAt(cell, "kernel") + ": " + TextAt(cell, "judgement", "not judged") + "\n";
  if (run.is_object()) {
    c.details = Strings(Member(run, "reasons"));
    for (auto& line : ViolationLines(Member(run, "verification"))) c.details.push_back(std::move(line));
    for (auto& line : EventLines(run)) c.details.push_back(std::move(line));
    const json& phases = Member(run, "phases");
    if (phases.is_array())
      for (const auto& p : phases) c.output += TextAt(p, "name", "phase") + ": " + PhaseOutput(p) + "\n";
  }
  return c;
}

}  // namespace report_detail
}  // namespace longpin
