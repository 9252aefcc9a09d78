#include "workloads/run.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <memory>
#include <thread>

#include "core/kernel_log.h"
#include "core/run_directory.h"
#include "core/scratch_fs.h"
#include "core/units.h"
#include "verifiers/disk_reader.h"
#include "workloads/pin_driver.h"
#include "workloads/syncer.h"
#include "workloads/writers.h"

namespace longpin {

std::atomic<bool> g_interrupted{false};

namespace {

void OnInterrupt(int) { g_interrupted.store(true); }

uint64_t RandomSeed() {
  uint64_t s = 0;
  if (::getrandom(&s, sizeof s, 0) != sizeof s) s = MonotonicNs();
  return s ? s : 1;
}

std::string KernelRelease() {
  utsname u{};
  ::uname(&u);
  return u.release;
}

std::string FsNameOf(const std::string& path) {
  struct statfs sf {};
  if (::statfs(path.c_str(), &sf) != 0) return "unknown";
  switch (sf.f_type) {
    case 0xEF53: return "ext4";
    case 0x58465342: return "xfs";
    case 0x9123683E: return "btrfs";
    case 0xF2F52010: return "f2fs";
    case 0x01021994: return "tmpfs";
    case 0x65735546: return "fuse";
    case 0x794c7630: return "overlayfs";
    default: return "fs-magic-" + std::to_string(sf.f_type);
  }
}

// Everything the run created, released in reverse order whatever happens.
struct RunResources {
  RunDirectory dir;
  std::unique_ptr<ScratchFs> scratch;
  std::string target_path;
  bool target_created = false;
  int fd = -1;
  std::byte* map = nullptr;
  size_t map_length = 0;
  std::unique_ptr<ExpectedLog> log;

  void Unmap() {
    if (map) ::munmap(map, map_length);
    map = nullptr;
  }
  void Release(bool keep, RunReport& report) {
    Unmap();
    if (fd >= 0) ::close(fd);
    fd = -1;
    log.reset();
    if (keep) {
      if (scratch) {
        report.kept_image = scratch->image_path();
        scratch->Unmount();
        scratch.reset();  // detaches the loop device; the image stays
        report.notes.push_back("--keep: image kept at " + report.kept_image + " (mount -o loop " +
                               report.kept_image + " DIR to inspect); remove it with `longpin cleanup`");
      } else if (target_created) {
        report.notes.push_back("--keep: target kept at " + target_path);
      }
      return;
    }
    if (target_created && !scratch) ::unlink(target_path.c_str());
    if (scratch) {
      Status s = scratch->Remove();
      if (!s.ok()) report.notes.push_back("cleanup: " + s.message());
      scratch.reset();
    }
  }
};

}  // namespace

void InstallInterruptHandlers() {
  struct sigaction sa {};
  sa.sa_handler = OnInterrupt;
  sigemptyset(&sa.sa_mask);
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGTERM, &sa, nullptr);
}

void SetVerdict(RunReport& r, const char* verdict, int exit_code, std::string reason) {
  // Severity order: error/skip (could not judge) < pass < fail; a fail is never downgraded.
  if (r.verdict != "fail" || std::string(verdict) == "fail") {
    r.verdict = verdict;
    r.exit_code = exit_code;
  }
  if (!reason.empty()) r.reasons.push_back(std::move(reason));
}

RunReport Run(RunConfig cfg) {
  RunReport report;
  report.kernel = KernelRelease();
  report.root = ::geteuid() == 0;
  report.block_size = cfg.block_size;
  report.target_size = cfg.size;
  report.seed = cfg.seed ? cfg.seed : RandomSeed();
  report.pinner = cfg.pinner;
  report.sync_op = SyncOpName(cfg.sync_op);
  report.sync_interval_s = cfg.sync_interval_s;
  SplitMix seeds{report.seed};
  report.run_id = seeds.Next();
  if (cfg.fell_back_to_dir) report.notes.push_back(cfg.fallback_reason);

  const PinnerInfo* pinner_info = FindPinner(cfg.pinner);
  if (!pinner_info) {
    SetVerdict(report, "error", kExitUsage, "unknown pinner " + cfg.pinner + " (see `longpin list`)");
    return report;
  }
  if (!pinner_info->create) {
    SetVerdict(report, "skip", kExitCannotRun, std::string("pinner ") + cfg.pinner + ": " +
                                                   pinner_info->unavailable().value_or("compiled out"));
    return report;
  }
  if (auto why = pinner_info->unavailable()) {
    SetVerdict(report, "skip", kExitCannotRun, std::string("pinner ") + cfg.pinner + ": " + *why);
    return report;
  }

  RunResources res;
  const std::string base = cfg.workdir.empty() ? DefaultWorkBase() : cfg.workdir;
  auto dir = RunDirectory::Create(base, report.run_id);
  if (!dir.ok()) {
    SetVerdict(report, "error", kExitError, dir.status().message());
    return report;
  }
  res.dir = *dir;
  report.run_dir = res.dir.path();

  // Target.
  const bool dir_mode = cfg.fs.rfind("dir:", 0) == 0;
  const uint64_t image_bytes = std::max<uint64_t>(1ull << 30, cfg.size * 2 + (512ull << 20));
  if (dir_mode) {
    const std::string path = cfg.fs.substr(4);
    res.target_path = path + "/longpin-target-" + res.dir.path().substr(res.dir.path().rfind('-') + 1);
    report.fs = FsNameOf(path);
    report.fs_detail = "dir:" + path + " (" + report.fs + ")";
  } else {
    auto type = ParseFsType(cfg.fs);
    auto fs = ScratchFs::Create(res.dir.path(), *type, image_bytes, cfg.mount_options);
    if (!fs.ok()) {
      SetVerdict(report, fs.status().err() == ENOTSUP ? "skip" : "error",
                 fs.status().err() == ENOTSUP ? kExitCannotRun : kExitError, fs.status().message());
      res.dir.Remove();
      return report;
    }
    res.scratch = std::move(*fs);
    res.target_path = res.scratch->mount_point() + "/target";
    report.fs = cfg.fs;
    report.fs_detail = cfg.fs + " on " + res.scratch->loop_device() + " (scratch image " +
                       res.scratch->image_path() + ", " + FormatSize(image_bytes) + " sparse)";
  }
  report.target_path = res.target_path;

  // The run directory (expected log, owner marker) goes away only after a pass: after a fail or an error
  // it holds the evidence, and `longpin cleanup` removes it when the user is done.
  auto finish = [&](RunReport& r) {
    res.Release(cfg.keep, r);
    if (!cfg.keep && r.verdict == "pass") {
      Status s = res.dir.Remove();
      if (!s.ok()) r.notes.push_back("cleanup: " + s.message());
      r.expected_log_path.clear();
    } else if (!r.expected_log_path.empty()) {
      r.notes.push_back("expected log kept at " + r.expected_log_path);
    }
    return r;
  };

  res.fd = ::open(res.target_path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (res.fd < 0) {
    SetVerdict(report, "error", kExitError, Status::FromErrno("create target " + res.target_path).message());
    return finish(report);
  }
  res.target_created = true;
  // Allocate up front: a store through the mapping that needs space it cannot get is a SIGBUS, not an error.
  if (::posix_fallocate(res.fd, 0, off_t(cfg.size)) != 0) {
    if (::ftruncate(res.fd, off_t(cfg.size)) != 0) {
      SetVerdict(report, "error", kExitError, Status::FromErrno("size target " + res.target_path).message());
      return finish(report);
    }
    report.notes.push_back("target not preallocated (fallocate unsupported on " + report.fs +
                           "): mapped stores may fail with SIGBUS when space runs out");
  }
  res.map_length = cfg.size;
  void* m = ::mmap(nullptr, res.map_length, PROT_READ | PROT_WRITE, MAP_SHARED, res.fd, 0);
  if (m == MAP_FAILED) {
    SetVerdict(report, "error", kExitError, Status::FromErrno("mmap target " + res.target_path).message());
    return finish(report);
  }
  res.map = static_cast<std::byte*>(m);

  WorkloadContext ctx;
  ctx.config = &cfg;
  ctx.run_id = report.run_id;
  ctx.pattern = std::make_unique<StampPattern>(report.run_id, cfg.block_size);
  ctx.map = res.map;
  ctx.map_length = res.map_length;
  ctx.fd = res.fd;
  ctx.block_count = cfg.size / cfg.block_size;
  ctx.generations.assign(ctx.block_count, 0);

  const bool pinner_writes = cfg.writers.dma > 0;
  ctx.writer_total = cfg.writers.cpu + cfg.writers.pwrite + (pinner_writes ? 1 : 0);
  if (ctx.writer_total == 0) ctx.writer_total = 1;

  auto log = ExpectedLog::Create(res.dir.File("expected.log"), report.run_id, cfg.block_size, ctx.block_count,
                                 false);
  if (!log.ok()) {
    SetVerdict(report, "error", kExitError, log.status().message());
    return finish(report);
  }
  res.log = std::move(*log);
  ctx.log = res.log.get();
  report.expected_log_path = res.log->path();

  KernelLogMonitor kmsg;
  report.kernel_log_unavailable = kmsg.unavailable_reason();
  HangWatchdog watchdog(cfg.hang_threshold_s);
  ctx.watchdog = &watchdog;
  InstallMappedStoreGuard();

  PinTarget pin_target{res.map, res.map_length, res.fd, res.target_path, size_t(::sysconf(_SC_PAGESIZE)),
                       cfg.block_size};
  PinnerOptions popts = cfg.pinner_options;
  if (popts.scratch_dir.empty()) popts.scratch_dir = res.dir.path();
  std::unique_ptr<Pinner> pinner;
  uint8_t pinner_index = 0;
  for (size_t i = 0; i < PinnerRegistry().size(); ++i)
    if (&PinnerRegistry()[i] == pinner_info) pinner_index = uint8_t(i);

  // Lanes and watchdog slots for every thread, allocated before any thread starts.
  struct Worker {
    LogLane* lane;
    OpSlot* slot;
  };
  auto worker = [&](const std::string& role) { return Worker{res.log->NewLane(), watchdog.NewSlot(role)}; };
  std::vector<Worker> cpu_w, pw_w, sync_w;
  for (int i = 0; i < cfg.writers.cpu; ++i) cpu_w.push_back(worker("cpu-writer " + std::to_string(i)));
  for (int i = 0; i < cfg.writers.pwrite; ++i) pw_w.push_back(worker("pwrite-writer " + std::to_string(i)));
  for (int i = 0; i < cfg.syncers; ++i) sync_w.push_back(worker("syncer " + std::to_string(i)));
  Worker pin_w = worker("pinner " + cfg.pinner);
  Worker main_w = worker("main");
  watchdog.Start();

  for (size_t p = 0; p < cfg.phases.size() && !g_interrupted.load(); ++p) {
    const std::string& phase = cfg.phases[p];
    const bool pinned = phase == "pinned" && cfg.pinner != "none";
    PhaseReport pr;
    pr.name = phase;
    pr.pins.pinner = pinned ? cfg.pinner : "none";
    pr.pins.reference = pinned ? PinReferenceName(pinner_info->reference) : "none";
    if (pinned && !pinner) {
      auto created = pinner_info->create(pin_target, popts);
      if (!created.ok()) {
        SetVerdict(report, created.status().err() == ENODEV || created.status().err() == ENOTSUP ? "skip" : "error",
                   created.status().err() == ENODEV || created.status().err() == ENOTSUP ? kExitCannotRun : kExitError,
                   "pinner " + cfg.pinner + ": " + created.status().message());
        break;
      }
      pinner = std::move(*created);
    }
    ctx.phase_index = uint32_t(p);
    ctx.phase_stop.store(false);
    pr.pins.before = ReadPinCounters();
    main_w.lane->Append(RecordType::kPhase, uint8_t(p), 0, 1, MonotonicNs(), 0);

    std::vector<WriterTally> cpu_t(cpu_w.size()), pw_t(pw_w.size());
    std::vector<SyncerTally> sync_t(sync_w.size());
    PinDriverTally pin_t;
    std::vector<std::thread> threads;
    int writer_id = 0;
    for (size_t i = 0; i < cpu_w.size(); ++i, ++writer_id)
      threads.emplace_back(RunCpuWriter, std::ref(ctx), writer_id, seeds.Next(), cpu_w[i].lane, cpu_w[i].slot, &cpu_t[i]);
    for (size_t i = 0; i < pw_w.size(); ++i, ++writer_id)
      threads.emplace_back(RunPwriteWriter, std::ref(ctx), writer_id, seeds.Next(), pw_w[i].lane, pw_w[i].slot, &pw_t[i]);
    for (size_t i = 0; i < sync_w.size(); ++i)
      threads.emplace_back(RunSyncer, std::ref(ctx), int(i), sync_w[i].lane, sync_w[i].slot, &sync_t[i]);
    if (pinned) {
      const int dma_id = pinner_writes && pinner->can_write() ? writer_id : -1;
      threads.emplace_back(RunPinDriver, std::ref(ctx), std::ref(*pinner), pinner_index, dma_id, seeds.Next(),
                           pin_w.lane, pin_w.slot, &pin_t);
    }
    const auto t0 = std::chrono::steady_clock::now();
    const auto end = t0 + std::chrono::nanoseconds(uint64_t(cfg.duration_s * 1e9));
    while (std::chrono::steady_clock::now() < end && !g_interrupted.load())
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    ctx.phase_stop.store(true);
    for (auto& t : threads) t.join();
    pr.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    main_w.lane->Append(RecordType::kPhase, uint8_t(p), 0, 0, MonotonicNs(), 0);
    pr.pins.after = ReadPinCounters();

    auto& cpu_count = pr.writes["cpu"];
    auto& pw_count = pr.writes["pwrite"];
    auto& dma_count = pr.writes["dma"];
    for (auto& t : cpu_t) {
      cpu_count += t.completed;
      for (auto& [k, v] : t.errors) pr.write_errors[k] += v;
    }
    for (auto& t : pw_t) {
      pw_count += t.completed;
      for (auto& [k, v] : t.errors) pr.write_errors[k] += v;
    }
    dma_count += pin_t.dma.completed;
    for (auto& [k, v] : pin_t.dma.errors) pr.write_errors[k] += v;
    auto& hist = pr.sync[SyncOpName(cfg.sync_op)];
    for (auto& t : sync_t) {
      hist.Merge(t.latency);
      for (auto& [k, v] : t.errors) pr.sync_errors[k] += v;
    }
    if (pinned) {
      PinCounterSnapshot before = pr.pins.before, after = pr.pins.after;
      pr.pins = pin_t.pins;
      pr.pins.pinner = cfg.pinner;
      pr.pins.reference = PinReferenceName(pinner_info->reference);
      pr.pins.before = before;
      pr.pins.after = after;
    }
    for (auto& w : cpu_w) pr.log_backpressure_waits += w.lane->backpressure_waits();
    for (auto& w : pw_w) pr.log_backpressure_waits += w.lane->backpressure_waits();
    report.phases.push_back(std::move(pr));
  }
  report.interrupted = g_interrupted.load();
  pinner.reset();

  // The promise point: one more sync after every writer stopped and every pin was released.
  const SyncOpKind final_op = SyncOpPromises(cfg.sync_op) ? cfg.sync_op : SyncOpKind::kFsync;
  SyncerTally final_tally;
  int final_err = RunOneSync(ctx, final_op, uint16_t(cfg.syncers), main_w.lane, main_w.slot, &final_tally);
  main_w.lane->Publish();
  watchdog.Stop();
  Status log_status = res.log->Close(true);
  report.expected_log_bytes = res.log->bytes_written();
  report.hangs = watchdog.Reports();

  // Verification: the log read back from its file (what a later `longpin verify` would read), the target
  // read from disk.
  res.Unmap();
  if (!log_status.ok()) {
    SetVerdict(report, "error", kExitError, "expected log incomplete: " + log_status.message());
  } else if (final_err) {
    SetVerdict(report, "error", kExitError,
               std::string("final ") + SyncOpName(final_op) + " failed: " + std::strerror(final_err) + " (" +
                   std::string(ErrnoName(final_err)) + "): nothing to verify against");
  } else {
    auto contents = ReadExpectedLog(res.log ? res.log->path() : res.dir.File("expected.log"));
    if (!contents.ok()) {
      SetVerdict(report, "error", kExitError, contents.status().message());
    } else {
      ExpectedState expected = BuildExpectedState(*contents);
      report.sync_errors_total = expected.sync_errors;
      auto disk = ReadAndClassify(res.target_path, *ctx.pattern, ctx.block_count);
      if (!disk.ok()) {
        SetVerdict(report, "error", kExitError, disk.status().message());
      } else {
        report.verify_method = disk->method;
        report.verify_seconds = disk->seconds;
        report.verify_bytes = disk->bytes_read;
        report.verification = Judge(expected, *disk, VerifyMode::kSync);
      }
    }
  }
  kmsg.Stop();
  report.kernel_events = kmsg.Events();

  // Verdict.
  if (report.verification) {
    const Verification& v = *report.verification;
    if (v.kernel_violations > 0)
      SetVerdict(report, "fail", kExitFail,
                 std::to_string(v.kernel_violations) + " kernel-contract violation(s): data a successful sync "
                 "promised is not on disk");
    else
      SetVerdict(report, "pass", kExitPass, "");
  }
  uint64_t write_errors = 0;
  for (const auto& ph : report.phases)
    for (const auto& [k, n] : ph.write_errors) write_errors += n;
  if (!report.sync_errors_total.empty() || write_errors) {
    std::string what;
    for (const auto& [k, n] : report.sync_errors_total) what += " " + k + " x" + std::to_string(n);
    for (const auto& ph : report.phases)
      for (const auto& [k, n] : ph.write_errors) what += " " + k + " x" + std::to_string(n);
    if (report.verdict == "pass") SetVerdict(report, "error", kExitError, "IO errors during the run:" + what);
    else report.reasons.push_back("IO errors during the run:" + what);
  }
  for (const auto& e : report.kernel_events)
    if (e.alarm()) SetVerdict(report, "fail", kExitFail, std::string("kernel ") + KernelEventClassName(e.cls) + ": " + e.line);
  for (const auto& h : report.hangs)
    SetVerdict(report, "fail", kExitFail, h.role + " stuck in " + h.op + " for " + std::to_string(int(h.seconds)) +
                                              " s (wchan " + h.wchan + ")");
  if (report.interrupted) {
    report.reasons.push_back("interrupted by a signal: phases after the interruption did not run");
    if (report.verdict == "pass") report.exit_code = kExitInterrupted;
  }
  return finish(report);
}

}  // namespace longpin
