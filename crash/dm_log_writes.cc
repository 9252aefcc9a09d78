#include "crash/dm_log_writes.h"

#include <fcntl.h>
#include <libdevmapper.h>
#include <linux/dm-ioctl.h>  // DM_NAME_LEN
#include <linux/fs.h>
#include <linux/loop.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <mutex>

#include "core/scratch_fs.h"
#include "core/subprocess.h"

namespace longpin {
namespace {

constexpr const char* kControl = "/dev/mapper/control";

// libdevmapper reports through a process-wide log function, to stderr by default: its errors become the
// text of the Status that the call returns instead (the last one per thread), and nothing else is printed.
thread_local std::string dm_last_error;

// Its levels are syslog's (3: error, 7: debug) in the low bits, flags above them.
constexpr int kDmLogLevelBits = 0xf, kDmLogError = 3;

void KeepDmError(int level, const char* /*file*/, int /*line*/, int /*dm_errno*/, const char* f, ...) {
  if ((level & kDmLogLevelBits) > kDmLogError) return;
  char text[512];
  va_list ap;
  va_start(ap, f);
  std::vsnprintf(text, sizeof text, f, ap);
  va_end(ap);
  dm_last_error = text;
}

// The library's process-wide settings, made once before its first call. No udev synchronisation: nodes are
// made by the library. The control descriptor stays open, so that marks from several threads never race to
// open it.
void InitDmLibrary() {
  static const bool done = [] {
    dm_log_with_errno_init(KeepDmError);
    dm_udev_set_sync_support(0);
    dm_hold_control_dev(1);
    return true;
  }();
  (void)done;
}

// One libdevmapper task of `type` on device `name` (empty: none), destroyed with its owner.
struct DmTask {
  explicit DmTask(int type, const std::string& name = {}) {
    InitDmLibrary();
    task = dm_task_create(type);
    if (task && !name.empty() && !dm_task_set_name(task, name.c_str())) {
      dm_task_destroy(task);
      task = nullptr;
      setup_err = EINVAL;  // a name the library refuses
    }
  }
  ~DmTask() {
    if (task) dm_task_destroy(task);
  }
  DmTask(const DmTask&) = delete;
  DmTask& operator=(const DmTask&) = delete;

  // Runs the task; the error carries the ioctl's errno and the library's own words for what failed.
  Status Run(const std::string& what) {
    dm_last_error.clear();
    // libdevmapper does not promise thread safety (process-wide caches of versions and majors behind its
    // ioctls), and several syncer threads place marks at once: one task runs at a time.
    static std::mutex run_mu;
    std::unique_lock<std::mutex> one_at_a_time(run_mu);
    if (task && dm_task_run(task)) return {};
    one_at_a_time.unlock();
    const int err = task ? dm_task_get_errno(task) : setup_err;
    return Status(err ? err : EIO, dm_last_error.empty() ? what : what + " (" + dm_last_error + ")");
  }
  dm_task* task = nullptr;
  int setup_err = ENOMEM;  // why there is no task, when there is none
};

bool TargetRegistered(const char* target) {
  DmTask t(DM_DEVICE_LIST_VERSIONS);
  if (!t.Run("list device-mapper targets").ok()) return false;
  const dm_versions* v = dm_task_get_versions(t.task);
  if (v == nullptr) return false;
  for (;;) {
    if (std::strcmp(v->name, target) == 0) return true;
    if (v->next == 0) return false;
    v = reinterpret_cast<const dm_versions*>(reinterpret_cast<const char*>(v) + v->next);
  }
}

Result<uint64_t> DeviceSectors(const std::string& dev) {
  int fd = ::open(dev.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::FromErrno("open " + dev);
  uint64_t bytes = 0;
  const int rc = ::ioctl(fd, BLKGETSIZE64, &bytes);
  Status s = rc == 0 ? Status{} : Status::FromErrno("BLKGETSIZE64 " + dev);
  ::close(fd);
  if (!s.ok()) return s;
  return bytes / 512;
}

}  // namespace

std::optional<std::string> DmLogWritesUnavailableReason() {
  if (::geteuid() != 0) return std::string("needs root (device-mapper)");
  if (::access(kControl, R_OK | W_OK) != 0)
    return std::string("no ") + kControl + " (kernel without device-mapper, or dm-mod not loaded)";
  if (TargetRegistered("log-writes")) return std::nullopt;
  // Targets are modules on most distributions; the kernel would load it at table load, but a clear
  // answer before any device is made is worth one modprobe.
  if (HaveProgram("modprobe")) (void)RunCommand({"modprobe", "dm-log-writes"}, 30);
  if (TargetRegistered("log-writes")) return std::nullopt;
  return std::string(
      "the kernel has no log-writes device-mapper target (CONFIG_DM_LOG_WRITES; modprobe dm-log-writes "
      "failed)");
}

Result<DmLogWrites> DmLogWrites::Create(const std::string& name, const std::string& data_device,
                                        const std::string& log_device) {
  if (name.size() >= DM_NAME_LEN) return Status(ENAMETOOLONG, "device-mapper name " + name);
  auto sectors = DeviceSectors(data_device);
  if (!sectors.ok()) return sectors.status();
  // With a table, DM_DEVICE_CREATE is create, load and resume in one; the library removes what it made
  // when a later step fails, and stacks the node of the resumed device, made by dm_task_update_nodes.
  const std::string params = data_device + " " + log_device;
  DmTask create(DM_DEVICE_CREATE, name);
  if (create.task && !dm_task_add_target(create.task, 0, *sectors, "log-writes", params.c_str()))
    return Status(ENOMEM, "log-writes table for " + name);
  Status s = create.Run("create log-writes " + params + " as " + name);
  dm_task_update_nodes();
  if (!s.ok()) return s;
  DmLogWrites dm;
  dm.name_ = name;  // from here on the destructor removes it
  dm.sectors_ = *sectors;
  dm.device_path_ = std::string(dm_dir()) + "/" + name;
  if (::access(dm.device_path_.c_str(), F_OK) != 0)
    return Status::FromErrno("device node " + dm.device_path_);
  return dm;
}

DmLogWrites& DmLogWrites::operator=(DmLogWrites&& o) noexcept {
  if (this != &o) {
    // Nobody to tell from here: a device that outlives this is named and removed by `longpin cleanup`.
    if (!name_.empty()) (void)Remove();
    name_ = std::move(o.name_);
    device_path_ = std::move(o.device_path_);
    sectors_ = o.sectors_;
    o.name_.clear();
  }
  return *this;
}

DmLogWrites::~DmLogWrites() {
  // A destructor cannot report: runs call Remove() and check it; this is the path of an early return, and a
  // device that outlives it is named and removed by `longpin cleanup`.
  if (!name_.empty()) (void)Remove();
}

Status DmLogWrites::Mark(const std::string& label) const {
  DmTask msg(DM_DEVICE_TARGET_MSG, name_);
  const std::string text = "mark " + label;
  if (msg.task && (!dm_task_set_sector(msg.task, 0) || !dm_task_set_message(msg.task, text.c_str())))
    return Status(ENOMEM, "log-writes mark " + label);
  return msg.Run("log-writes mark to " + name_);
}

Status DmLogWrites::Remove() {
  if (name_.empty()) return {};
  Status s = RemoveDmDevice(name_);
  if (s.ok() || s.err() == ENXIO) {
    name_.clear();
    s = {};
  }
  return s;
}

Status RemoveDmDevice(const std::string& name) {
  DmTask remove(DM_DEVICE_REMOVE, name);
  // EBUSY: an opener that is about to go (udev probing the new filesystem, a deferred close); the library
  // retries for about five seconds.
  if (remove.task) (void)dm_task_retry_remove(remove.task);
  Status s = remove.Run("remove device-mapper device " + name);
  dm_task_update_nodes();  // the node in /dev/mapper goes with the device
  return s;
}

std::vector<std::string> ListDmDevices() {
  std::vector<std::string> out;
  // Checked first: without device-mapper the library would try to make the control node itself.
  if (::access(kControl, R_OK | W_OK) != 0) return out;
  DmTask list(DM_DEVICE_LIST);
  if (!list.Run("list device-mapper devices").ok()) return out;
  const dm_names* n = dm_task_get_names(list.task);
  if (n == nullptr || n->dev == 0) return out;  // no devices
  for (;;) {
    out.emplace_back(n->name);
    if (n->next == 0) return out;
    n = reinterpret_cast<const dm_names*>(reinterpret_cast<const char*>(n) + n->next);
  }
}

namespace {

Status CreateSparse(const std::string& path, uint64_t bytes) {
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return Status::FromErrno("create image " + path);
  Status s = ::ftruncate(fd, off_t(bytes)) == 0 ? Status{} : Status::FromErrno("size image " + path);
  ::close(fd);
  if (!s.ok()) ::unlink(path.c_str());
  return s;
}

void DetachLoop(int* fd) {
  if (*fd < 0) return;
  ::ioctl(*fd, LOOP_CLR_FD, 0);
  ::close(*fd);
  *fd = -1;
}

uint64_t NowNs() {
  return uint64_t(std::chrono::duration_cast<std::chrono::nanoseconds>(
                      std::chrono::steady_clock::now().time_since_epoch())
                      .count());
}

}  // namespace

Result<std::unique_ptr<LogWritesStack>> LogWritesStack::Create(const std::string& dir,
                                                               const std::string& run_tag,
                                                               uint64_t data_bytes, uint64_t log_bytes) {
  if (auto why = DmLogWritesUnavailableReason())
    return Status(ENOTSUP, "dm-log-writes not available: " + *why);
  std::unique_ptr<LogWritesStack> st(new LogWritesStack);
  st->data_image_ = dir + "/data.img";
  st->log_image_ = dir + "/log.img";
  st->data_bytes_ = data_bytes;
  if (Status s = CreateSparse(st->data_image_, data_bytes); !s.ok()) return s;
  if (Status s = CreateSparse(st->log_image_, log_bytes); !s.ok()) return WithCleanupError(s, st->Remove());
  auto data = AttachLoop(st->data_image_, false);
  if (!data.ok()) return WithCleanupError(data.status(), st->Remove());
  st->data_loop_fd_ = data->first;
  auto log = AttachLoop(st->log_image_, false);
  if (!log.ok()) return WithCleanupError(log.status(), st->Remove());
  st->log_loop_fd_ = log->first;
  auto dm = DmLogWrites::Create(kDmNamePrefix + run_tag, data->second, log->second);
  if (!dm.ok()) return WithCleanupError(dm.status(), st->Remove());
  st->dm_ = std::move(*dm);
  return st;
}

void LogWritesStack::MarkSync(uint64_t sync_id) {
  const uint64_t t0 = NowNs();
  Status s = dm_.Mark(kSyncMarkPrefix + std::to_string(sync_id));
  const uint64_t ns = NowNs() - t0;
  if (!s.ok()) {
    if (mark_failures_.fetch_add(1) == 0) {
      std::lock_guard<std::mutex> lock(error_mu_);
      first_error_ = s.message();
    }
    return;
  }
  marks_.fetch_add(1);
  mark_ns_total_.fetch_add(ns);
  uint64_t prev = mark_ns_max_.load();
  while (ns > prev && !mark_ns_max_.compare_exchange_weak(prev, ns)) {
  }
}

std::string LogWritesStack::first_mark_error() const {
  std::lock_guard<std::mutex> lock(error_mu_);
  return first_error_;
}

Status LogWritesStack::Teardown() {
  Status s = dm_.Remove();
  DetachLoop(&data_loop_fd_);
  DetachLoop(&log_loop_fd_);
  return s;
}

Status LogWritesStack::Remove() {
  Status s = Teardown();
  if (!data_image_.empty()) ::unlink(data_image_.c_str());
  if (!log_image_.empty()) ::unlink(log_image_.c_str());
  return s;
}

void RemoveStaleLogWritesDevice(const std::string& run_dir, bool dry_run,
                                std::vector<CleanupAction>* actions) {
  const std::string dm_name = kDmNamePrefix + run_dir.substr(run_dir.rfind("/run-") + 5);
  for (const auto& name : ListDmDevices()) {
    if (name != dm_name) continue;
    if (dry_run) {
      actions->push_back({"would remove device-mapper device " + name});
      continue;
    }
    Status s = RemoveDmDevice(name);
    actions->push_back({s.ok() ? "removed device-mapper device " + name : s.message(), s.ok()});
  }
}

}  // namespace longpin
