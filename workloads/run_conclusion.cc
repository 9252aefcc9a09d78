// The end of a run: its findings (violations, IO errors, kernel events, hangs, a pin leak, an interruption)
// raised into the verdict, the latency comparison, and what the run made removed, unless it is evidence.
#include "workloads/run_session.h"

namespace longpin {

namespace {

// IO errors are reported as such, never as data violations. In a crash cycle they are expected after the
// crash point, so only errors before it count.
void ConcludeIoErrors(RunReport& report) {
  uint64_t write_errors = 0;
  std::string what;
  for (const auto& ph : report.phases)
    for (const auto& [k, n] : ph.write_errors) {
      write_errors += n;
      what += " " + k + " x" + std::to_string(n);
    }
  for (const auto& [k, n] : report.sync_errors_total) what += " " + k + " x" + std::to_string(n);
  std::string expected;
  for (const auto& ph : report.phases)
    for (const auto& [k, n] : ph.expected_write_errors) expected += " " + k + " x" + std::to_string(n);
  if (!expected.empty()) report.notes.push_back("write failures the workload caused on purpose:" + expected);
  if (!report.crash && (write_errors || !report.sync_errors_total.empty())) {
    // An IO error makes a pass an error; after a worse finding it is one more reason.
    if (report.verdict == Verdict::kPass)
      RaiseVerdict(report, Verdict::kError, "IO errors during the run:" + what);
    else report.reasons.push_back("IO errors during the run:" + what);
  } else if (report.crash && !what.empty()) {
    report.notes.push_back("errors after the crash point (expected):" + what);
  }
}

void CompareSyncLatency(RunSession& s) {
  std::vector<LatencyHistogram> base_sync, pinned_sync;  // one per phase: the interval sees the rounds
  const std::string op = SyncOpName(s.cfg.sync_op);
  for (const auto& ph : s.report.phases)
    if (auto it = ph.sync.find(op); it != ph.sync.end())
      (ph.name == "pinned" ? pinned_sync : base_sync).push_back(it->second);
  s.report.comparison = CompareLatency(op, base_sync, pinned_sync, s.report.seed);
  s.report.rounds = s.cfg.rounds;
}

void Note(RunReport& report, const Status& s) {
  if (!s.ok()) report.notes.push_back("cleanup: " + s.message());
}

// The target, the scratch filesystem and the crash model's devices go (--keep: the images stay). The run
// directory (expected log, owner marker) goes only after a run that leaves nothing to look at: after a fail
// or an error it holds the evidence, and `longpin cleanup` removes it when the user is done.
void CleanUp(RunSession& s) {
  const RunConfig& cfg = s.cfg;
  RunReport& report = s.report;
  const bool keep_target = cfg.keep || cfg.crash == CrashKind::kPowerCut;
  s.target.Close(keep_target);
  if (s.scratch && cfg.keep) {
    report.kept_image = s.scratch->image_path();
    Note(report, s.scratch->Unmount());
    s.scratch.reset();  // detaches the loop device; the image stays
    report.notes.push_back("--keep: image kept at " + report.kept_image + " (mount -o loop " +
                           report.kept_image + " DIR to inspect); `longpin cleanup` removes it");
  } else if (s.scratch) {
    Note(report, s.scratch->Remove());
    s.scratch.reset();
  } else if (keep_target && !report.target_path.empty()) {
    report.notes.push_back("target kept at " + report.target_path);
  }
  if (s.crash) Note(report, s.crash->Cleanup(cfg.keep));
  if (!s.run_dir) return;
  // A skip ran nothing worth keeping: what could not run here leaves nothing behind, like a pass.
  const Verdict v = report.verdict;
  if (!s.run_dir_holds_evidence ||
      (!cfg.keep && (v == Verdict::kPass || v == Verdict::kInterrupted || v == Verdict::kSkip))) {
    Note(report, s.run_dir->Remove());
    if (cfg.state_dir.empty()) report.expected_log_path.clear();
  } else if (!report.expected_log_path.empty()) {
    report.notes.push_back("expected log kept at " + report.expected_log_path);
  }
}

}  // namespace

void ConcludeVerdict(RunReport& report) {
  if (report.verification && report.verification->kernel_violations > 0)
    RaiseVerdict(
        report, Verdict::kFail,
        std::to_string(report.verification->kernel_violations) +
            " kernel-contract violation(s): data a successful sync promised is not on disk as written");
  ConcludeIoErrors(report);
  for (const auto& e : report.kernel_events)
    if (e.alarm())
      RaiseVerdict(report, Verdict::kFail,
                   std::string("kernel ") + KernelEventClassName(e.cls) + ": " + e.line + e.TaskSuffix());
  for (const auto& h : report.hangs)
    RaiseVerdict(report, Verdict::kFail,
                 h.role + " stuck in " + h.op + " for " + std::to_string(int(h.seconds)) + " s (wchan " +
                     h.wchan + ")");
  if (report.pin_leak_pages > 0)
    RaiseVerdict(report, Verdict::kFail,
                 "pin leak: nr_foll_pin_acquired - nr_foll_pin_released = " +
                     std::to_string(report.pin_leak_pages) + " pages after the run");
}

RunReport ConcludeRun(RunSession& s) {
  RunReport& report = s.report;
  if (s.phases_ran) {
    s.progress->Clear();
    s.kmsg->Stop();
    report.kernel_events = s.kmsg->Events();
    CompareSyncLatency(s);
    // A run that verified nothing and found nothing worse cannot pass.
    if (!report.verification && report.verdict == Verdict::kPass) RaiseVerdict(report, Verdict::kError, "");
    ConcludeVerdict(report);
    if (report.interrupted) {
      // What ran was checked, but what did not run cannot pass: the verdict says so in every format. A
      // failure found before the signal stays a failure.
      if (report.verdict == Verdict::kPass) RaiseVerdict(report, Verdict::kInterrupted, "");
      report.reasons.push_back("interrupted by a signal: phases after the interruption did not run");
    }
  }
  CleanUp(s);
  return std::move(report);
}

}  // namespace longpin
