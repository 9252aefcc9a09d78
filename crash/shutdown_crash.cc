#include <fcntl.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>

#include "crash/crash_model.h"

namespace longpin {

namespace {

constexpr unsigned long kFsIocShutdown = _IOR('X', 125, uint32_t);
constexpr uint32_t kShutdownNoLogFlush = 2;  // FS_SHUTDOWN_FLAGS_NOLOGFLUSH

double SecondsSince(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// The user named this mount point with --allow-shutdown-of (checked by the option parser: a mount point,
// not the root filesystem, holding the target).
Status ShutdownUserFilesystem(const std::string& mount_point) {
  int fd = ::open(mount_point.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Status::FromErrno("open " + mount_point + " for shutdown");
  uint32_t flags = kShutdownNoLogFlush;
  Status s = ::ioctl(fd, kFsIocShutdown, &flags) == 0
                 ? Status{}
                 : Status::FromErrno("FS_IOC_SHUTDOWN of " + mount_point);
  ::close(fd);
  return s;
}

}  // namespace

// Probes without shutting down: an unknown flag is EINVAL where FS_IOC_SHUTDOWN exists.
bool SupportsFsShutdown(const std::string& mount_point) {
  const int dfd = ::open(mount_point.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) return false;
  uint32_t bad_flags = 0x7f;
  const bool supported = ::ioctl(dfd, kFsIocShutdown, &bad_flags) != 0 && errno == EINVAL;
  ::close(dfd);
  return supported;
}

namespace {

// FS_IOC_SHUTDOWN without flushing the filesystem's log at the crash point: what was not durable is lost
// as in a crash, and the next mount recovers from the log. On the scratch filesystem the run unmounts and
// mounts it and verifies at once; on the user's (--allow-shutdown-of) only the user may, and the check is
// `longpin verify` after that.
class ShutdownCrash final : public CrashModel {
 public:
  explicit ShutdownCrash(const CrashModelOptions& o)
      : user_mount_point_(o.user_mount_point), state_dir_(o.state_dir) {}
  CrashKind kind() const override { return CrashKind::kShutdown; }
  bool durable_state() const override { return !user_mount_point_.empty(); }
  bool fires() const override { return true; }

  Status Prepare(ScratchFs& scratch, const std::string& fs_name) override {
    if (!SupportsFsShutdown(scratch.mount_point()))
      return Status(ENOTSUP, "--crash shutdown: " + fs_name + " on this kernel has no FS_IOC_SHUTDOWN");
    return {};
  }

  Status Fire(ScratchFs* scratch) override {
    return scratch ? scratch->Shutdown() : ShutdownUserFilesystem(user_mount_point_);
  }

  void Recover(ScratchFs* scratch, RunReport& report) override {
    if (!scratch) {
      RaiseVerdict(report, Verdict::kPending,
                   "the filesystem at " + user_mount_point_ +
                       " is shut down: unmount and mount it, then run "
                       "`longpin verify --state-dir " +
                       state_dir_ + "`");
      return;
    }
    auto u0 = std::chrono::steady_clock::now();
    Status s = scratch->Unmount();
    report.crash->unmount_s = SecondsSince(u0);
    if (s.ok()) {
      auto m0 = std::chrono::steady_clock::now();
      s = scratch->Mount();
      report.crash->mount_s = SecondsSince(m0);
    }
    if (!s.ok()) RaiseVerdict(report, Verdict::kError, "crash cycle: " + s.message());
  }

 private:
  std::string user_mount_point_, state_dir_;
};

}  // namespace

std::unique_ptr<CrashModel> MakeShutdownCrash(const CrashModelOptions& options) {
  return std::make_unique<ShutdownCrash>(options);
}

}  // namespace longpin
