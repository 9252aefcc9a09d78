#include "workloads/run.h"
#include "workloads/race_script.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <thread>

#include "crash/dm_log_writes.h"
#include "core/kernel_log.h"
#include "core/measured_pin_kinds.h"
#include "core/run_directory.h"
#include "core/units.h"
#include "verifiers/disk_reader.h"
#include "crash/log_writes_replay.h"
#include "workloads/phase_threads.h"
#include "workloads/pin_driver.h"
#include "workloads/progress_line.h"
#include "workloads/run_state.h"
#include "workloads/scenario.h"
#include "workloads/syncer.h"
#include "workloads/target.h"
#include "workloads/writers.h"

namespace longpin {

std::atomic<bool> g_interrupted{false};

// A phase whose threads stay in the kernel past --hang-threshold (issue 7) ------------------------------------
namespace {

AbandonHook g_abandon_hook;

// An in-process FUSE daemon (the fuse pinner) dies with the process, and a request it never answers keeps its
// caller in an uninterruptible wait: the process could never be reaped. Aborting the connections of the FUSE
// mounts under the run directory makes those requests fail at once.
void AbortOwnFuseConnections(const std::string& run_dir) {
  if (run_dir.empty()) return;
  std::ifstream mountinfo("/proc/self/mountinfo");
  std::string line;
  bool mounted_fusectl = false;
  while (std::getline(mountinfo, line)) {
    std::istringstream is(line);
    std::string id, parent, devno, root, mount_point;
    is >> id >> parent >> devno >> root >> mount_point;
    const auto dash = line.find(" - ");
    if (dash == std::string::npos || line.compare(dash + 3, 4, "fuse") != 0) continue;
    if (mount_point.rfind(run_dir + "/", 0) != 0) continue;
    const std::string abort_file = "/sys/fs/fuse/connections/" + devno.substr(devno.find(':') + 1) + "/abort";
    struct stat st {};
    if (::stat(abort_file.c_str(), &st) != 0 && !mounted_fusectl)
      mounted_fusectl = ::mount("fusectl", "/sys/fs/fuse/connections", "fusectl", 0, nullptr) == 0;
    std::ofstream(abort_file) << "1";
  }
  if (mounted_fusectl) ::umount("/sys/fs/fuse/connections");
}

// The stuck threads may still use the mapping, the log and the filesystem: nothing is cleaned up or verified.
// The report (every stuck thread's kernel stack, kernel events) is written out, then the process ends.
[[noreturn]] void AbandonRun(RunReport& report, HangWatchdog& watchdog, KernelLogMonitor& kmsg,
                             const std::vector<pid_t>& stuck, const std::string& phase, double threshold_s) {
  auto reported = [](const std::vector<HangReport>& hangs, pid_t tid) {
    return std::any_of(hangs.begin(), hangs.end(), [tid](const HangReport& h) { return h.tid == tid; });
  };
  // The watchdog catches a stuck op within one scan (100 ms); a thread stuck outside a watched op never shows
  // there and is described from /proc here.
  std::vector<HangReport> hangs;
  for (int i = 0; i < 20; ++i) {
    hangs = watchdog.Reports();
    if (std::all_of(stuck.begin(), stuck.end(), [&](pid_t t) { return reported(hangs, t); })) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  for (pid_t tid : stuck) {
    if (reported(hangs, tid)) continue;
    HangReport h;
    h.role = "thread " + std::to_string(tid);
    h.op = "end of phase " + phase;
    h.tid = tid;
    h.seconds = threshold_s;
    const std::string task = "/proc/self/task/" + std::to_string(tid);
    std::ifstream wchan(task + "/wchan"), stack(task + "/stack");
    std::getline(wchan, h.wchan);
    std::ostringstream text;
    text << stack.rdbuf();
    h.kernel_stack = text.str();
    if (h.kernel_stack.empty()) h.kernel_stack = "(kernel stack not readable: needs root)";
    hangs.push_back(std::move(h));
  }
  report.hangs = std::move(hangs);
  kmsg.Stop();
  report.kernel_events = kmsg.Events();
  ConcludeVerdict(report);
  char waited[32];
  std::snprintf(waited, sizeof waited, "%g s", threshold_s);
  SetVerdict(report, "fail", kExitFail,
             std::to_string(stuck.size()) + " thread(s) still in the kernel " + waited + " after phase " + phase + " ended: left to the kernel; no verification, no cleanup (`longpin "
                 "cleanup` removes what is left once they return)");
  if (g_abandon_hook) g_abandon_hook(report);
  else std::fputs(RenderSummary(report).c_str(), stdout);
  std::fflush(stdout);
  std::fflush(stderr);
  AbortOwnFuseConnections(report.run_dir);
  ::_exit(report.exit_code);
}

}  // namespace

void SetAbandonHook(AbandonHook hook) { g_abandon_hook = std::move(hook); }
// --------------------------------------------------------------------------------------------------------------

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

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

struct Worker {
  LogLane* lane;
  OpSlot* slot;
};

// The user named this mount point with --allow-shutdown-of (checked by the option parser: a mount point,
// not the root filesystem, holding the target).
Status ShutdownUserFilesystem(const std::string& mount_point) {
  int fd = ::open(mount_point.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Status::FromErrno("open " + mount_point + " for shutdown");
  uint32_t flags = 2;  // FS_SHUTDOWN_FLAGS_NOLOGFLUSH
  Status s = ::ioctl(fd, _IOR('X', 125, uint32_t), &flags) == 0 ? Status{}
                                                               : Status::FromErrno("FS_IOC_SHUTDOWN of " + mount_point);
  ::close(fd);
  return s;
}

// --crash log-writes (issue 6) begin ----------------------------------------------------------------------
// After the run: remove the device (which completes the log), replay the log to every sync mark, verify each
// crash state against the syncs marked before it, and add the states' results to the sync check's.
void CheckLogWritesCrashStates(const RunConfig& cfg, LogWritesStack& stack, const std::string& work_dir,
                               const std::string& expected_log, const StampPattern& pattern, uint64_t block_count,
                               const BeforeVerifyHook& hook, RunReport& report) {
  const std::string marks = std::to_string(stack.marks_placed()) + " mark(s) placed (" +
                            std::to_string(int(stack.mark_seconds_mean() * 1e6)) + " us mean, " +
                            std::to_string(int(stack.mark_seconds_max() * 1e6)) + " us max per mark)";
  if (stack.mark_failures() > 0)
    SetVerdict(report, "error", kExitError,
               "log-writes: " + std::to_string(stack.mark_failures()) + " mark(s) failed: " + stack.first_mark_error());
  if (Status s = stack.Teardown(); !s.ok()) {
    SetVerdict(report, "error", kExitError, "log-writes: " + s.message());
    return;
  }
  auto contents = ReadExpectedLog(expected_log);
  if (!contents.ok()) {
    SetVerdict(report, "error", kExitError, contents.status().message());
    return;
  }
  LogWritesCheckConfig c;
  c.log_image = stack.log_image();
  c.data_bytes = stack.data_bytes();
  c.work_dir = work_dir;
  c.fs = *ParseFsType(cfg.fs);
  c.mount_options = cfg.mount_options;
  c.target_name = "target";
  c.mark_prefix = LogWritesStack::kSyncMarkPrefix;
  c.log = &*contents;
  c.pattern = &pattern;
  c.block_count = block_count;
  if (hook)
    c.plant = [&](ScratchFs& fs, const std::string& target, const ExpectedState& ex) {
      BeforeVerify args{&fs, target, pattern, ex, &report.planted};
      return hook(args);
    };
  auto r = CheckLogWritesStates(c);
  if (!r.ok()) {
    SetVerdict(report, "error", kExitError, "log-writes replay: " + r.status().message());
    return;
  }
  char line[512];
  std::snprintf(line, sizeof line,
                "log-writes: %s; %zu crash state(s) checked in %.2f s (%.2f states/s); %llu kernel-contract "
                "violation(s), %llu strict miss(es); log: %llu entries, %llu writes (%.1f MiB), %llu flushes, "
                "%llu FUA, %llu discards",
                marks.c_str(), r->states.size(), r->seconds, r->states_per_second,
                static_cast<unsigned long long>(r->kernel_violations), static_cast<unsigned long long>(r->strict_misses),
                static_cast<unsigned long long>(r->entries), static_cast<unsigned long long>(r->writes),
                double(r->bytes_replayed) / (1 << 20), static_cast<unsigned long long>(r->flushes),
                static_cast<unsigned long long>(r->fua), static_cast<unsigned long long>(r->discards));
  report.notes.push_back(line);
  if (!r->log_complete)
    SetVerdict(report, "error", kExitError,
               "log-writes: the log does not end with the target's end mark (log device full?): later states unchecked");
  if (r->states.size() != stack.marks_placed())
    SetVerdict(report, "error", kExitError,
               "log-writes: " + std::to_string(stack.marks_placed()) + " mark(s) placed but " +
                   std::to_string(r->states.size()) + " found in the log");
  Verification& v = *report.verification;
  for (const CrashStateCheck& st : r->states) {
    if (!st.error.empty()) {
      SetVerdict(report, "fail", kExitFail, "log-writes: crash state at mark " + st.mark + ": " + st.error);
      continue;
    }
    v.kernel_violations += st.verification.kernel_violations;
    v.strict_misses += st.verification.strict_misses;
    for (const Violation& x : st.verification.violations) {
      if (v.violations.size() < 1000) v.violations.push_back(x);
      else ++v.violations_dropped;
    }
    if (st.verification.kernel_violations > 0) {
      const Violation& f = st.verification.violations.front();
      report.reasons.push_back("log-writes: crash state at mark " + st.mark + " (log entry " + std::to_string(st.entry) +
                               "): " + std::to_string(st.verification.kernel_violations) + " kernel-contract violation(s); first: block " +
                               std::to_string(f.block) + " " + f.kind + ", promised generation " +
                               std::to_string(f.expected_generation) + " by sync " + std::to_string(f.sync_id) + ", found " + f.found);
    }
  }
}
// --crash log-writes (issue 6) end ------------------------------------------------------------------------

}  // namespace

const char* CrashModelName(CrashModel c) {
  switch (c) {
    case CrashModel::kNone: return "none";
    case CrashModel::kShutdown: return "shutdown";
    case CrashModel::kPowerCut: return "power-cut";
    case CrashModel::kLogWrites: return "log-writes";
  }
  return "?";
}

void InstallInterruptHandlers() {
  struct sigaction sa {};
  sa.sa_handler = OnInterrupt;
  sigemptyset(&sa.sa_mask);
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGTERM, &sa, nullptr);
}

void SetVerdict(RunReport& r, const char* verdict, int exit_code, std::string reason) {
  if (r.verdict != "fail" || std::string(verdict) == "fail") {
    r.verdict = verdict;
    r.exit_code = exit_code;
  }
  if (!reason.empty()) r.reasons.push_back(std::move(reason));
}

void ConcludeVerdict(RunReport& report) {
  if (report.verification) {
    const Verification& v = *report.verification;
    if (v.kernel_violations > 0)
      SetVerdict(report, "fail", kExitFail,
                 std::to_string(v.kernel_violations) +
                     " kernel-contract violation(s): data a successful sync promised is not on disk as written");
    else if (report.verdict == "error" && report.reasons.empty())
      SetVerdict(report, "pass", kExitPass, "");
  }
  // IO errors are reported as such, never as data violations. In a crash cycle they are expected after the
  // crash point, so only errors before it count.
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
    if (report.verdict == "pass") SetVerdict(report, "error", kExitError, "IO errors during the run:" + what);
    else report.reasons.push_back("IO errors during the run:" + what);
  } else if (report.crash && !what.empty()) {
    report.notes.push_back("errors after the crash point (expected):" + what);
  }
  for (const auto& e : report.kernel_events)
    if (e.alarm())
      SetVerdict(report, "fail", kExitFail,
                 std::string("kernel ") + KernelEventClassName(e.cls) + ": " + e.line + e.TaskSuffix());
  for (const auto& h : report.hangs)
    SetVerdict(report, "fail", kExitFail,
               h.role + " stuck in " + h.op + " for " + std::to_string(int(h.seconds)) + " s (wchan " + h.wchan + ")");
  if (report.pin_leak_pages > 0)
    SetVerdict(report, "fail", kExitFail,
               "pin leak: nr_foll_pin_acquired - nr_foll_pin_released = " + std::to_string(report.pin_leak_pages) +
                   " pages after the run");
}

RunReport Run(RunConfig cfg, const BeforeVerifyHook& hook) {
  if (!cfg.race.empty()) return RunRace(cfg);
  RunReport report;
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
  SplitMix seeds{report.seed};
  report.run_id = seeds.Next();
  if (cfg.fell_back_to_dir) report.notes.push_back(cfg.fallback_reason);
  const uint64_t run_start_ns = MonotonicNs();
  auto since_start_ms = [&](uint64_t ns) { return ns >= run_start_ns ? double(ns - run_start_ns) / 1e6 : 0.0; };

  const PinnerInfo* pinner_info = FindPinner(cfg.pinner);
  if (!pinner_info) {
    SetVerdict(report, "error", kExitUsage, "unknown pinner " + cfg.pinner + " (see `longpin list`)");
    return report;
  }
  if (auto why = pinner_info->unavailable()) {
    SetVerdict(report, "skip", kExitCannotRun, std::string("pinner ") + cfg.pinner + ": " + *why);
    return report;
  }

  const std::string base = cfg.workdir.empty() ? DefaultWorkBase() : cfg.workdir;
  auto dir = RunDirectory::Create(base, report.run_id);
  if (!dir.ok()) {
    SetVerdict(report, "error", kExitError, dir.status().message());
    return report;
  }
  RunDirectory run_dir = *dir;
  report.run_dir = run_dir.path();
  std::unique_ptr<LogWritesStack> log_writes;  // --crash log-writes: the device under scratch (outlives it)
  std::unique_ptr<ScratchFs> scratch;
  Target target;

  // The run directory (expected log, owner marker) goes away only after a pass: after a fail or an error it
  // holds the evidence, and `longpin cleanup` removes it when the user is done.
  auto finish = [&]() -> RunReport {
    const bool keep_target = cfg.keep || cfg.crash == CrashModel::kPowerCut;
    target.Close(keep_target);
    if (scratch) {
      if (cfg.keep) {
        report.kept_image = scratch->image_path();
        if (Status s = scratch->Unmount(); !s.ok()) report.notes.push_back("cleanup: " + s.message());
        scratch.reset();  // detaches the loop device; the image stays
        report.notes.push_back("--keep: image kept at " + report.kept_image + " (mount -o loop " + report.kept_image +
                               " DIR to inspect); `longpin cleanup` removes it");
      } else {
        if (Status s = scratch->Remove(); !s.ok()) report.notes.push_back("cleanup: " + s.message());
        scratch.reset();
      }
    } else if (keep_target && !report.target_path.empty()) {
      report.notes.push_back("target kept at " + report.target_path);
    }
    if (log_writes) {  // --crash log-writes: the device and the loops go; with --keep the images stay
      Status s = cfg.keep ? log_writes->Teardown() : log_writes->Remove();
      if (!s.ok()) report.notes.push_back("cleanup: " + s.message());
      log_writes.reset();
    }
    // A skip ran nothing worth keeping: what could not run here leaves nothing behind, like a pass.
    if (!cfg.keep && (report.verdict == "pass" || report.verdict == "interrupted" || report.verdict == "skip")) {
      if (Status s = run_dir.Remove(); !s.ok()) report.notes.push_back("cleanup: " + s.message());
      if (cfg.state_dir.empty()) report.expected_log_path.clear();
    } else if (!report.expected_log_path.empty()) {
      report.notes.push_back("expected log kept at " + report.expected_log_path);
    }
    return report;
  };

  // Where the target lives.
  const bool dir_mode = cfg.fs.rfind("dir:", 0) == 0;
  const bool uses_fs = MappingReachesFs(cfg.mapping) || cfg.mapping == MappingKind::kPrivate;
  std::string file_path;
  const uint64_t image_bytes = std::max<uint64_t>(1ull << 30, cfg.size * 2 + (512ull << 20));
  if (!uses_fs) {
    report.fs = "shmem";
  } else if (!cfg.target.empty()) {
    file_path = cfg.target;
    const std::string parent = file_path.substr(0, file_path.rfind('/') == std::string::npos ? 0 : file_path.rfind('/'));
    report.fs = FsNameOf(parent.empty() ? "." : parent);
    report.fs_detail = "--target " + file_path + " (" + report.fs + ")";
  } else if (dir_mode) {
    const std::string path = cfg.fs.substr(4);
    file_path = path + "/longpin-target-" + run_dir.path().substr(run_dir.path().rfind('-') + 1);
    report.fs = FsNameOf(path);
    report.fs_detail = "dir:" + path + " (" + report.fs + ")";
  } else if (cfg.crash == CrashModel::kLogWrites) {
    // --crash log-writes (issue 6): the scratch filesystem made on a dm-log-writes device over two loop devices.
    const std::string tag = run_dir.path().substr(run_dir.path().rfind("/run-") + 5);
    auto stack = LogWritesStack::Create(run_dir.path(), tag, image_bytes, std::max<uint64_t>(16ull << 30, 8 * image_bytes));
    if (!stack.ok()) {
      const bool cannot = stack.status().err() == ENOTSUP;
      SetVerdict(report, cannot ? "skip" : "error", cannot ? kExitCannotRun : kExitError,
                 cannot ? stack.status().what() : stack.status().message());
      if (Status s = run_dir.Remove(); !s.ok()) report.notes.push_back("cleanup: " + s.message());
      return report;
    }
    log_writes = std::move(*stack);
    auto fs = ScratchFs::CreateOnDevice(log_writes->device(), run_dir.path() + "/mnt", *ParseFsType(cfg.fs), true,
                                        cfg.mount_options);
    if (!fs.ok()) {
      const bool cannot = fs.status().err() == ENOTSUP;
      SetVerdict(report, cannot ? "skip" : "error", cannot ? kExitCannotRun : kExitError, fs.status().message());
      return finish();
    }
    scratch = std::move(*fs);
    file_path = scratch->mount_point() + "/target";
    report.fs = cfg.fs;
    report.fs_detail = cfg.fs + " on dm-log-writes " + log_writes->dm_name() + " (data " + log_writes->data_image() +
                       ", log " + log_writes->log_image() + ", sparse)";
  } else {
    auto fs = ScratchFs::Create(run_dir.path(), *ParseFsType(cfg.fs), image_bytes, cfg.mount_options);
    if (!fs.ok()) {
      const bool cannot = fs.status().err() == ENOTSUP;
      SetVerdict(report, cannot ? "skip" : "error", cannot ? kExitCannotRun : kExitError, fs.status().message());
      if (Status s = run_dir.Remove(); !s.ok()) report.notes.push_back("cleanup: " + s.message());
      return report;
    }
    scratch = std::move(*fs);
    file_path = scratch->mount_point() + "/target";
    report.fs = cfg.fs;
    report.fs_detail = cfg.fs + " on " + scratch->loop_device() + " (scratch image " + scratch->image_path() + ", " +
                       FormatSize(image_bytes) + " sparse)";
    if (cfg.crash == CrashModel::kShutdown) {
      // Probe support without shutting down: an unknown flag is EINVAL where FS_IOC_SHUTDOWN exists.
      int dfd = ::open(scratch->mount_point().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      uint32_t bad_flags = 0x7f;
      const bool supported = ::ioctl(dfd, _IOR('X', 125, uint32_t), &bad_flags) != 0 && errno == EINVAL;
      ::close(dfd);
      if (!supported) {
        SetVerdict(report, "skip", kExitCannotRun,
                   std::string("--crash shutdown: ") + cfg.fs + " on this kernel has no FS_IOC_SHUTDOWN");
        return finish();
      }
    }
  }
  {
    auto t = Target::Create(cfg.mapping, file_path, run_dir.path(), cfg.size, true);
    if (!t.ok()) {
      const int e = t.status().err();
      const bool cannot = e == ENOMEM || e == EPERM || e == ENOTSUP;
      SetVerdict(report, cannot ? "skip" : "error", cannot ? kExitCannotRun : kExitError, t.status().message());
      return finish();
    }
    target = std::move(*t);
  }
  report.target_path = target.path();
  if (log_writes) {  // the target's directory entry is durable before the first mark promises its data
    int dfd = ::open(scratch->mount_point().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) ::fsync(dfd), ::close(dfd);
  }
  report.mapping_detail = target.detail();
  if (!uses_fs) report.fs_detail = target.detail();
  if (!target.note().empty()) report.notes.push_back(target.note());

  WorkloadContext ctx;
  ctx.config = &cfg;
  ctx.run_id = report.run_id;
  ctx.pattern = std::make_unique<StampPattern>(report.run_id, cfg.block_size);
  ctx.map = target.map();
  ctx.map_length = target.length();
  ctx.fd = target.fd();
  ctx.block_count = cfg.size / cfg.block_size;
  ctx.generations.assign(ctx.block_count, 0);
  const bool pinner_writes = cfg.writers.dma > 0;
  ctx.writer_total = std::max(1, cfg.writers.cpu + cfg.writers.pwrite + (pinner_writes ? 1 : 0));
  if (log_writes) ctx.on_sync_success = [&log_writes](uint64_t sync_id) { log_writes->MarkSync(sync_id); };

  // Power cut: the log and the state go to the state directory, durably (group commit).
  const bool power_cut = cfg.crash == CrashModel::kPowerCut || !cfg.allow_shutdown_of.empty();
  const std::string log_path = (power_cut ? cfg.state_dir : run_dir.path()) + "/expected.log";
  if (power_cut) ::mkdir(cfg.state_dir.c_str(), 0755);  // checked by the option parser: the parent exists
  auto log = ExpectedLog::Create(log_path, report.run_id, cfg.block_size, ctx.block_count, power_cut);
  if (!log.ok()) {
    SetVerdict(report, "error", kExitError, log.status().message());
    return finish();
  }
  std::unique_ptr<ExpectedLog> elog = std::move(*log);
  ctx.log = elog.get();
  report.expected_log_path = elog->path();
  if (power_cut) {
    RunState st{1, report.run_id, report.seed, target.path(), cfg.block_size, ctx.block_count, report.fs,
                report.mapping, elog->path(), CrashModelName(cfg.crash), cfg.pinner, SyncOpName(cfg.sync_op)};
    if (Status s = WriteRunState(cfg.state_dir, st); !s.ok()) {
      SetVerdict(report, "error", kExitError, s.message());
      return finish();
    }
    report.notes.push_back("state and durable expected log in " + cfg.state_dir +
                           ": after a cut, `longpin verify --state-dir " + cfg.state_dir + "`");
  }

  // Lines of other runs' devices (their shutdowns, their errors) are not this run's findings.
  KernelLogMonitor kmsg(DeviceOwnership{{run_dir.path()}, {BlockDeviceOf(target.path())}});
  report.kernel_log_unavailable = kmsg.unavailable_reason();
  ProgressLine progress(cfg.progress.enabled);
  auto progress_sample = [&](const std::string& phase, size_t number) {
    ProgressSample s;
    s.elapsed_s = since_start_ms(MonotonicNs()) / 1e3;
    s.phase = phase;
    s.phase_number = number;
    s.phase_count = cfg.phases.size();
    s.sync_op = SyncOpName(cfg.sync_op);
    const auto events = kmsg.Events();
    s.kernel_events = uint64_t(std::count_if(events.begin(), events.end(), [](const KernelEvent& e) { return e.alarm(); }));
    s.violations = cfg.progress.violations_before;
    s.cycle = cfg.progress.cycle;
    s.cycles = cfg.progress.cycles;
    s.label = cfg.progress.label;
    return s;
  };
  HangWatchdog watchdog(cfg.hang_threshold_s);
  ctx.watchdog = &watchdog;
  InstallMappedStoreGuard();

  PinTarget pin_target{target.map(), target.length(), target.fd(), target.path(), size_t(::sysconf(_SC_PAGESIZE)),
                       cfg.block_size};
  PinnerOptions popts = cfg.pinner_options;
  if (popts.scratch_dir.empty()) popts.scratch_dir = run_dir.path();
  std::unique_ptr<Pinner> pinner;
  uint8_t pinner_index = 0;
  for (size_t i = 0; i < PinnerRegistry().size(); ++i)
    if (&PinnerRegistry()[i] == pinner_info) pinner_index = uint8_t(i);

  // Lanes and watchdog slots for every thread, allocated before any thread starts.
  auto worker = [&](const std::string& role) { return Worker{elog->NewLane(), watchdog.NewSlot(role)}; };
  std::vector<Worker> cpu_w, pw_w, sync_w;
  for (int i = 0; i < cfg.writers.cpu; ++i) cpu_w.push_back(worker("cpu-writer " + std::to_string(i)));
  for (int i = 0; i < cfg.writers.pwrite; ++i) pw_w.push_back(worker("pwrite-writer " + std::to_string(i)));
  for (int i = 0; i < cfg.syncers; ++i) sync_w.push_back(worker("syncer " + std::to_string(i)));
  Worker pin_w = worker("pinner " + cfg.pinner);
  Worker scen_w = worker("scenario " + cfg.scenario);
  const ScenarioInfo* scenario = cfg.scenario.empty() ? nullptr : FindScenario(cfg.scenario);
  if (!cfg.scenario.empty() && !scenario) {
    SetVerdict(report, "error", kExitUsage, "unknown workload scenario " + cfg.scenario);
    return finish();
  }
  Worker main_w = worker("main");
  watchdog.Start();
  WritebackTrace writeback = WritebackTrace::Open(report.fs, scratch != nullptr);
  if (!writeback.note().empty()) report.notes.push_back(writeback.note());

  // The crash point: in the pinned phase (else the last), seeded unless --crash-at.
  const bool shutdown_crash = cfg.crash == CrashModel::kShutdown;
  size_t crash_phase = cfg.phases.size() - 1;
  for (size_t p = 0; p < cfg.phases.size(); ++p)
    if (cfg.phases[p] == "pinned") crash_phase = p;
  const double crash_fraction = 0.2 + 0.6 * double(seeds.Next() % 1000000) / 1e6;
  const double crash_at = cfg.crash_at_s >= 0 ? std::min(cfg.crash_at_s, cfg.duration_s) : crash_fraction * cfg.duration_s;
  bool crashed = false;
  PinCounterSnapshot run_pins_before = ReadPinCounters();
  std::chrono::steady_clock::time_point crash_t0;

  for (size_t p = 0; p < cfg.phases.size() && !g_interrupted.load() && !crashed; ++p) {
    const std::string& phase = cfg.phases[p];
    const bool pinned = phase == "pinned" && cfg.pinner != "none";
    PhaseReport pr;
    pr.name = phase;
    pr.pins.pinner = pinned ? cfg.pinner : "none";
    pr.pins.reference = pinned ? PinReferenceName(pinner_info->reference) : "none";
    if (pinned && !pinner) {
      auto created = pinner_info->create(pin_target, popts);
      if (!created.ok()) {
        const int e = created.status().err();
        const bool cannot = e == ENODEV || e == ENOTSUP || e == EOPNOTSUPP || e == EPERM;
        SetVerdict(report, cannot ? "skip" : "error", cannot ? kExitCannotRun : kExitError,
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
    pin_t.run_start_ns = run_start_ns;
    if (cfg.sync_each_write) {
      for (auto& t : cpu_t) t.own_syncs = std::make_unique<SyncerTally>();
      for (auto& t : pw_t) t.own_syncs = std::make_unique<SyncerTally>();
    }
    PhaseThreads threads;
    int writer_id = 0;
    for (size_t i = 0; i < cpu_w.size(); ++i, ++writer_id)
      threads.emplace_back(RunCpuWriter, std::ref(ctx), writer_id, seeds.Next(), cpu_w[i].lane, cpu_w[i].slot,
                           &cpu_t[i]);
    for (size_t i = 0; i < pw_w.size(); ++i, ++writer_id)
      threads.emplace_back(RunPwriteWriter, std::ref(ctx), writer_id, seeds.Next(), pw_w[i].lane, pw_w[i].slot,
                           &pw_t[i]);
    for (auto& t : sync_t) {
      t.writeback = &writeback;
      t.pinned_pages = &pin_t.held_pages;
    }
    for (size_t i = 0; i < (cfg.sync_each_write ? 0 : sync_w.size()); ++i)
      threads.emplace_back(RunSyncer, std::ref(ctx), int(i), sync_w[i].lane, sync_w[i].slot, &sync_t[i]);
    if (pinned) {
      const int dma_id = pinner_writes && pinner->can_write() ? writer_id : -1;
      if (pinner_writes && dma_id < 0)
        report.notes.push_back("pinner " + cfg.pinner + " does not write: dma writers left out");
      threads.emplace_back(RunPinDriver, std::ref(ctx), std::ref(*pinner), pinner_index, dma_id, seeds.Next(),
                           pin_w.lane, pin_w.slot, &pin_t);
    }
    std::unique_ptr<ScenarioEnv> scen;
    if (scenario) {
      scen.reset(new ScenarioEnv{ctx, pinned ? pinner.get() : nullptr, scen_w.lane, scen_w.slot, seeds.Next(), pinned,
                                 {}, {}, {}});
      threads.emplace_back([&scen, scenario] {
        BindThreadToSlot(scen->slot);
        scenario->run(*scen);
        scen->lane->Publish();
      });
    }
    const auto t0 = std::chrono::steady_clock::now();
    const bool crash_here = shutdown_crash && p == crash_phase;
    const double run_for = crash_here ? crash_at : cfg.duration_s;
    const auto end = t0 + std::chrono::nanoseconds(uint64_t(run_for * 1e9));
    auto next_sample = t0, next_progress = t0;
    while (std::chrono::steady_clock::now() < end && !g_interrupted.load()) {
      if (std::chrono::steady_clock::now() >= next_sample) {
        DirtySnapshot d = ReadDirtyCounters();
        report.timeline.vmstat.push_back({since_start_ms(MonotonicNs()), double(d.dirty), double(d.writeback)});
        next_sample += std::chrono::milliseconds(100);
      }
      if (progress.enabled() && std::chrono::steady_clock::now() >= next_progress) {
        ProgressSample s = progress_sample(phase, p + 1);
        for (const auto& t : cpu_t) s.writes += t.completed;
        for (const auto& t : pw_t) s.writes += t.completed;
        s.writes += pin_t.dma.completed;
        LatencyHistogram live;
        for (const auto& t : sync_t) t.live.SnapshotInto(live);
        for (const auto* ts : {&cpu_t, &pw_t})
          for (const auto& t : *ts)
            if (t.own_syncs) t.own_syncs->live.SnapshotInto(live);
        s.syncs = live.count();
        s.sync_p99_ns = live.Quantile(0.99);
        s.pinned_pages = pin_t.held_pages;
        progress.Update(s);
        next_progress = std::chrono::steady_clock::now() + std::chrono::milliseconds(250);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (crash_here && !g_interrupted.load()) {
      // The crash: record the point, then shut the filesystem down without flushing its log. Everything in
      // flight now fails and is logged as failed by its thread.
      CrashReport cr;
      cr.model = "shutdown";
      cr.phase = phase;
      cr.at_s = Seconds(t0);
      cr.seq = main_w.lane->Append(RecordType::kCrash, 0, 0, 0, MonotonicNs(), 0);
      report.timeline.crash_ms = since_start_ms(MonotonicNs());
      crash_t0 = std::chrono::steady_clock::now();
      Status s = scratch ? scratch->Shutdown() : ShutdownUserFilesystem(cfg.allow_shutdown_of);
      cr.shutdown_result = s.ok() ? "ok" : s.message();
      cr.shutdown_s = Seconds(crash_t0);
      report.crash = cr;
      crashed = true;
      if (!s.ok()) SetVerdict(report, "error", kExitError, "crash: " + s.message());
    }
    const auto stop_t0 = std::chrono::steady_clock::now();
    ctx.phase_stop.store(true);
    if (!threads.JoinUntil(stop_t0 + std::chrono::nanoseconds(uint64_t(cfg.hang_threshold_s * 1e9)))) {
      progress.Clear();
      AbandonRun(report, watchdog, kmsg, threads.StuckTids(), phase, cfg.hang_threshold_s);
    }
    if (crashed) report.crash->stop_s = Seconds(stop_t0);
    pr.seconds = Seconds(t0);
    main_w.lane->Append(RecordType::kPhase, uint8_t(p), 0, 0, MonotonicNs(), 0);
    pr.pins.after = ReadPinCounters();

    for (auto& t : cpu_t) {
      pr.writes["cpu"] += t.completed;
      for (auto& [k, v] : t.errors) pr.write_errors[k] += v;
    }
    for (auto& t : pw_t) {
      pr.writes["pwrite"] += t.completed;
      for (auto& [k, v] : t.errors) pr.write_errors[k] += v;
    }
    pr.writes["dma"] += pin_t.dma.completed;
    for (auto& [k, v] : pin_t.dma.errors) pr.write_errors[k] += v;
    for (auto& [k, v] : pin_t.dma.expected_errors) pr.expected_write_errors[k] += v;
    auto& hist = pr.sync[SyncOpName(cfg.sync_op)];
    for (auto& t : sync_t) {
      hist.Merge(t.latency);
      for (auto& [k, v] : t.errors) pr.sync_errors[k] += v;
    }
    pr.writeback.syncs =
        CollectSyncRecords(writeback, sync_t, &pr.writeback.dropped, &pr.writeback.events_lost);
    if (!pr.writeback.syncs.empty()) pr.writeback.source = writeback.source_name();
    for (const auto* ts : {&cpu_t, &pw_t})
      for (const auto& t : *ts)
        if (t.own_syncs) {
          hist.Merge(t.own_syncs->latency);
          for (auto& [k, v] : t.own_syncs->errors) pr.sync_errors[k] += v;
        }
    if (pinned) {
      PinCounterSnapshot before = pr.pins.before, after = pr.pins.after;
      pr.pins = pin_t.pins;
      pr.pins.pinner = cfg.pinner;
      pr.pins.reference = PinReferenceName(pinner_info->reference);
      pr.pins.before = before;
      pr.pins.after = after;
      report.timeline.pins.insert(report.timeline.pins.end(), pin_t.spans.begin(), pin_t.spans.end());
    }
    if (scen) {
      pr.scenario = scen->counters;
      for (auto& n : scen->notes) report.notes.push_back(cfg.scenario + ": " + n);
      for (auto& f : scen->failures) SetVerdict(report, "fail", kExitFail, cfg.scenario + ": " + f);
    }
    for (auto& w : cpu_w) pr.log_backpressure_waits += w.lane->backpressure_waits();
    for (auto& w : pw_w) pr.log_backpressure_waits += w.lane->backpressure_waits();
    report.phases.push_back(std::move(pr));
  }
  report.interrupted = g_interrupted.load();
  pinner.reset();

  // Pin balance over the whole run: the kernel's counters are system-wide and per-cpu batched, so a gap is
  // re-read for a second before it counts, and only a pinner that takes FOLL_PIN pins can leak them: with any
  // other, a gap is another process's IO (a negative gap always is).
  // Which pinner takes FOLL_PIN is measured per phase (MeasuredReference), not taken from its label: FUSE
  // direct IO, for one, took FOLL_GET references before 6.9.
  bool takes_foll_pin = false;
  bool compared = false;
  for (const auto& ph : report.phases) {
    if (ph.pins.pinner == "none") continue;
    const std::string measured = MeasuredReference(ph.pins);
    if (measured == "FOLL_PIN") takes_foll_pin = true;
    if (compared || (measured != "FOLL_PIN" && measured != "FOLL_GET/none")) continue;
    compared = true;
    const std::string expected = ExpectedPinReference(cfg.pinner, report.kernel);
    if (expected.rfind(measured == "FOLL_GET/none" ? "FOLL_GET" : measured, 0) != 0)
      report.notes.push_back("pin kind: measured " + measured + " (nr_foll_pin_* of phase " + ph.name +
                             ", system-wide), but ../shared/KERNEL_NOTES.md expects " + expected + " on " +
                             report.kernel);
  }
  if (takes_foll_pin) {
    PinCounterSnapshot after = ReadPinCounters();
    if (run_pins_before.available && run_pins_before.refreshed && after.refreshed) {
      report.pin_balance_checked = true;
      // Other processes' pins in flight (O_DIRECT of a qemu, another test) show as a gap too: while the
      // counters keep moving, a gap is only a leak if it outlasts a moment of balance, looked for over 3 s.
      // A gap that never settles on a busy machine is reported as unclear, never as the kernel's leak.
      bool others_pinning = false;
      for (int i = 0; i < 30; ++i) {
        report.pin_leak_pages = int64_t(after.acquired - run_pins_before.acquired) -
                                int64_t(after.released - run_pins_before.released);
        if (report.pin_leak_pages <= 0) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        PinCounterSnapshot next = ReadPinCounters();
        if (next.acquired != after.acquired) others_pinning = true;
        after = next;
        if (i >= 9 && !others_pinning) break;  // a quiet second: the gap is ours
      }
      if (report.pin_leak_pages > 0 && others_pinning) {
        report.notes.push_back("pin balance unclear: " + std::to_string(report.pin_leak_pages) +
                               " pages of the system-wide nr_foll_pin counters outstanding while other processes "
                               "kept pinning pages; not judged as a leak");
        report.pin_leak_pages = 0;
        report.pin_balance_checked = false;
      }
    }
  }

  // The promise point of a sync check: one more sync after every writer stopped and every pin was released.
  int final_err = 0;
  SyncOpKind final_op = SyncOpPromises(cfg.sync_op) ? cfg.sync_op : SyncOpKind::kFsync;
  if (!crashed) final_err = RunOneSync(ctx, final_op, uint16_t(cfg.syncers), main_w.lane, main_w.slot, nullptr);
  main_w.lane->Publish();
  watchdog.Stop();
  Status log_status = elog->Close(true);
  report.expected_log_bytes = elog->bytes_written();
  report.hangs = watchdog.Reports();

  // Private mappings never reach the file: their check is coherence, read from the mapping itself.
  std::optional<DiskImage> memory_image;
  if (cfg.mapping == MappingKind::kPrivate && target.map()) {
    DiskImage img;
    img.method = "mapping (private: coherence in memory)";
    img.verdicts.resize(ctx.block_count);
    const auto v0 = std::chrono::steady_clock::now();
    for (uint64_t b = 0; b < ctx.block_count; ++b)
      img.verdicts[b] = ClassifyBlock(*ctx.pattern, b, target.map() + b * cfg.block_size);
    img.seconds = Seconds(v0);
    img.bytes_read = cfg.size;
    memory_image = std::move(img);
  }
  target.Unmap();

  if (crashed && scratch) {
    // Crash cycle: close the target, unmount the shut-down filesystem, mount it again (log recovery).
    target.Close(true);
    auto u0 = std::chrono::steady_clock::now();
    Status s = scratch->Unmount();
    report.crash->unmount_s = Seconds(u0);
    if (s.ok()) {
      auto m0 = std::chrono::steady_clock::now();
      s = scratch->Mount();
      report.crash->mount_s = Seconds(m0);
    }
    if (!s.ok()) SetVerdict(report, "error", kExitError, "crash cycle: " + s.message());
  }

  if (crashed && !scratch) {
    // A user filesystem: only the user may unmount and mount it again. The second half is `longpin verify`.
    report.verdict = "pending";
    report.exit_code = kExitPass;
    report.reasons.push_back("the filesystem at " + cfg.allow_shutdown_of +
                             " is shut down: unmount and mount it, then run `longpin verify --state-dir " +
                             cfg.state_dir + "`");
  } else if (!log_status.ok()) {
    SetVerdict(report, "error", kExitError, "expected log incomplete: " + log_status.message());
  } else if (final_err) {
    SetVerdict(report, "error", kExitError,
               std::string("final ") + SyncOpName(final_op) + " failed: " + std::strerror(final_err) + " (" +
                   std::string(ErrnoName(final_err)) + "): nothing to verify against");
  } else if (report.verdict == "error" && !report.reasons.empty()) {
    // setup or crash-cycle failure: nothing to verify
  } else if (report.verdict == "skip") {
  } else {
    auto contents = ReadExpectedLog(elog->path());
    if (!contents.ok()) {
      SetVerdict(report, "error", kExitError, contents.status().message());
    } else {
      ExpectedState expected = BuildExpectedState(*contents);
      report.sync_errors_total = expected.sync_errors;
      for (const auto& s : expected.syncs)
        if (s.err >= 0) report.timeline.syncs.push_back({since_start_ms(s.start_ns), double(s.duration_ns), double(s.phase)});
      Status hook_status;
      if (hook && crashed) {
        BeforeVerify args{scratch.get(), target.path(), *ctx.pattern, expected, &report.planted};
        hook_status = hook(args);
        if (!hook_status.ok()) SetVerdict(report, "error", kExitError, "before verify: " + hook_status.message());
      }
      progress.Update(progress_sample("verify", 0), true);
      auto v0 = std::chrono::steady_clock::now();
      Result<DiskImage> disk = memory_image ? Result<DiskImage>(std::move(*memory_image))
                                            : ReadAndClassify(target.path(), *ctx.pattern, ctx.block_count, 0, &expected);
      if (!disk.ok()) {
        SetVerdict(report, "error", kExitError, disk.status().message());
      } else if (hook_status.ok()) {
        report.verify_method = disk->method;
        report.verify_seconds = disk->seconds;
        report.verify_bytes = disk->bytes_read;
        report.verification = Judge(expected, *disk, crashed ? VerifyMode::kCrash : VerifyMode::kSync);
        if (crashed) report.crash->verify_s = Seconds(v0);
        if (report.verdict == "error" && report.reasons.empty()) SetVerdict(report, "pass", kExitPass, "");
      }
    }
  }
  if (log_writes && report.verification) {  // --crash log-writes (issue 6): every mark's crash state
    target.Close(true);
    if (scratch) {
      if (Status s = scratch->Remove(); !s.ok()) report.notes.push_back("cleanup: " + s.message());
      scratch.reset();
    }
    CheckLogWritesCrashStates(cfg, *log_writes, run_dir.path(), elog->path(), *ctx.pattern, ctx.block_count, hook, report);
  }
  progress.Clear();
  kmsg.Stop();
  report.kernel_events = kmsg.Events();
  {
    std::vector<LatencyHistogram> base_sync, pinned_sync;  // one per phase: the interval sees the rounds
    const std::string op = SyncOpName(cfg.sync_op);
    for (const auto& ph : report.phases)
      if (auto it = ph.sync.find(op); it != ph.sync.end())
        (ph.name == "pinned" ? pinned_sync : base_sync).push_back(it->second);
    report.comparison = CompareLatency(op, base_sync, pinned_sync, report.seed);
    report.rounds = cfg.rounds;
  }
  {  // `longpin list` shows the pin kind this kernel gave the pinner, kept when every pinned phase agrees
    std::string kind;
    for (const auto& ph : report.phases)
      if (ph.pins.pinner != "none")
        kind = kind.empty() || kind == MeasuredReference(ph.pins) ? MeasuredReference(ph.pins) : "unclear";
    RecordMeasuredPinKind(cfg.pinner, kind, report.kernel);
  }
  ConcludeVerdict(report);
  if (report.interrupted) {
    // What ran was checked, but what did not run cannot pass: the verdict says so in every format. A failure
    // found before the signal stays a failure.
    if (report.verdict == "pass") {
      report.verdict = "interrupted";
      report.exit_code = kExitInterrupted;
    }
    report.reasons.push_back("interrupted by a signal: phases after the interruption did not run");
  }
  return finish();
}

}  // namespace longpin
