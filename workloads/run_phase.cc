// One phase of a run: its threads (writers, syncers, the pin driver, a scenario), sampled while they run,
// stopped at the phase's end or at the crash point, and tallied into a PhaseReport.
#include <unistd.h>

#include <algorithm>
#include <thread>

#include "core/units.h"
#include "workloads/phase_threads.h"
#include "workloads/pin_driver.h"
#include "workloads/run_session.h"
#include "workloads/syncer.h"
#include "workloads/writers.h"

namespace longpin {

namespace {

// What the threads of one phase count, read after they are joined (and live by the progress line).
struct PhaseTallies {
  std::vector<WriterTally> cpu, pwrite;
  std::vector<SyncerTally> sync;
  PinDriverTally pin;
  std::unique_ptr<ScenarioEnv> scenario;
};

// The pinner is made at the first pinned phase: a pinner that cannot be made here is a skip.
bool MakePinner(RunSession& s) {
  if (s.pinner) return true;
  PinTarget pin_target{
      s.target.map(),  s.target.length(), s.target.fd(), s.target.path(), size_t(::sysconf(_SC_PAGESIZE)),
      s.cfg.block_size};
  auto created = s.pinner_info->create(pin_target, s.pinner_options);
  if (!created.ok()) {
    const int e = created.status().err();
    const bool cannot = e == ENODEV || e == ENOTSUP || e == EOPNOTSUPP || e == EPERM;
    RaiseVerdict(s.report, cannot ? Verdict::kSkip : Verdict::kError,
                 "pinner " + s.cfg.pinner + ": " + created.status().message());
    return false;
  }
  s.pinner = std::move(*created);
  return true;
}

void StartThreads(RunSession& s, bool pinned, PhaseTallies& t, PhaseThreads& threads) {
  const RunConfig& cfg = s.cfg;
  WorkloadContext& ctx = s.ctx;
  t.pin.run_start_ns = s.run_start_ns;
  if (cfg.sync_each_write) {
    for (auto& w : t.cpu) w.own_syncs = std::make_unique<SyncerTally>();
    for (auto& w : t.pwrite) w.own_syncs = std::make_unique<SyncerTally>();
  }
  int writer_id = 0;
  for (size_t i = 0; i < s.cpu_workers.size(); ++i, ++writer_id)
    threads.emplace_back(RunCpuWriter, std::ref(ctx), writer_id, s.seeds.Next(), s.cpu_workers[i].lane,
                         s.cpu_workers[i].slot, &t.cpu[i]);
  for (size_t i = 0; i < s.pwrite_workers.size(); ++i, ++writer_id)
    threads.emplace_back(RunPwriteWriter, std::ref(ctx), writer_id, s.seeds.Next(), s.pwrite_workers[i].lane,
                         s.pwrite_workers[i].slot, &t.pwrite[i]);
  for (auto& y : t.sync) {
    y.writeback = &s.writeback;
    y.pinned_pages = &t.pin.held_pages;
  }
  for (size_t i = 0; i < (cfg.sync_each_write ? 0 : s.sync_workers.size()); ++i)
    threads.emplace_back(RunSyncer, std::ref(ctx), int(i), s.sync_workers[i].lane, s.sync_workers[i].slot,
                         &t.sync[i]);
  if (pinned) {
    const bool pinner_writes = cfg.writers.dma > 0;
    const int dma_id = pinner_writes && s.pinner->can_write() ? writer_id : -1;
    if (pinner_writes && dma_id < 0)
      s.report.notes.push_back("pinner " + cfg.pinner + " does not write: dma writers left out");
    threads.emplace_back(RunPinDriver, std::ref(ctx), std::ref(*s.pinner), s.pinner_index, dma_id,
                         s.seeds.Next(), s.pin_worker.lane, s.pin_worker.slot, &t.pin);
  }
  if (s.scenario) {
    t.scenario.reset(new ScenarioEnv{ctx,
                                     pinned ? s.pinner.get() : nullptr,
                                     s.scenario_worker.lane,
                                     s.scenario_worker.slot,
                                     s.seeds.Next(),
                                     pinned,
                                     {},
                                     {},
                                     {}});
    threads.emplace_back([env = t.scenario.get(), scenario = s.scenario] {
      BindThreadToSlot(env->slot);
      scenario->run(*env);
      env->lane->Publish();
    });
  }
}

void ShowProgress(RunSession& s, const std::string& phase, size_t number, const PhaseTallies& t) {
  ProgressSample p = s.Sample(phase, number);
  for (const auto& w : t.cpu) p.writes += w.completed;
  for (const auto& w : t.pwrite) p.writes += w.completed;
  p.writes += t.pin.dma.completed;
  LatencyHistogram live;
  for (const auto& y : t.sync) y.live.SnapshotInto(live);
  for (const auto* ws : {&t.cpu, &t.pwrite})
    for (const auto& w : *ws)
      if (w.own_syncs) w.own_syncs->live.SnapshotInto(live);
  p.syncs = live.count();
  p.sync_p99_ns = live.Quantile(0.99);
  p.pinned_pages = t.pin.held_pages;
  s.progress->Update(p);
}

// Runs until the phase's end (or the crash point), sampling dirty/writeback memory and the progress line.
void WaitPhase(RunSession& s, size_t p, double run_for_s, const PhaseTallies& t) {
  const auto t0 = std::chrono::steady_clock::now();
  const auto end = t0 + std::chrono::nanoseconds(uint64_t(run_for_s * 1e9));
  auto next_sample = t0, next_progress = t0;
  while (std::chrono::steady_clock::now() < end && !g_interrupted.load()) {
    if (std::chrono::steady_clock::now() >= next_sample) {
      DirtySnapshot d = ReadDirtyCounters();
      s.report.timeline.vmstat.push_back(
          {s.SinceStartMs(MonotonicNs()), double(d.dirty), double(d.writeback)});
      next_sample += std::chrono::milliseconds(100);
    }
    if (s.progress->enabled() && std::chrono::steady_clock::now() >= next_progress) {
      ShowProgress(s, s.cfg.phases[p], p + 1, t);
      next_progress = std::chrono::steady_clock::now() + std::chrono::milliseconds(250);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

// The crash: record the point, then let the model crash the filesystem. Everything in flight now fails and
// is logged as failed by its thread.
void FireCrash(RunSession& s, const std::string& phase, std::chrono::steady_clock::time_point phase_t0) {
  CrashReport cr;
  cr.model = s.crash->name();
  cr.phase = phase;
  cr.at_s = SecondsSince(phase_t0);
  cr.seq = s.main_worker.lane->Append(RecordType::kCrash, 0, 0, 0, MonotonicNs(), 0);
  s.report.timeline.crash_ms = s.SinceStartMs(MonotonicNs());
  const auto crash_t0 = std::chrono::steady_clock::now();
  Status fired = s.crash->Fire(s.scratch.get());
  cr.shutdown_result = fired.ok() ? "ok" : fired.message();
  cr.shutdown_s = SecondsSince(crash_t0);
  s.report.crash = cr;
  s.crashed = true;
  if (!fired.ok()) RaiseVerdict(s.report, Verdict::kError, "crash: " + fired.message());
}

void TallyPhase(RunSession& s, bool pinned, PhaseTallies& t, PhaseReport& pr) {
  const RunConfig& cfg = s.cfg;
  for (const auto* ws : {&t.cpu, &t.pwrite})
    for (const auto& w : *ws) {
      pr.writes[ws == &t.cpu ? "cpu" : "pwrite"] += w.completed;
      for (const auto& [k, v] : w.errors) pr.write_errors[k] += v;
    }
  pr.writes["dma"] += t.pin.dma.completed;
  for (auto& [k, v] : t.pin.dma.errors) pr.write_errors[k] += v;
  for (auto& [k, v] : t.pin.dma.expected_errors) pr.expected_write_errors[k] += v;
  auto& hist = pr.sync[SyncOpName(cfg.sync_op)];
  for (auto& y : t.sync) {
    hist.Merge(y.latency);
    for (auto& [k, v] : y.errors) pr.sync_errors[k] += v;
  }
  pr.writeback.syncs =
      CollectSyncRecords(s.writeback, t.sync, &pr.writeback.dropped, &pr.writeback.events_lost);
  if (!pr.writeback.syncs.empty()) pr.writeback.source = s.writeback.source_name();
  for (const auto* ws : {&t.cpu, &t.pwrite})
    for (const auto& w : *ws)
      if (w.own_syncs) {
        hist.Merge(w.own_syncs->latency);
        for (auto& [k, v] : w.own_syncs->errors) pr.sync_errors[k] += v;
      }
  if (pinned) {
    PinCounterSnapshot before = pr.pins.before, after = pr.pins.after;
    pr.pins = t.pin.pins;
    pr.pins.pinner = cfg.pinner;
    pr.pins.reference = PinReferenceName(s.pinner_info->reference);
    pr.pins.before = before;
    pr.pins.after = after;
    s.report.timeline.pins.insert(s.report.timeline.pins.end(), t.pin.spans.begin(), t.pin.spans.end());
  }
  if (t.scenario) {
    pr.scenario = t.scenario->counters;
    for (auto& n : t.scenario->notes) s.report.notes.push_back(cfg.scenario + ": " + n);
    for (auto& f : t.scenario->failures) RaiseVerdict(s.report, Verdict::kFail, cfg.scenario + ": " + f);
  }
  for (const auto* ws : {&s.cpu_workers, &s.pwrite_workers})
    for (const auto& w : *ws) pr.log_backpressure_waits += w.lane->backpressure_waits();
}

}  // namespace

double SecondsSince(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

ProgressSample RunSession::Sample(const std::string& phase, size_t number) const {
  ProgressSample p;
  p.elapsed_s = SinceStartMs(MonotonicNs()) / 1e3;
  p.phase = phase;
  p.phase_number = number;
  p.phase_count = cfg.phases.size();
  p.sync_op = SyncOpName(cfg.sync_op);
  const auto events = kmsg->Events();
  p.kernel_events =
      uint64_t(std::count_if(events.begin(), events.end(), [](const KernelEvent& e) { return e.alarm(); }));
  p.violations = cfg.progress.violations_before;
  p.cycle = cfg.progress.cycle;
  p.cycles = cfg.progress.cycles;
  p.label = cfg.progress.label;
  return p;
}

bool PrepareThreads(RunSession& s) {
  const RunConfig& cfg = s.cfg;
  RunReport& report = s.report;
  // Lines of other runs' devices (their shutdowns, their errors) are not this run's findings.
  s.kmsg = std::make_unique<KernelLogMonitor>(
      DeviceOwnership{{s.run_dir->path()}, {BlockDeviceOf(s.target.path())}});
  report.kernel_log_unavailable = s.kmsg->unavailable_reason();
  s.progress = std::make_unique<ProgressLine>(cfg.progress.enabled);
  s.watchdog = std::make_unique<HangWatchdog>(cfg.hang_threshold_s);
  s.ctx.watchdog = s.watchdog.get();
  InstallMappedStoreGuard();
  s.pinner_options = cfg.pinner_options;
  if (s.pinner_options.scratch_dir.empty()) s.pinner_options.scratch_dir = s.run_dir->path();
  for (size_t i = 0; i < PinnerRegistry().size(); ++i)
    if (&PinnerRegistry()[i] == s.pinner_info) s.pinner_index = uint8_t(i);

  // Lanes and watchdog slots for every thread, allocated before any thread starts.
  auto worker = [&](const std::string& role) { return Worker{s.elog->NewLane(), s.watchdog->NewSlot(role)}; };
  for (int i = 0; i < cfg.writers.cpu; ++i)
    s.cpu_workers.push_back(worker("cpu-writer " + std::to_string(i)));
  for (int i = 0; i < cfg.writers.pwrite; ++i)
    s.pwrite_workers.push_back(worker("pwrite-writer " + std::to_string(i)));
  for (int i = 0; i < cfg.syncers; ++i) s.sync_workers.push_back(worker("syncer " + std::to_string(i)));
  s.pin_worker = worker("pinner " + cfg.pinner);
  s.scenario_worker = worker("scenario " + cfg.scenario);
  s.scenario = cfg.scenario.empty() ? nullptr : FindScenario(cfg.scenario);
  if (!cfg.scenario.empty() && !s.scenario) {
    RaiseVerdict(report, Verdict::kBadInput, "unknown workload scenario " + cfg.scenario);
    return false;
  }
  s.main_worker = worker("main");
  s.watchdog->Start();
  s.writeback = WritebackTrace::Open(report.fs, s.scratch != nullptr);
  if (!s.writeback.note().empty()) report.notes.push_back(s.writeback.note());

  // The crash point: in the pinned phase (else the last), seeded unless --crash-at.
  s.crash_phase = cfg.phases.size() - 1;
  for (size_t p = 0; p < cfg.phases.size(); ++p)
    if (cfg.phases[p] == "pinned") s.crash_phase = p;
  const double crash_fraction = 0.2 + 0.6 * double(s.seeds.Next() % 1000000) / 1e6;
  s.crash_at_s =
      cfg.crash_at_s >= 0 ? std::min(cfg.crash_at_s, cfg.duration_s) : crash_fraction * cfg.duration_s;
  return true;
}

bool RunPhase(RunSession& s, size_t p) {
  const RunConfig& cfg = s.cfg;
  const std::string& phase = cfg.phases[p];
  const bool pinned = phase == "pinned" && cfg.pinner != "none";
  PhaseReport pr;
  pr.name = phase;
  pr.pins.pinner = pinned ? cfg.pinner : "none";
  pr.pins.reference = pinned ? PinReferenceName(s.pinner_info->reference) : "none";
  if (pinned && !MakePinner(s)) return false;
  s.ctx.phase_index = uint32_t(p);
  s.ctx.phase_stop.store(false);
  pr.pins.before = ReadPinCounters();
  s.main_worker.lane->Append(RecordType::kPhase, uint8_t(p), 0, 1, MonotonicNs(), 0);

  PhaseTallies t;
  t.cpu = std::vector<WriterTally>(s.cpu_workers.size());
  t.pwrite = std::vector<WriterTally>(s.pwrite_workers.size());
  t.sync = std::vector<SyncerTally>(s.sync_workers.size());
  PhaseThreads threads;
  StartThreads(s, pinned, t, threads);
  const auto t0 = std::chrono::steady_clock::now();
  const bool crash_here = s.crash->fires() && p == s.crash_phase;
  WaitPhase(s, p, crash_here ? s.crash_at_s : cfg.duration_s, t);
  if (crash_here && !g_interrupted.load()) FireCrash(s, phase, t0);
  const auto stop_t0 = std::chrono::steady_clock::now();
  s.ctx.phase_stop.store(true);
  if (!threads.JoinUntil(stop_t0 + std::chrono::nanoseconds(uint64_t(cfg.hang_threshold_s * 1e9)))) {
    s.progress->Clear();
    AbandonRun(s.report, *s.watchdog, *s.kmsg, threads.StuckTids(), phase, cfg.hang_threshold_s);
  }
  if (s.crashed) s.report.crash->stop_s = SecondsSince(stop_t0);
  pr.seconds = SecondsSince(t0);
  s.main_worker.lane->Append(RecordType::kPhase, uint8_t(p), 0, 0, MonotonicNs(), 0);
  pr.pins.after = ReadPinCounters();
  TallyPhase(s, pinned, t, pr);
  s.report.phases.push_back(std::move(pr));
  return !s.crashed;
}

}  // namespace longpin
