#include "workloads/run.h"

#include <signal.h>
#include <sys/random.h>
#include <unistd.h>

#include "core/kernel_release.h"
#include "core/units.h"
#include "workloads/race_script.h"
#include "workloads/run_session.h"

namespace longpin {

std::atomic<bool> g_interrupted{false};

namespace {

void OnInterrupt(int) {
  g_interrupted.store(true);
}

uint64_t RandomSeed() {
  uint64_t s = 0;
  if (::getrandom(&s, sizeof s, 0) != sizeof s) s = MonotonicNs();
  return s ? s : 1;
}

// The report's identity (seed, run id, what runs), the pinner looked up and the run directory made.
bool StartRun(RunSession& s) {
  const RunConfig& cfg = s.cfg;
  RunReport& report = s.report;
  report.kernel = KernelRelease();
  report.root = ::geteuid() == 0;
  report.block_size = cfg.block_size;
  report.target_size = cfg.size;
  report.seed = cfg.seed ? cfg.seed : RandomSeed();
  report.pinner = cfg.pinner;
  report.sync_op = SyncOpName(cfg.sync_op);
  report.sync_interval_s = cfg.sync_interval_s;
  report.sync_each_write = cfg.sync_each_write;
  report.mapping = MappingName(cfg.mapping);
  s.seeds = SplitMix{report.seed};
  report.run_id = s.seeds.Next();
  if (cfg.fell_back_to_dir) report.notes.push_back(cfg.fallback_reason);
  s.run_start_ns = MonotonicNs();

  s.pinner_info = FindPinner(cfg.pinner);
  if (!s.pinner_info) {
    RaiseVerdict(report, Verdict::kBadInput, "unknown pinner " + cfg.pinner + " (see `longpin list`)");
    return false;
  }
  const PinnerInfo& info = *s.pinner_info;
  if (auto why = info.unavailable()) {
    RaiseVerdict(report, Verdict::kSkip, std::string("pinner ") + cfg.pinner + ": " + *why);
    return false;
  }
  const std::string base = cfg.workdir.empty() ? DefaultWorkBase() : cfg.workdir;
  auto dir = RunDirectory::Create(base, report.run_id);
  if (!dir.ok()) {
    RaiseVerdict(report, Verdict::kError, dir.status().message());
    return false;
  }
  s.run_dir = *dir;
  report.run_dir = s.run_dir->path();
  s.crash = MakeCrashModel(cfg.crash, CrashModelOptions{cfg.allow_shutdown_of, cfg.state_dir});
  return true;
}

}  // namespace

void InstallInterruptHandlers() {
  struct sigaction sa {};
  sa.sa_handler = OnInterrupt;
  sigemptyset(&sa.sa_mask);
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGTERM, &sa, nullptr);
}

RunReport Run(RunConfig config, const BeforeVerifyHook& hook) {
  if (!config.race.empty()) return RunRace(config);
  RunSession s(std::move(config), hook);
  if (!StartRun(s)) return std::move(s.report);
  if (PrepareTarget(s) && OpenExpectedLog(s) && PrepareThreads(s)) {
    s.phases_ran = true;
    s.run_pins_before = ReadPinCounters();
    for (size_t p = 0; p < s.cfg.phases.size() && !g_interrupted.load(); ++p)
      if (!RunPhase(s, p)) break;
    s.report.interrupted = g_interrupted.load();
    s.pinner.reset();
    CheckPinBalance(s);
    FinalSyncAndVerify(s);
    RecordPinKind(s);
  }
  return ConcludeRun(s);
}

}  // namespace longpin
