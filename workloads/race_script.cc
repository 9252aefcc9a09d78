#include "workloads/race_script.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <thread>

#include <fmt/format.h>

#include "core/block_stamp.h"
#include "core/kernel_log.h"
#include "core/pin_counters.h"
#include "core/measured_pin_kinds.h"
#include "core/run_directory.h"
#include "core/scratch_fs.h"
#include "core/units.h"
#include "workloads/run.h"
#include "workloads/syncer.h"
#include "workloads/target.h"
#include "workloads/writers.h"

namespace longpin {

bool RaceScript::needs_crash() const {
  return std::any_of(steps.begin(), steps.end(), [](const RaceStep& s) { return s.kind == RaceStepKind::kCrash; });
}
bool RaceScript::needs_cgroup() const {
  return std::any_of(steps.begin(), steps.end(), [](const RaceStep& s) {
    return s.kind == RaceStepKind::kReclaim && s.reclaim == ReclaimMethod::kCgroup;
  });
}

namespace {

constexpr const char* kStepList =
    "pin, store, sync[:OP], dma, dma-start, dma-finish, reclaim[:pageout|cgroup|fadvise], unpin, crash, wait:TIME, "
    "verify";


std::string Trim(std::string s) {
  const auto b = s.find_first_not_of(" \t");
  const auto e = s.find_last_not_of(" \t");
  return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}

}  // namespace

RaceCapabilities RaceCapabilitiesOf(const std::string& pinner) {
  if (pinner == "fuse") return {true, true, true};
  if (pinner == "odirect" || pinner == "process-vm") return {true, true, false};
  if (pinner == "rdma" || pinner == "io_uring" || pinner == "cuda") return {false, true, false};
  return {};
}

Result<RaceScript> ParseRaceScript(const std::string& text) {
  RaceScript script;
  std::stringstream ss(text);
  std::string item;
  int index = 0;
  while (std::getline(ss, item, ',')) {
    item = Trim(item);
    ++index;
    if (item.empty()) return Status(EINVAL, "step " + std::to_string(index) + " is empty (steps: " + kStepList + ")");
    RaceStep step;
    step.text = item;
    const std::string name = item.substr(0, item.find(':'));
    const std::string arg = item.find(':') == std::string::npos ? "" : item.substr(item.find(':') + 1);
    auto no_arg = [&]() -> Status {
      return arg.empty() ? Status{} : Status(EINVAL, "step " + item + ": takes no argument");
    };
    if (name == "pin") step.kind = RaceStepKind::kPin;
    else if (name == "store") step.kind = RaceStepKind::kStore;
    else if (name == "dma") step.kind = RaceStepKind::kDma;
    else if (name == "dma-start") step.kind = RaceStepKind::kDmaStart;
    else if (name == "dma-finish") step.kind = RaceStepKind::kDmaFinish;
    else if (name == "unpin") step.kind = RaceStepKind::kUnpin;
    else if (name == "crash") step.kind = RaceStepKind::kCrash;
    else if (name == "verify") step.kind = RaceStepKind::kVerify;
    else if (name == "sync") {
      step.kind = RaceStepKind::kSync;
      if (!arg.empty()) {
        step.sync_op = ParseSyncOpName(arg);
        if (!step.sync_op)
          return Status(EINVAL, "step " + item + ": unknown sync op (fsync, fdatasync, msync, sync_file_range, syncfs)");
      }
    } else if (name == "reclaim") {
      step.kind = RaceStepKind::kReclaim;
      if (arg.empty() || arg == "pageout") step.reclaim = ReclaimMethod::kPageout;
      else if (arg == "cgroup") step.reclaim = ReclaimMethod::kCgroup;
      else if (arg == "fadvise") step.reclaim = ReclaimMethod::kFadvise;
      else return Status(EINVAL, "step " + item + ": unknown reclaim method (pageout, cgroup, fadvise)");
    } else if (name == "wait") {
      step.kind = RaceStepKind::kWait;
      auto d = ParseDuration(arg);
      if (arg.empty() || !d || *d < 0) return Status(EINVAL, "step " + item + ": wait takes a duration (wait:100ms)");
      step.wait_s = *d;
    } else {
      return Status(EINVAL, "step " + item + ": unknown step (steps: " + kStepList + ")");
    }
    if (step.kind != RaceStepKind::kSync && step.kind != RaceStepKind::kReclaim && step.kind != RaceStepKind::kWait)
      if (Status s = no_arg(); !s.ok()) return s;
    script.text += (script.text.empty() ? "" : ",") + item;
    script.steps.push_back(step);
  }
  if (script.steps.empty()) return Status(EINVAL, "the race script has no steps (steps: " + std::string(kStepList) + ")");
  if (script.steps.back().kind != RaceStepKind::kVerify)
    return Status(EINVAL, "step " + script.steps.back().text + ": a race script ends with verify (what else would it find?)");
  return script;
}

Status CheckRaceScript(const RaceScript& script, const RaceCapabilities& caps, const std::string& pinner) {
  bool pinned = false, inflight = false, crashed = false;
  for (const RaceStep& s : script.steps) {
    auto bad = [&](const std::string& why) { return Status(EINVAL, "step " + s.text + ": " + why); };
    switch (s.kind) {
      case RaceStepKind::kPin:
        if (pinned) return bad("the window is already pinned (unpin first)");
        pinned = true;
        break;
      case RaceStepKind::kUnpin:
        if (!pinned) return bad("nothing is pinned");
        if (inflight) return bad("a held DMA is still in flight (dma-finish first)");
        pinned = false;
        break;
      case RaceStepKind::kDma:
      case RaceStepKind::kDmaStart:
        if (!caps.can_write) return bad("pinner " + pinner + " cannot write through its pin (use rdma, io_uring, fuse, odirect, process-vm or cuda)");
        if (!pinned) return bad("a DMA needs a pinned window: put pin before it");
        if (inflight) return bad("a held DMA is already in flight");
        if (s.kind == RaceStepKind::kDmaStart) {
          if (!caps.can_hold) return bad("pinner " + pinner + " cannot hold a DMA's completion (fuse can; use dma)");
          inflight = true;
        }
        break;
      case RaceStepKind::kDmaFinish:
        if (!inflight) return bad("no held DMA in flight (dma-start first)");
        inflight = false;
        break;
      case RaceStepKind::kCrash:
        if (inflight) return bad("a held DMA is in flight (dma-finish first: the daemon must answer before unmount)");
        if (crashed) return bad("one crash per attempt");
        crashed = true;
        pinned = false;  // the crash releases what was held, after the shutdown
        break;
      case RaceStepKind::kVerify:
        if (inflight) return bad("a held DMA is in flight (dma-finish first)");
        break;
      case RaceStepKind::kStore:
      case RaceStepKind::kSync:
      case RaceStepKind::kReclaim:
      case RaceStepKind::kWait:
        break;
    }
  }
  (void)caps.per_io;
  return {};
}

namespace {

double SecondsSince(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

std::string KernelReleaseString() {
  utsname u{};
  ::uname(&u);
  return u.release;
}

// (major, minor) of a release string like "6.1.0-57-amd64".
std::pair<int, int> KernelVersion(const std::string& release) {
  int major = 0, minor = 0;
  std::sscanf(release.c_str(), "%d.%d", &major, &minor);
  return {major, minor};
}

bool AtLeast(std::pair<int, int> v, int major, int minor) {
  return v.first > major || (v.first == major && v.second >= minor);
}

}  // namespace

std::string ExpectedPinReference(const std::string& pinner, const std::string& release) {
  const auto v = KernelVersion(release);
  if (pinner == "fuse") return AtLeast(v, 6, 9) ? "FOLL_PIN" : "FOLL_GET";
  if (pinner == "odirect") return AtLeast(v, 6, 5) ? "FOLL_PIN" : "FOLL_GET";
  if (pinner == "process-vm") return "FOLL_PIN";
  if (pinner == "vmsplice") return "FOLL_GET";
  if (pinner == "rdma" || pinner == "io_uring") return "FOLL_PIN, long-term";
  if (pinner == "cuda") return "FOLL_PIN (driver 525+), long-term from 550.67";
  return "none";
}

namespace {

uint64_t VmPinKiB() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("VmPin:", 0) == 0) return std::strtoull(line.c_str() + 6, nullptr, 10);
  return 0;
}

struct HoldProbe {
  PinCounterSnapshot pins;
  uint64_t vmpin_kib = 0;
  static HoldProbe Take() { return {ReadPinCounters(), VmPinKiB()}; }
};

// Pages of [addr, addr+len) present in this process's page tables (/proc/self/pagemap bit 63): reclaim that
// unmaps a page takes it out, whether or not a pin keeps it in memory.
int64_t PresentPages(const std::byte* addr, size_t len, size_t page) {
  int fd = ::open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  const size_t n = len / page;
  std::vector<uint64_t> entries(n);
  const off_t at = off_t(reinterpret_cast<uintptr_t>(addr) / page * sizeof(uint64_t));
  const ssize_t got = ::pread(fd, entries.data(), n * sizeof(uint64_t), at);
  ::close(fd);
  if (got != ssize_t(n * sizeof(uint64_t))) return -1;
  return std::count_if(entries.begin(), entries.end(), [](uint64_t e) { return (e >> 63) & 1; });
}

bool WriteFile(const std::string& path, const std::string& text, int* err = nullptr) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) {
    if (err) *err = errno;
    return false;
  }
  const ssize_t n = ::write(fd, text.data(), text.size());
  const int e = errno;
  ::close(fd);
  if (n != ssize_t(text.size())) {
    if (err) *err = n < 0 ? e : EIO;
    return false;
  }
  return true;
}

std::string ReadFirstLine(const std::string& path) {
  std::ifstream f(path);
  std::string line;
  std::getline(f, line);
  return line;
}

constexpr const char* kCgroupRoot = "/sys/fs/cgroup";
constexpr const char* kCgroupPrefix = "longpin-race-";

// A memory cgroup of longpin's own (cgroup v2) that this process moves into, so that the target's pages are
// charged to it and memory.reclaim takes them. The process moves back and the cgroup is removed by the
// destructor (and by `longpin cleanup` after a SIGKILL); the memory controller is enabled in the root's
// subtree_control only when it was not, and disabled again afterwards.
class RaceCgroup {
 public:
  ~RaceCgroup() { Remove(); }

  std::optional<std::string> Create() {
    const std::string controllers = ReadFirstLine(std::string(kCgroupRoot) + "/cgroup.controllers");
    if (controllers.find("memory") == std::string::npos)
      return std::string("no cgroup v2 memory controller at ") + kCgroupRoot +
             " (cgroup v1 or not mounted): use reclaim:pageout";
    std::ifstream self("/proc/self/cgroup");
    for (std::string line; std::getline(self, line);)
      if (line.rfind("0::", 0) == 0) origin_ = line.substr(3);
    if (origin_.empty()) return std::string("this process is in no cgroup v2 group: use reclaim:pageout");
    const std::string subtree = std::string(kCgroupRoot) + "/cgroup.subtree_control";
    if (ReadFirstLine(subtree).find("memory") == std::string::npos) {
      int err = 0;
      if (!WriteFile(subtree, "+memory", &err))
        return fmt::format("cannot enable the memory controller in {} ({})", subtree, ErrnoName(err));
      enabled_controller_ = true;
    }
    dir_ = std::string(kCgroupRoot) + "/" + kCgroupPrefix + std::to_string(::getpid());
    if (::mkdir(dir_.c_str(), 0755) != 0) {
      std::string why = fmt::format("mkdir {}: {}", dir_, ErrnoName(errno));
      dir_.clear();
      return why;
    }
    int err = 0;
    if (!WriteFile(dir_ + "/cgroup.procs", std::to_string(::getpid()), &err))
      return fmt::format("cannot move longpin into {} ({})", dir_, ErrnoName(err));
    moved_ = true;
    return std::nullopt;
  }

  // Reclaims up to what the cgroup holds. EAGAIN (less was reclaimable) is the usual answer with pins around.
  int Reclaim() {
    const std::string current = ReadFirstLine(dir_ + "/memory.current");
    int err = 0;
    if (!WriteFile(dir_ + "/memory.reclaim", current.empty() ? std::string("64M") : current, &err)) return err;
    return 0;
  }

  const std::string& dir() const { return dir_; }

  void Remove() {
    if (moved_) WriteFile(std::string(kCgroupRoot) + origin_ + "/cgroup.procs", std::to_string(::getpid()));
    moved_ = false;
    if (!dir_.empty()) ::rmdir(dir_.c_str());
    dir_.clear();
    if (enabled_controller_) WriteFile(std::string(kCgroupRoot) + "/cgroup.subtree_control", "-memory");
    enabled_controller_ = false;
  }

 private:
  std::string dir_, origin_;
  bool moved_ = false, enabled_controller_ = false;
};

bool PageoutSupported() {
  void* p = ::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return false;
  const bool ok = ::madvise(p, 4096, MADV_PAGEOUT) == 0;
  ::munmap(p, 4096);
  return ok;
}


// One write of an attempt (every write covers the whole window) and one sync.
struct AttemptWrite {
  uint64_t generation = 0;
  WriterKind kind = WriterKind::kNone;
  int done_step = -1;      // the step index at which it completed
  int released_step = -1;  // the step at which the kernel contract starts to count it (-1: never released)
};
struct AttemptSync {
  int step = 0;
  int number = 0;
  int err = 0;
  bool promises = false;
  std::string op;
};

// The bound a contract sets over the attempt's writes: the newest generation whose write counted (released
// for the kernel contract, completed for the strict one) before a sync that returned 0 started.
struct Bound {
  uint64_t generation = 0;
  const AttemptWrite* write = nullptr;
  const AttemptSync* sync = nullptr;
};
Bound BoundOf(const std::vector<AttemptWrite>& writes, const std::vector<AttemptSync>& syncs, bool strict) {
  Bound b;
  for (const auto& w : writes) {
    const int from = strict ? w.done_step : w.released_step;
    if (from < 0) continue;
    for (const auto& s : syncs)
      if (s.step > from && s.err == 0 && s.promises && w.generation > b.generation) {
        b = {w.generation, &w, &s};
        break;
      }
  }
  return b;
}

std::string Described(const BlockVerdict& v, const std::vector<AttemptWrite>& writes) {
  switch (v.cls) {
    case BlockClass::kZero: return "zero";
    case BlockClass::kIntact: {
      std::string what = fmt::format("intact@{}", v.generation);
      for (const auto& w : writes)
        if (w.generation == v.generation) what += fmt::format(" (the {} write)", WriterKindName(w.kind));
      return what;
    }
    case BlockClass::kTorn: return fmt::format("torn@{}..{}", v.min_generation, v.generation);
    case BlockClass::kForeign: return fmt::format("foreign(block {})", v.found_block);
    case BlockClass::kCorrupt: return fmt::format("corrupt(word {})", v.bad_word);
  }
  return "?";
}

// Everything a race run holds; torn down in reverse by the destructor, whatever happened.
class RaceRun {
 public:
  RaceRun(const RunConfig& cfg, RunReport& report, const RaceScript& script, const PinnerInfo& info)
      : cfg_(cfg), report_(report), script_(script), info_(info), race_(report.race.emplace()) {}

  ~RaceRun() { Teardown(); }

  // Creates the run directory, the scratch filesystem, the target and the pinner. On failure the report's
  // verdict says why.
  bool Prepare();
  void Attempts();
  void Conclude();

 private:
  bool OpenTarget(bool create);
  Status CreatePinner();
  void Teardown();
  bool RunAttempt(uint64_t attempt);
  void Judge(uint64_t attempt, uint64_t first_block, uint64_t blocks, const std::vector<AttemptWrite>& writes,
             const std::vector<AttemptSync>& syncs, bool* found);
  void MeasureHold(const HoldProbe& before, uint64_t pages, const char* how);
  void StepError(const RaceStep& s, const Status& st) {
    race_.step_errors[s.text + " " + std::string(ErrnoName(st.err()))]++;
    if (race_.step_errors.size() < 8 && first_errors_.size() < 3) first_errors_.push_back(s.text + ": " + st.message());
  }

  const RunConfig& cfg_;
  RunReport& report_;
  const RaceScript& script_;
  const PinnerInfo& info_;
  RaceReport& race_;
  std::optional<RunDirectory> run_dir_;
  std::unique_ptr<ScratchFs> scratch_;
  Target target_;          // until the first crash: the file as created (shared) or the memfd
  std::string file_path_;  // shared file targets: reopened after a crash
  int fd_ = -1;
  std::byte* map_ = nullptr;
  bool own_mapping_ = false;  // fd_/map_ are ours (reopened), not target_'s
  std::unique_ptr<Pinner> pinner_;
  std::unique_ptr<StampPattern> pattern_;
  std::unique_ptr<RaceCgroup> cgroup_;
  std::unique_ptr<KernelLogMonitor> kmsg_;
  std::byte* dma_src_ = nullptr;
  std::byte* read_buf_ = nullptr;
  std::vector<uint64_t> window_generation_;
  uint64_t sync_number_ = 0;
  uint32_t epoch_ = 0;
  bool measured_ = false;
  bool direct_io_ = true;
  std::vector<std::string> first_errors_;
  std::chrono::steady_clock::time_point start_;
  uint64_t page_ = 4096;
};

bool RaceRun::OpenTarget(bool create) {
  if (create) {
    auto t = Target::Create(cfg_.mapping, file_path_, run_dir_->path(), cfg_.size, true);
    if (!t.ok()) {
      const int e = t.status().err();
      const bool cannot = e == ENOMEM || e == EPERM || e == ENOTSUP;
      SetVerdict(report_, cannot ? "skip" : "error", cannot ? kExitCannotRun : kExitError, t.status().message());
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
    SetVerdict(report_, "error", kExitError, "reopen " + file_path_ + " after the crash: " + std::string(ErrnoName(errno)));
    return false;
  }
  void* m = ::mmap(nullptr, cfg_.size, PROT_READ | PROT_WRITE, MAP_SHARED, fd_, 0);
  if (m == MAP_FAILED) {
    SetVerdict(report_, "error", kExitError, "map " + file_path_ + " after the crash: " + std::string(ErrnoName(errno)));
    ::close(fd_);
    fd_ = -1;
    return false;
  }
  map_ = static_cast<std::byte*>(m);
  own_mapping_ = true;
  return true;
}

Status RaceRun::CreatePinner() {
  PinTarget pt{map_, size_t(cfg_.size), fd_, file_path_.empty() ? target_.path() : file_path_, size_t(page_),
               cfg_.block_size};
  PinnerOptions popts = cfg_.pinner_options;
  if (popts.scratch_dir.empty()) popts.scratch_dir = run_dir_->path();
  auto p = info_.create(pt, popts);
  if (!p.ok()) return p.status();
  pinner_ = std::move(*p);
  return {};
}

bool RaceRun::Prepare() {
  page_ = uint64_t(::sysconf(_SC_PAGESIZE));
  race_.script = script_.text;
  race_.window_bytes = cfg_.pin_window;
  const std::string base = cfg_.workdir.empty() ? DefaultWorkBase() : cfg_.workdir;
  auto dir = RunDirectory::Create(base, report_.run_id);
  if (!dir.ok()) {
    SetVerdict(report_, "error", kExitError, dir.status().message());
    return false;
  }
  run_dir_ = *dir;
  report_.run_dir = run_dir_->path();
  // Memory cgroup first: pages are charged to the cgroup of the task that brings them in.
  if (script_.needs_cgroup()) {
    cgroup_ = std::make_unique<RaceCgroup>();
    if (auto why = cgroup_->Create()) {
      SetVerdict(report_, "skip", kExitCannotRun, "step reclaim:cgroup: " + *why);
      return false;
    }
  }
  const bool dir_mode = cfg_.fs.rfind("dir:", 0) == 0;
  if (!MappingReachesFs(cfg_.mapping)) {
    report_.fs = "shmem";
  } else if (!cfg_.target.empty()) {
    file_path_ = cfg_.target;  // checked by the option parser: does not exist, its directory does
    report_.fs = cfg_.fs;
    report_.fs_detail = "--target " + cfg_.target;
  } else if (dir_mode) {
    file_path_ = cfg_.fs.substr(4) + "/longpin-race-" + run_dir_->path().substr(run_dir_->path().rfind('-') + 1);
    report_.fs = cfg_.fs;
    report_.fs_detail = cfg_.fs;
  } else {
    const uint64_t image_bytes = std::max<uint64_t>(512ull << 20, cfg_.size * 4);  // sparse; xfs needs 300 MiB
    auto fs = ScratchFs::Create(run_dir_->path(), *ParseFsType(cfg_.fs), image_bytes, cfg_.mount_options);
    if (!fs.ok()) {
      const bool cannot = fs.status().err() == ENOTSUP;
      SetVerdict(report_, cannot ? "skip" : "error", cannot ? kExitCannotRun : kExitError, fs.status().message());
      return false;
    }
    scratch_ = std::move(*fs);
    file_path_ = scratch_->mount_point() + "/target";
    report_.fs = cfg_.fs;
    report_.fs_detail = cfg_.fs + " on " + scratch_->loop_device() + " (scratch image " + scratch_->image_path() + ")";
  }
  if (script_.needs_crash() && !scratch_) {
    SetVerdict(report_, "skip", kExitCannotRun,
               "step crash: needs a scratch filesystem longpin created (--fs ext4|xfs), not " + report_.fs);
    return false;
  }
  if (!OpenTarget(true)) return false;
  if (script_.needs_crash()) {
    int dfd = ::open(scratch_->mount_point().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    uint32_t bad_flags = 0x7f;
    const bool supported = ::ioctl(dfd, _IOR('X', 125, uint32_t), &bad_flags) != 0 && errno == EINVAL;
    ::close(dfd);
    if (!supported) {
      SetVerdict(report_, "skip", kExitCannotRun,
                 "step crash: " + cfg_.fs + " on this kernel has no FS_IOC_SHUTDOWN (use ext4 or xfs)");
      return false;
    }
  }
  if (Status s = CreatePinner(); !s.ok()) {
    const bool cannot = s.err() == ENODEV || s.err() == ENOTSUP || s.err() == EPERM;
    SetVerdict(report_, cannot ? "skip" : "error", cannot ? kExitCannotRun : kExitError,
               "pinner " + cfg_.pinner + ": " + s.message());
    return false;
  }
  pattern_ = std::make_unique<StampPattern>(report_.run_id, cfg_.block_size);
  dma_src_ = static_cast<std::byte*>(std::aligned_alloc(page_, cfg_.pin_window));
  read_buf_ = static_cast<std::byte*>(std::aligned_alloc(page_, cfg_.pin_window));
  if (!dma_src_ || !read_buf_) {
    SetVerdict(report_, "error", kExitError, "out of memory for the window buffers");
    return false;
  }
  window_generation_.assign(cfg_.size / cfg_.pin_window, 0);
  kmsg_ = std::make_unique<KernelLogMonitor>(
      DeviceOwnership{{run_dir_->path()}, {BlockDeviceOf(file_path_.empty() ? target_.path() : file_path_)}});
  report_.kernel_log_unavailable = kmsg_->unavailable_reason();
  for (const auto& s : script_.steps)
    if (s.kind == RaceStepKind::kReclaim) {
      race_.reclaim_detail = s.reclaim == ReclaimMethod::kCgroup ? "memory.reclaim of " + cgroup_->dir()
                             : s.reclaim == ReclaimMethod::kPageout ? "madvise(MADV_PAGEOUT) of the window"
                                                                    : "posix_fadvise(POSIX_FADV_DONTNEED) of the window";
      break;
    }
  race_.expected_reference = ExpectedPinReference(cfg_.pinner, report_.kernel);
  return true;
}

void RaceRun::MeasureHold(const HoldProbe& before, uint64_t pages, const char* how) {
  if (measured_) return;
  measured_ = true;
  const HoldProbe after = HoldProbe::Take();
  if (!after.pins.available) {
    race_.measured_reference = "unknown";
    race_.reference_detail = "no nr_foll_pin_* in /proc/vmstat";
    return;
  }
  const uint64_t acquired = after.pins.acquired - before.pins.acquired;
  const uint64_t vmpin = after.vmpin_kib > before.vmpin_kib ? after.vmpin_kib - before.vmpin_kib : 0;
  const bool pin = acquired >= pages;
  const bool accounted = vmpin * 1024 >= pages * page_;
  race_.measured_reference = pin ? (accounted ? "FOLL_PIN, long-term" : "FOLL_PIN") : "FOLL_GET/none";
  race_.reference_detail =
      fmt::format("{} of {} pages: nr_foll_pin_acquired +{}{}, VmPin +{} kB{}", how, pages, acquired,
                  after.pins.refreshed ? "" : " (not refreshed: small counts may hide)", vmpin,
                  ", system-wide counter");
  const std::string& expected = race_.expected_reference;
  const std::string measured = race_.measured_reference == "FOLL_GET/none" ? "FOLL_GET" : race_.measured_reference;
  if (expected.rfind(measured, 0) != 0)
    report_.notes.push_back(fmt::format("pin kind: measured {} but ../shared/KERNEL_NOTES.md expects {} on {}",
                                        race_.measured_reference, expected, report_.kernel));
}

void RaceRun::Judge(uint64_t attempt, uint64_t first_block, uint64_t blocks, const std::vector<AttemptWrite>& writes,
                    const std::vector<AttemptSync>& syncs, bool* found) {
  const uint64_t offset = first_block * cfg_.block_size;
  const uint64_t len = blocks * cfg_.block_size;
  int vfd = -1;
  if (direct_io_) {
    vfd = ::open(report_.target_path.c_str(), O_RDONLY | O_DIRECT | O_CLOEXEC);
    if (vfd < 0 && errno == EINVAL) {
      direct_io_ = false;
      report_.notes.push_back("verify: " + report_.fs + " has no O_DIRECT: windows read through the page cache");
    }
  }
  if (vfd < 0) vfd = ::open(report_.target_path.c_str(), O_RDONLY | O_CLOEXEC);
  if (vfd < 0) {
    StepError(script_.steps.back(), Status::FromErrno("open " + report_.target_path));
    return;
  }
  if (!direct_io_) ::posix_fadvise(vfd, off_t(offset), off_t(len), POSIX_FADV_DONTNEED);
  const ssize_t n = ::pread(vfd, read_buf_, len, off_t(offset));
  const int read_err = errno;
  ::close(vfd);
  if (n != ssize_t(len)) {
    StepError(script_.steps.back(), Status(n < 0 ? read_err : EIO, "read the window back"));
    return;
  }
  report_.verify_method = direct_io_ ? "O_DIRECT" : "buffered after POSIX_FADV_DONTNEED";
  report_.verify_bytes += len;
  const Bound kernel = BoundOf(writes, syncs, false);
  const Bound strict = BoundOf(writes, syncs, true);
  uint64_t newest = 0;
  for (const auto& w : writes) newest = std::max(newest, w.generation);
  const bool strict_dma = strict.write && strict.write->kind == WriterKind::kDma;
  for (uint64_t i = 0; i < blocks; ++i) {
    const uint64_t block = first_block + i;
    const BlockVerdict v = ClassifyBlock(*pattern_, block, read_buf_ + i * cfg_.block_size);
    uint64_t have = 0;  // the oldest generation any part of the block holds
    bool damaged = false;
    switch (v.cls) {
      case BlockClass::kZero: have = 0; break;
      case BlockClass::kIntact: have = v.generation; break;
      case BlockClass::kTorn: have = v.has_zero_words ? 0 : v.min_generation; break;
      case BlockClass::kForeign:
      case BlockClass::kCorrupt: damaged = true; break;
    }
    const bool never_issued = (v.cls == BlockClass::kIntact || v.cls == BlockClass::kTorn) && v.generation > newest;
    if (strict_dma) {
      race_.dma_blocks_strict_promised++;
      if (!damaged && !never_issued && have >= strict.generation) race_.dma_blocks_strict_found++;
    }
    auto record = [&](const char* contract, const Bound& b) {
      RaceExample e;
      e.attempt = attempt;
      e.contract = contract;
      e.block = block;
      e.offset = block * cfg_.block_size;
      e.expected_generation = b.generation;
      e.found = Described(v, writes);
      e.writer = b.write ? WriterKindName(b.write->kind) : "-";
      e.promised_by = b.sync ? fmt::format("sync #{} ({}, returned 0)", b.sync->number, b.sync->op) : "-";
      if (race_.examples.size() < 20) race_.examples.push_back(e);
      *found = true;
    };
    if (damaged || never_issued) {
      race_.kernel_violations++;
      record("kernel", kernel);
    } else if (have < kernel.generation) {
      race_.kernel_violations++;
      record("kernel", kernel);
    } else if (have < strict.generation) {
      race_.strict_misses++;
      record("strict", strict);
    }
  }
}

bool RaceRun::RunAttempt(uint64_t attempt) {
  const uint64_t windows = window_generation_.size();
  const uint64_t w_index = attempt % windows;
  const uint64_t w_off = w_index * cfg_.pin_window;
  const uint64_t pages = cfg_.pin_window / page_;
  const uint64_t first_block = w_off / cfg_.block_size;
  const uint64_t blocks = cfg_.pin_window / cfg_.block_size;
  std::vector<AttemptWrite> writes;
  std::vector<AttemptSync> syncs;
  PinWindow window{w_off, cfg_.pin_window, ++epoch_};
  bool pinned = false, inflight = false, found = false;
  auto held_since = std::chrono::steady_clock::now();
  HoldProbe probe;
  auto hold = [&](bool on) {
    if (on) {
      held_since = std::chrono::steady_clock::now();
      race_.pages_held_max = std::max(race_.pages_held_max, pages);
    } else {
      race_.pin_seconds += SecondsSince(held_since) * double(pages);
    }
  };
  auto stamp = [&](std::byte* base, WriterKind kind, uint64_t gen) {
    for (uint64_t i = 0; i < blocks; ++i) {
      StampId id{report_.run_id, first_block + i, gen, kind, kind == WriterKind::kDma ? 1u : 0u, window.epoch};
      StampBlock(*pattern_, id, base + i * cfg_.block_size);
    }
  };
  auto release_dma_writes = [&](int step) {
    for (auto& w : writes)
      if (w.kind == WriterKind::kDma && w.released_step < 0) w.released_step = step;
  };
  const bool per_io = pinner_->holds_per_io();
  bool aborted = false;
  for (size_t i = 0; i < script_.steps.size() && !aborted; ++i) {
    const RaceStep& s = script_.steps[i];
    const int step = int(i);
    switch (s.kind) {
      case RaceStepKind::kPin: {
        if (!per_io) probe = HoldProbe::Take();
        auto g = pinner_->Pin(window);
        if (!g.ok()) {
          if (attempt == 0 && (g.status().err() == EFAULT || g.status().err() == EOPNOTSUPP ||
                               g.status().err() == EPERM || g.status().err() == EINVAL)) {
            race_.refused = std::string(ErrnoName(g.status().err())) + ": " + g.status().message();
            return false;
          }
          StepError(s, g.status());
          aborted = true;
          break;
        }
        pinned = true;
        if (!per_io) {
          MeasureHold(probe, pages, "registration");
          hold(true);
        }
        break;
      }
      case RaceStepKind::kStore: {
        const uint64_t gen = ++window_generation_[w_index];
        stamp(map_ + w_off, WriterKind::kCpu, gen);
        writes.push_back({gen, WriterKind::kCpu, step, step});
        break;
      }
      case RaceStepKind::kSync: {
        const SyncOpKind op = s.sync_op.value_or(cfg_.sync_op);
        const int err = CallSyncOp(op, fd_, map_, w_off, cfg_.pin_window);
        syncs.push_back({step, int(++sync_number_), err, SyncOpPromises(op), SyncOpName(op)});
        race_.sync_results[std::string(SyncOpName(op)) + " " + (err ? std::string(ErrnoName(err)) : "ok")]++;
        break;
      }
      case RaceStepKind::kDma:
      case RaceStepKind::kDmaStart: {
        const uint64_t gen = ++window_generation_[w_index];
        stamp(dma_src_, WriterKind::kDma, gen);
        if (per_io) probe = HoldProbe::Take();
        if (s.kind == RaceStepKind::kDma) {
          Status st = pinner_->DmaWrite(window, w_off, dma_src_, cfg_.pin_window);
          if (!st.ok()) {
            StepError(s, st);
            aborted = true;
            break;
          }
          if (per_io) MeasureHold(probe, pages, "one IO");
          race_.dma_writes++;
          // A per-IO pin is released when its IO completes: the kernel dirtied the pages then.
          writes.push_back({gen, WriterKind::kDma, step, per_io ? step : -1});
        } else {
          Status st = pinner_->StartDma(window, w_off, dma_src_, cfg_.pin_window);
          if (!st.ok()) {
            StepError(s, st);
            aborted = true;
            break;
          }
          MeasureHold(probe, pages, "a held IO");
          hold(true);
          inflight = true;
          writes.push_back({gen, WriterKind::kDma, -1, -1});
        }
        break;
      }
      case RaceStepKind::kDmaFinish: {
        Status st = pinner_->FinishDma();
        inflight = false;
        hold(false);
        if (!st.ok()) {
          StepError(s, st);
          writes.pop_back();  // the write did not complete: nothing promised, no newer generation on disk
          aborted = true;
          break;
        }
        race_.dma_writes++;
        writes.back().done_step = step;
        writes.back().released_step = step;
        break;
      }
      case RaceStepKind::kReclaim: {
        const int64_t before = PresentPages(map_ + w_off, cfg_.pin_window, page_);
        int err = 0;
        if (s.reclaim == ReclaimMethod::kPageout) {
          if (::madvise(map_ + w_off, cfg_.pin_window, MADV_PAGEOUT) != 0) err = errno;
        } else if (s.reclaim == ReclaimMethod::kFadvise) {
          err = ::posix_fadvise(fd_, off_t(w_off), off_t(cfg_.pin_window), POSIX_FADV_DONTNEED);
        } else {
          err = cgroup_->Reclaim();
        }
        if (err && err != EAGAIN) StepError(s, Status(err, "reclaim"));
        const int64_t after = PresentPages(map_ + w_off, cfg_.pin_window, page_);
        if (before >= 0 && after >= 0 && before > after) race_.reclaimed_pages += uint64_t(before - after);
        break;
      }
      case RaceStepKind::kUnpin: {
        Status st = pinner_->Unpin(window);
        if (!st.ok()) {
          StepError(s, st);  // still pinned: the kernel contract promises nothing of its DMA writes
          aborted = true;
          break;
        }
        pinned = false;
        if (!per_io) hold(false);
        release_dma_writes(step);
        break;
      }
      case RaceStepKind::kCrash: {
        Status st = scratch_->Shutdown();
        if (!st.ok()) {
          StepError(s, st);
          aborted = true;
          break;
        }
        // After the shutdown nothing reaches the disk: releasing the pin now promises nothing.
        if (pinned) {
          pinner_->Unpin(window).ok();
          if (!per_io) hold(false);
          pinned = false;
        }
        pinner_.reset();
        if (own_mapping_) {
          ::munmap(map_, cfg_.size);
          ::close(fd_);
        } else {
          target_.Close(true);
        }
        map_ = nullptr;
        fd_ = -1;
        own_mapping_ = false;
        Status um = scratch_->Unmount();
        Status m = um.ok() ? scratch_->Mount() : um;
        if (!m.ok()) {
          SetVerdict(report_, "error", kExitError, "crash step: remount of the scratch filesystem: " + m.message());
          return false;
        }
        if (!OpenTarget(false)) return false;
        if (Status c = CreatePinner(); !c.ok()) {
          SetVerdict(report_, "error", kExitError, "crash step: the pinner after the remount: " + c.message());
          return false;
        }
        break;
      }
      case RaceStepKind::kVerify:
        Judge(attempt + 1, first_block, blocks, writes, syncs, &found);
        break;
      case RaceStepKind::kWait: {
        // In short sleeps, so that SIGINT ends the attempt without waiting the whole time.
        const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(s.wait_s);
        while (std::chrono::steady_clock::now() < until && !g_interrupted.load())
          std::this_thread::sleep_for(std::chrono::milliseconds(20));
        break;
      }
    }
  }
  if (inflight) {
    pinner_->FinishDma().ok();  // aborted attempt: let the IO end before the window is left
    hold(false);
  }
  if (pinned) {
    if (pinner_->Unpin(window).ok() && !per_io) hold(false);
  }
  if (found) {
    race_.attempts_with_findings++;
    if (race_.first_finding_s < 0) {
      race_.first_finding_s = SecondsSince(start_);
      race_.first_finding_attempt = attempt + 1;
    }
  }
  return true;
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
    SetVerdict(report_, "interrupted", kExitInterrupted, "interrupted after " + std::to_string(race_.attempts) + " attempt(s)");
  } else if (!race_.refused.empty()) {
    SetVerdict(report_, "refused", kExitCannotRun,
               "the kernel refused the pin (" + race_.refused + "): nothing to race on this kernel");
    if (report_.exit_code != kExitCannotRun) return;
  } else if (report_.verdict == "error" && !report_.reasons.empty()) {
    // a setup failure during the attempts (remount) already said why
  } else {
    uint64_t step_errors = 0;
    for (const auto& [k, n] : race_.step_errors) step_errors += n;
    if (race_.attempts > 0 && step_errors >= race_.attempts && race_.attempts_with_findings == 0) {
      std::string why = "every attempt failed at a step";
      if (!first_errors_.empty()) why += ": " + first_errors_.front();
      SetVerdict(report_, "error", kExitError, why);
    } else {
      SetVerdict(report_, "pass", kExitPass, "");
    }
  }
  if (race_.kernel_violations)
    SetVerdict(report_, "fail", kExitFail,
               fmt::format("{} kernel-contract violation(s) in {} of {} attempt(s): data a successful sync promised is "
                           "not on disk",
                           race_.kernel_violations, race_.attempts_with_findings, race_.attempts));
  if (race_.strict_misses) {
    const std::string what =
        fmt::format("fsync returned 0, but {} of {} DMA-written blocks acknowledged before it are not on disk",
                    race_.dma_blocks_strict_promised - race_.dma_blocks_strict_found, race_.dma_blocks_strict_promised);
    if (cfg_.contract_strict) SetVerdict(report_, "fail", kExitFail, what + " (--contract strict)");
    else report_.notes.push_back(what + " (strict contract; --contract strict fails the run on it)");
  }
  // One reason per kind of alarm (the first line and how many): every line stays in kernel_events.
  std::map<std::string, std::pair<std::string, uint64_t>> alarms;
  for (const auto& e : report_.kernel_events)
    if (e.alarm()) {
      auto& [first, n] = alarms[KernelEventClassName(e.cls)];
      if (n++ == 0) first = e.line + e.TaskSuffix();
    }
  for (const auto& [cls, what] : alarms)
    SetVerdict(report_, "fail", kExitFail,
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
  if (run_dir_ && !cfg_.keep && (report_.verdict == "pass" || report_.verdict == "refused" ||
                                 report_.verdict == "skip" || report_.verdict == "fail")) {
    // A race attempt's evidence is in the report (examples, the reproducer): the image holds nothing more.
    run_dir_->Remove().ok();
  }
  run_dir_.reset();
}

}  // namespace

RunReport RunRace(const RunConfig& cfg) {
  RunReport report;
  report.kernel = KernelReleaseString();
  report.root = ::geteuid() == 0;
  report.block_size = cfg.block_size;
  report.target_size = cfg.size;
  report.seed = cfg.seed ? cfg.seed : (uint64_t(::getpid()) << 32 ^ uint64_t(std::chrono::steady_clock::now().time_since_epoch().count()));
  report.pinner = cfg.pinner;
  report.sync_op = SyncOpName(cfg.sync_op);
  report.mapping = MappingName(cfg.mapping);
  report.run_id = SplitMix{report.seed}.Next();
  auto script = ParseRaceScript(cfg.race);
  if (!script.ok()) {
    SetVerdict(report, "error", kExitUsage, "--race: " + script.status().message());
    return report;
  }
  const PinnerInfo* info = FindPinner(cfg.pinner);
  if (!info || cfg.pinner == "none") {
    SetVerdict(report, "error", kExitUsage, "--race needs a pinner (--pinner NAME, see `longpin list`)");
    return report;
  }
  if (auto why = info->unavailable()) {
    SetVerdict(report, "skip", kExitCannotRun, std::string("pinner ") + cfg.pinner + ": " + *why);
    return report;
  }
  if (cfg.pin_window % uint64_t(::sysconf(_SC_PAGESIZE)) || cfg.pin_window % cfg.block_size ||
      cfg.pin_window > cfg.size) {
    SetVerdict(report, "error", kExitUsage,
               "--pin-window " + FormatSize(cfg.pin_window) + ": a race window is whole pages and blocks, within --size");
    return report;
  }
  for (const auto& s : script->steps)
    if (s.kind == RaceStepKind::kReclaim && s.reclaim == ReclaimMethod::kPageout && !PageoutSupported()) {
      SetVerdict(report, "skip", kExitCannotRun, "step " + s.text + ": this kernel has no MADV_PAGEOUT (5.4+)");
      return report;
    }
  if (Status s = CheckRaceScript(*script, RaceCapabilitiesOf(cfg.pinner), cfg.pinner); !s.ok()) {
    SetVerdict(report, "error", kExitUsage, "--race: " + s.message());
    return report;
  }
  RaceRun run(cfg, report, *script, *info);
  if (!run.Prepare()) return report;
  run.Attempts();
  run.Conclude();
  return report;
}

std::vector<std::string> CleanupStaleRaceCgroups(bool dry_run) {
  std::vector<std::string> done;
  DIR* d = ::opendir(kCgroupRoot);
  if (!d) return done;
  while (dirent* e = ::readdir(d)) {
    const std::string name = e->d_name;
    if (name.rfind(kCgroupPrefix, 0) != 0) continue;
    const std::string pid_text = name.substr(std::strlen(kCgroupPrefix));
    if (pid_text.empty() || pid_text.find_first_not_of("0123456789") != std::string::npos) continue;
    const std::string path = std::string(kCgroupRoot) + "/" + name;
    if (::access(("/proc/" + pid_text).c_str(), F_OK) == 0) {
      done.push_back("skipped " + path + ": process " + pid_text + " is still running");
      continue;
    }
    if (dry_run) {
      done.push_back("would remove " + path);
    } else if (::rmdir(path.c_str()) == 0) {
      done.push_back("removed " + path);
    } else {
      done.push_back("skipped " + path + ": " + std::string(ErrnoName(errno)) + " (processes still in it?)");
    }
  }
  ::closedir(d);
  return done;
}

}  // namespace longpin
