#include "crash/dm_log_writes.h"

#include <fcntl.h>
#include <linux/dm-ioctl.h>
#include <linux/fs.h>
#include <linux/loop.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <thread>

#include "core/scratch_fs.h"
#include "core/subprocess.h"

namespace longpin {
namespace {

constexpr const char* kControl = "/dev/mapper/control";
constexpr size_t kIoctlBuffer = 16384;

// One ioctl buffer: struct dm_ioctl followed by its payload, 8-byte aligned as the kernel expects.
struct DmBuffer {
  alignas(8) char bytes[kIoctlBuffer];
  dm_ioctl* io() { return reinterpret_cast<dm_ioctl*>(bytes); }
  char* payload() { return bytes + sizeof(dm_ioctl); }
};

void InitIoctl(DmBuffer& b, const std::string& name) {
  std::memset(b.bytes, 0, sizeof(dm_ioctl));
  dm_ioctl* io = b.io();
  // Version 4.0.0: any kernel with the v4 interface accepts it (the kernel refuses a newer minor than its own).
  io->version[0] = DM_VERSION_MAJOR;
  io->data_size = kIoctlBuffer;
  io->data_start = sizeof(dm_ioctl);
  std::strncpy(io->name, name.c_str(), DM_NAME_LEN - 1);
}

Status DmCall(unsigned long request, DmBuffer& b, const std::string& op, const std::string& name) {
  int fd = ::open(kControl, O_RDWR | O_CLOEXEC);
  if (fd < 0) return Status::FromErrno(std::string("open ") + kControl);
  const int rc = ::ioctl(fd, request, b.io());
  const int err = errno;
  ::close(fd);
  if (rc != 0) return Status(err, op + " " + name);
  return {};
}

bool TargetRegistered(const char* target) {
  DmBuffer b;
  InitIoctl(b, "");
  if (!DmCall(DM_LIST_VERSIONS, b, "DM_LIST_VERSIONS", "").ok()) return false;
  const dm_ioctl* io = b.io();
  if (io->data_size <= io->data_start) return false;
  size_t off = io->data_start;
  while (off + sizeof(dm_target_versions) < kIoctlBuffer) {
    const auto* v = reinterpret_cast<const dm_target_versions*>(b.bytes + off);
    if (std::strcmp(v->name, target) == 0) return true;
    if (v->next == 0) break;
    off += v->next;
  }
  return false;
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
  return std::string("the kernel has no log-writes device-mapper target (CONFIG_DM_LOG_WRITES; modprobe dm-log-writes failed)");
}

Result<DmLogWrites> DmLogWrites::Create(const std::string& name, const std::string& data_device,
                                        const std::string& log_device, const std::string& node_dir) {
  if (name.size() >= DM_NAME_LEN) return Status(ENAMETOOLONG, "device-mapper name " + name);
  auto sectors = DeviceSectors(data_device);
  if (!sectors.ok()) return sectors.status();
  DmLogWrites dm;
  DmBuffer b;
  InitIoctl(b, name);
  if (Status s = DmCall(DM_DEV_CREATE, b, "DM_DEV_CREATE", name); !s.ok()) return s;
  dm.name_ = name;  // from here on the destructor removes it
  const dev_t dev = dev_t(b.io()->dev);
  dm.sectors_ = *sectors;

  InitIoctl(b, name);
  b.io()->target_count = 1;
  auto* spec = reinterpret_cast<dm_target_spec*>(b.payload());
  std::memset(spec, 0, sizeof *spec);
  spec->sector_start = 0;
  spec->length = *sectors;
  std::strncpy(spec->target_type, "log-writes", DM_MAX_TYPE_NAME - 1);
  const std::string params = data_device + " " + log_device;
  char* p = b.payload() + sizeof(dm_target_spec);
  if (sizeof(dm_ioctl) + sizeof(dm_target_spec) + params.size() + 8 > kIoctlBuffer)
    return Status(ENAMETOOLONG, "log-writes table for " + name);
  std::memcpy(p, params.c_str(), params.size() + 1);
  spec->next = uint32_t((sizeof(dm_target_spec) + params.size() + 1 + 7) & ~size_t(7));
  if (Status s = DmCall(DM_TABLE_LOAD, b, "DM_TABLE_LOAD log-writes " + params + " for", name); !s.ok()) return s;
  InitIoctl(b, name);  // flags 0: resume, which makes the loaded table live
  if (Status s = DmCall(DM_DEV_SUSPEND, b, "DM_DEV_SUSPEND (resume)", name); !s.ok()) return s;

  // devtmpfs names it dm-MINOR; without devtmpfs (or before its node appears) a node of our own serves.
  const std::string dev_node = "/dev/dm-" + std::to_string(minor(dev));
  for (int i = 0; i < 20; ++i) {
    struct stat st {};
    if (::stat(dev_node.c_str(), &st) == 0 && S_ISBLK(st.st_mode) && st.st_rdev == dev) {
      dm.device_path_ = dev_node;
      return dm;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  dm.own_node_ = node_dir + "/" + name + ".dev";
  ::unlink(dm.own_node_.c_str());
  if (::mknod(dm.own_node_.c_str(), S_IFBLK | 0600, dev) != 0) {
    Status s = Status::FromErrno("mknod " + dm.own_node_);
    dm.own_node_.clear();
    return s;
  }
  dm.device_path_ = dm.own_node_;
  return dm;
}

DmLogWrites& DmLogWrites::operator=(DmLogWrites&& o) noexcept {
  if (this != &o) {
    // Nobody to tell from here: a device that outlives this is named and removed by `longpin cleanup`.
    if (!name_.empty()) (void)Remove();
    name_ = std::move(o.name_);
    device_path_ = std::move(o.device_path_);
    own_node_ = std::move(o.own_node_);
    sectors_ = o.sectors_;
    o.name_.clear();
    o.own_node_.clear();
  }
  return *this;
}

DmLogWrites::~DmLogWrites() {
  // A destructor cannot report: runs call Remove() and check it; this is the path of an early return, and a
  // device that outlives it is named and removed by `longpin cleanup`.
  if (!name_.empty()) (void)Remove();
}

Status DmLogWrites::Mark(const std::string& label) const {
  DmBuffer b;
  InitIoctl(b, name_);
  auto* msg = reinterpret_cast<dm_target_msg*>(b.payload());
  msg->sector = 0;
  const std::string text = "mark " + label;
  if (sizeof(dm_ioctl) + sizeof(dm_target_msg) + text.size() + 1 > kIoctlBuffer)
    return Status(ENAMETOOLONG, "log-writes mark " + label);
  std::memcpy(msg->message, text.c_str(), text.size() + 1);
  return DmCall(DM_TARGET_MSG, b, "DM_TARGET_MSG mark to", name_);
}

Status DmLogWrites::Remove() {
  if (name_.empty()) return {};
  Status s = RemoveDmDevice(name_);
  if (s.ok() || s.err() == ENXIO) {
    name_.clear();
    s = {};
  }
  if (!own_node_.empty()) {
    ::unlink(own_node_.c_str());
    own_node_.clear();
  }
  return s;
}

Status RemoveDmDevice(const std::string& name) {
  Status s;
  // EBUSY: an opener that is about to go (udev probing the new filesystem, a deferred close).
  for (int i = 0; i < 50; ++i) {
    DmBuffer b;
    InitIoctl(b, name);
    s = DmCall(DM_DEV_REMOVE, b, "DM_DEV_REMOVE", name);
    if (s.ok() || s.err() != EBUSY) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return s;
}

std::vector<std::string> ListDmDevices() {
  std::vector<std::string> out;
  if (::access(kControl, R_OK | W_OK) != 0) return out;
  DmBuffer b;
  InitIoctl(b, "");
  if (!DmCall(DM_LIST_DEVICES, b, "DM_LIST_DEVICES", "").ok()) return out;
  const dm_ioctl* io = b.io();
  if (io->data_size <= io->data_start) return out;
  size_t off = io->data_start;
  while (off + sizeof(dm_name_list) < kIoctlBuffer) {
    const auto* n = reinterpret_cast<const dm_name_list*>(b.bytes + off);
    if (n->dev == 0 && n->name[0] == 0) break;  // no devices
    out.emplace_back(n->name);
    if (n->next == 0) break;
    off += n->next;
  }
  return out;
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
  auto dm = DmLogWrites::Create(kDmNamePrefix + run_tag, data->second, log->second, dir);
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

void RemoveStaleLogWritesDevice(const std::string& run_dir, bool dry_run, std::vector<CleanupAction>* actions) {
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
