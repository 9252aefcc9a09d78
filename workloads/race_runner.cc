// A race run's stages: check the request, prepare (run directory, memory cgroup, scratch filesystem, target,
// pinner, buffers, kernel log monitor), the attempts, the verdict, the teardown. One attempt's steps are
// race_steps.cc.
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <map>
#include <thread>

#include "core/kernel_release.h"
#include "core/measured_pin_kinds.h"
#include "core/split_mix.h"
#include "core/units.h"
#include "crash/crash_model.h"
#include "workloads/race_run.h"
#include "workloads/run.h"

namespace longpin {
namespace race {

bool RaceRun::OpenTarget(bool create) {
  if (create) {
    auto t = Target::Create(cfg_.mapping, file_path_, run_dir_->path(), cfg_.size, true);
    if (!t.ok()) {
      const int e = t.status().err();
      const bool cannot = e == ENOMEM || e == EPERM || e == ENOTSUP;
      RaiseVerdict(report_, cannot ? Verdict::kSkip : Verdict::kError, t.status().message());
      return false;
    }
    target_ = std::move(*t);
    fd_ = target_.fd();
    map_ = target_.map();
    report_.target_path = target_.path();
    report_.mapping_detail = target_.detail();
    return true;
  }
  fd_ = ::open(file_path_.c_str(), O_RDWR | O_CLOEXEC);
  if (fd_ < 0) {
    RaiseVerdict(report_, Verdict::kError,
                 "reopen " + file_path_ + " after the crash: " + std::string(ErrnoName(errno)));
    return false;
  }
  void* m = ::mmap(nullptr, cfg_.size, PROT_READ | PROT_WRITE, MAP_SHARED, fd_, 0);
  if (m == MAP_FAILED) {
    RaiseVerdict(report_, Verdict::kError,
                 "map " + file_path_ + " after the crash: " + std::string(ErrnoName(errno)));
    ::close(fd_);
    fd_ = -1;
    return false;
  }
  map_ = static_cast<std::byte*>(m);
  own_mapping_ = true;
  return true;
}

// The target's mapping and descriptor: target_'s until the first crash, ours (reopened) after it.
void RaceRun::CloseTarget() {
  if (own_mapping_) {
    ::munmap(map_, cfg_.size);
    ::close(fd_);
  } else {
    target_.Close(true);
  }
  map_ = nullptr;
  fd_ = -1;
  own_mapping_ = false;
}

Status RaceRun::CreatePinner() {
  const std::string path = file_path_.empty() ? target_.path() : file_path_;
  PinTarget pt{map_, size_t(cfg_.size), fd_, path, size_t(page_), cfg_.block_size};
  PinnerOptions popts = cfg_.pinner_options;
  if (popts.scratch_dir.empty()) popts.scratch_dir = run_dir_->path();
  auto p = info_.create(pt, popts);
  if (!p.ok()) return p.status();
  pinner_ = std::move(*p);
  return {};
}

bool RaceRun::PrepareRunDirectory() {
  page_ = uint64_t(::sysconf(_SC_PAGESIZE));
  race_.script = script_.text;
  race_.window_bytes = cfg_.pin_window;
  const std::string base = cfg_.workdir.empty() ? DefaultWorkBase() : cfg_.workdir;
  auto dir = RunDirectory::Create(base, report_.run_id);
  if (!dir.ok()) {
    RaiseVerdict(report_, Verdict::kError, dir.status().message());
    return false;
  }
  run_dir_ = *dir;
  report_.run_dir = run_dir_->path();
  // Memory cgroup first: pages are charged to the cgroup of the task that brings them in.
  if (script_.needs_cgroup()) {
    cgroup_ = std::make_unique<RaceCgroup>();
    if (auto why = cgroup_->Create()) {
      RaiseVerdict(report_, Verdict::kSkip, "step reclaim:cgroup: " + *why);
      return false;
    }
  }
  return true;
}

// Where the target lives: shmem, --target, a directory (--fs dir:PATH) or a scratch filesystem of its own.
bool RaceRun::PlaceTarget() {
  const bool dir_mode = cfg_.fs.rfind("dir:", 0) == 0;
  if (!MappingReachesFs(cfg_.mapping)) {
    report_.fs = "shmem";
  } else if (!cfg_.target.empty()) {
    file_path_ = cfg_.target;  // checked by the option parser: does not exist, its directory does
    report_.fs = cfg_.fs;
    report_.fs_detail = "--target " + cfg_.target;
  } else if (dir_mode) {
    file_path_ =
        cfg_.fs.substr(4) + "/longpin-race-" + run_dir_->path().substr(run_dir_->path().rfind('-') + 1);
    report_.fs = cfg_.fs;
    report_.fs_detail = cfg_.fs;
  } else {
    const uint64_t image_bytes =
        std::max<uint64_t>(512ull << 20, cfg_.size * 4);  // sparse; xfs needs 300 MiB
    auto fs = ScratchFs::Create(run_dir_->path(), *ParseFsType(cfg_.fs), image_bytes, cfg_.mount_options);
    if (!fs.ok()) {
      const bool cannot = fs.status().err() == ENOTSUP;
      RaiseVerdict(report_, cannot ? Verdict::kSkip : Verdict::kError, fs.status().message());
      return false;
    }
    scratch_ = std::move(*fs);
    file_path_ = scratch_->mount_point() + "/target";
    report_.fs = cfg_.fs;
    report_.fs_detail =
        cfg_.fs + " on " + scratch_->loop_device() + " (scratch image " + scratch_->image_path() + ")";
  }
  if (script_.needs_crash() && !scratch_) {
    RaiseVerdict(report_, Verdict::kSkip,
                 "step crash: needs a scratch filesystem longpin created (--fs ext4|xfs), not " + report_.fs);
    return false;
  }
  return true;
}

bool RaceRun::CheckCrashSupport() {
  if (!script_.needs_crash() || SupportsFsShutdown(scratch_->mount_point())) return true;
  RaiseVerdict(report_, Verdict::kSkip,
               "step crash: " + cfg_.fs + " on this kernel has no FS_IOC_SHUTDOWN (use ext4 or xfs)");
  return false;
}

bool RaceRun::PrepareBuffersAndMonitor() {
  pattern_ = std::make_unique<StampPattern>(report_.run_id, cfg_.block_size);
  dma_src_ = static_cast<std::byte*>(std::aligned_alloc(page_, cfg_.pin_window));
  read_buf_ = static_cast<std::byte*>(std::aligned_alloc(page_, cfg_.pin_window));
  if (!dma_src_ || !read_buf_) {
    RaiseVerdict(report_, Verdict::kError, "out of memory for the window buffers");
    return false;
  }
  window_generation_.assign(cfg_.size / cfg_.pin_window, 0);
  kmsg_ = std::make_unique<KernelLogMonitor>(
      DeviceOwnership{{run_dir_->path()}, {BlockDeviceOf(file_path_.empty() ? target_.path() : file_path_)}});
  report_.kernel_log_unavailable = kmsg_->unavailable_reason();
  for (const auto& s : script_.steps)
    if (s.kind == RaceStepKind::kReclaim) {
      race_.reclaim_detail = ReclaimDetail(s.reclaim, cgroup_.get());
      break;
    }
  race_.expected_reference = ExpectedPinReference(cfg_.pinner, report_.kernel);
  return true;
}

bool RaceRun::Prepare() {
  if (!PrepareRunDirectory() || !PlaceTarget() || !OpenTarget(true) || !CheckCrashSupport()) return false;
  if (Status s = CreatePinner(); !s.ok()) {
    const bool cannot = s.err() == ENODEV || s.err() == ENOTSUP || s.err() == EPERM;
    RaiseVerdict(report_, cannot ? Verdict::kSkip : Verdict::kError,
                 "pinner " + cfg_.pinner + ": " + s.message());
    return false;
  }
  return PrepareBuffersAndMonitor();
}

void RaceRun::Attempts() {
  start_ = std::chrono::steady_clock::now();
  const uint64_t max_attempts = cfg_.race_attempts ? cfg_.race_attempts : UINT64_MAX;
  for (uint64_t a = 0; a < max_attempts; ++a) {
    if (g_interrupted.load()) {
      report_.interrupted = true;
      break;
    }
    if (a > 0 && SecondsSince(start_) >= cfg_.duration_s) break;
    const bool go_on = RunAttempt(a);
    race_.attempts = a + 1;
    if (!go_on) break;
  }
  race_.seconds = SecondsSince(start_);
}

void RaceRun::Conclude() {
  if (kmsg_) {
    // Give the monitor a moment to read what the last attempt made the kernel print.
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    kmsg_->Stop();
    report_.kernel_events = kmsg_->Events();
  }
  for (const auto& e : report_.kernel_events)
    if (e.alarm()) race_.kernel_alarms++;
  // `longpin list pinners` shows what a race measured too (its holds are measured like a run's pinned phase).
  const std::string& kind = race_.measured_reference;
  if (kind == "FOLL_PIN" || kind == "FOLL_PIN, long-term" || kind == "FOLL_GET/none")
    RecordMeasuredPinKind(cfg_.pinner, kind == "FOLL_GET/none" ? kind : "FOLL_PIN", report_.kernel);
  if (report_.interrupted) {
    RaiseVerdict(report_, Verdict::kInterrupted,
                 "interrupted after " + std::to_string(race_.attempts) + " attempt(s)");
  } else if (!race_.refused.empty()) {
    RaiseVerdict(report_, Verdict::kRefused,
                 "the kernel refused the pin (" + race_.refused + "): nothing to race on this kernel");
    if (report_.verdict != Verdict::kRefused) return;
  } else if (report_.verdict == Verdict::kError) {
    // a setup failure during the attempts (remount) already said why
  } else {
    uint64_t step_errors = 0;
    for (const auto& [k, n] : race_.step_errors) step_errors += n;
    if (race_.attempts > 0 && step_errors >= race_.attempts && race_.attempts_with_findings == 0) {
      std::string why = "every attempt failed at a step";
      if (!first_errors_.empty()) why += ": " + first_errors_.front();
      RaiseVerdict(report_, Verdict::kError, why);
    }
  }
  if (race_.kernel_violations)
    RaiseVerdict(
        report_, Verdict::kFail,
        fmt::format(
            "{} kernel-contract violation(s) in {} of {} attempt(s): data a successful sync promised is "
            "not on disk",
            race_.kernel_violations, race_.attempts_with_findings, race_.attempts));
  if (race_.strict_misses) {
    const std::string what = fmt::format(
        "fsync returned 0, but {} of {} DMA-written blocks acknowledged before it are not on disk",
        race_.dma_blocks_strict_promised - race_.dma_blocks_strict_found, race_.dma_blocks_strict_promised);
    if (cfg_.contract_strict) RaiseVerdict(report_, Verdict::kFail, what + " (--contract strict)");
    else report_.notes.push_back(what + " (strict contract; --contract strict fails the run on it)");
  }
  FailOnKernelAlarms();
}

// One reason per kind of kernel alarm (the first line and how many): every line stays in kernel_events.
void RaceRun::FailOnKernelAlarms() {
  std::map<std::string, std::pair<std::string, uint64_t>> alarms;
  for (const auto& e : report_.kernel_events)
    if (e.alarm()) {
      auto& [first, n] = alarms[KernelEventClassName(e.cls)];
      if (n++ == 0) first = e.line + e.TaskSuffix();
    }
  for (const auto& [cls, what] : alarms)
    RaiseVerdict(
        report_, Verdict::kFail,
        fmt::format("kernel {}: {}{}", cls, what.first,
                    what.second > 1 ? fmt::format(" (and {} more)", what.second - 1) : std::string()));
}

void RaceRun::Teardown() {
  if (pinner_) pinner_.reset();  // finishes a held IO, releases pins, unmounts the FUSE daemon
  if (own_mapping_) {
    ::munmap(map_, cfg_.size);
    ::close(fd_);
    own_mapping_ = false;
  }
  target_.Close(cfg_.keep);
  std::free(dma_src_);
  std::free(read_buf_);
  dma_src_ = read_buf_ = nullptr;
  if (scratch_) {
    if (cfg_.keep) {
      report_.kept_image = scratch_->image_path();
      scratch_->Unmount().ok();
      scratch_.reset();
    } else {
      scratch_->Remove().ok();
      scratch_.reset();
    }
  }
  if (cgroup_) cgroup_.reset();
  if (run_dir_ && !cfg_.keep &&
      (report_.verdict == Verdict::kPass || report_.verdict == Verdict::kRefused ||
       report_.verdict == Verdict::kSkip || report_.verdict == Verdict::kFail)) {
    // A race attempt's evidence is in the report (examples, the reproducer): the image holds nothing more.
    run_dir_->Remove().ok();
  }
  run_dir_.reset();
}

}  // namespace race

RunReport RunRace(const RunConfig& cfg) {
  RunReport report;
  report.kernel = KernelRelease();
  report.root = ::geteuid() == 0;
  report.block_size = cfg.block_size;
  report.target_size = cfg.size;
  report.seed = cfg.seed ? cfg.seed
                         : (uint64_t(::getpid()) << 32 ^
                            uint64_t(std::chrono::steady_clock::now().time_since_epoch().count()));
  report.pinner = cfg.pinner;
  report.sync_op = SyncOpName(cfg.sync_op);
  report.mapping = MappingName(cfg.mapping);
  report.run_id = SplitMix{report.seed}.Next();
  auto script = ParseRaceScript(cfg.race);
  if (!script.ok()) {
    RaiseVerdict(report, Verdict::kBadInput, "--race: " + script.status().message());
    return report;
  }
  const PinnerInfo* info = FindPinner(cfg.pinner);
  if (!info || cfg.pinner == "none") {
    RaiseVerdict(report, Verdict::kBadInput, "--race needs a pinner (--pinner NAME, see `longpin list`)");
    return report;
  }
  if (auto why = info->unavailable()) {
    RaiseVerdict(report, Verdict::kSkip, std::string("pinner ") + cfg.pinner + ": " + *why);
    return report;
  }
  if (cfg.pin_window % uint64_t(::sysconf(_SC_PAGESIZE)) || cfg.pin_window % cfg.block_size ||
      cfg.pin_window > cfg.size) {
    RaiseVerdict(report, Verdict::kBadInput,
                 "--pin-window " + FormatSize(cfg.pin_window) +
                     ": a race window is whole pages and blocks, within --size");
    return report;
  }
  for (const auto& s : script->steps)
    if (s.kind == RaceStepKind::kReclaim && s.reclaim == ReclaimMethod::kPageout &&
        !race::PageoutSupported()) {
      RaiseVerdict(report, Verdict::kSkip, "step " + s.text + ": this kernel has no MADV_PAGEOUT (5.4+)");
      return report;
    }
  if (Status s = CheckRaceScript(*script, RaceCapabilitiesOf(cfg.pinner), cfg.pinner); !s.ok()) {
    RaiseVerdict(report, Verdict::kBadInput, "--race: " + s.message());
    return report;
  }
  race::RaceRun run(cfg, report, *script, *info);
  if (!run.Prepare()) return report;
  run.Attempts();
  run.Conclude();
  return report;
}

}  // namespace longpin
