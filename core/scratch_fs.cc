#include "core/scratch_fs.h"

#include <fcntl.h>
#include <linux/fs.h>
#include <linux/loop.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include "core/subprocess.h"

#ifndef FS_IOC_SHUTDOWN
#define FS_IOC_SHUTDOWN _IOR('X', 125, __u32)
#endif
#ifndef FS_SHUTDOWN_FLAGS_NOLOGFLUSH
#define FS_SHUTDOWN_FLAGS_NOLOGFLUSH 0x2
#endif

namespace longpin {
namespace {

const char* MkfsProgram(FsType t) {
  switch (t) {
    case FsType::kExt4: return "mkfs.ext4";
    case FsType::kXfs: return "mkfs.xfs";
    case FsType::kBtrfs: return "mkfs.btrfs";
    case FsType::kF2fs: return "mkfs.f2fs";
  }
  return "";
}
const char* MkfsPackage(FsType t) {
  switch (t) {
    case FsType::kExt4: return "e2fsprogs";
    case FsType::kXfs: return "xfsprogs";
    case FsType::kBtrfs: return "btrfs-progs";
    case FsType::kF2fs: return "f2fs-tools";
  }
  return "";
}
std::vector<std::string> MkfsArgv(FsType t, const std::string& image) {
  switch (t) {
    case FsType::kExt4: return {"mkfs.ext4", "-F", "-q", "-E", "nodiscard", image};
    case FsType::kXfs: return {"mkfs.xfs", "-f", "-q", "-K", image};
    case FsType::kBtrfs: return {"mkfs.btrfs", "-f", "-q", "-K", image};
    case FsType::kF2fs: return {"mkfs.f2fs", "-f", "-q", image};
  }
  return {};
}

bool KernelHasFs(const char* name) {
  std::ifstream f("/proc/filesystems");
  std::string line;
  while (std::getline(f, line)) {
    auto tab = line.rfind('\t');
    if (line.substr(tab == std::string::npos ? 0 : tab + 1) == name) return true;
  }
  return false;
}

}  // namespace

const char* FsTypeName(FsType t) {
  switch (t) {
    case FsType::kExt4: return "ext4";
    case FsType::kXfs: return "xfs";
    case FsType::kBtrfs: return "btrfs";
    case FsType::kF2fs: return "f2fs";
  }
  return "?";
}

std::optional<FsType> ParseFsType(const std::string& name) {
  for (FsType t : kAllFsTypes)
    if (name == FsTypeName(t)) return t;
  return std::nullopt;
}

std::optional<std::string> FsUnavailableReason(FsType t) {
  if (::geteuid() != 0) return std::string("needs root (loop device and mount)");
  if (!HaveProgram(MkfsProgram(t)))
    return std::string(MkfsProgram(t)) + " not found (install " + MkfsPackage(t) + ")";
  if (!KernelHasFs(FsTypeName(t))) {
    // A filesystem built as a module shows in /proc/filesystems only once loaded: load it, as mount(8) would.
    auto loaded = RunCommand({"modprobe", "-q", FsTypeName(t)}, 30.0);
    if (!KernelHasFs(FsTypeName(t)))
      return std::string("kernel has no ") + FsTypeName(t) + " (not in /proc/filesystems, and `modprobe " +
             FsTypeName(t) + "` " + (loaded.ok() && loaded->exit_code == 0 ? "loaded nothing" : "failed") +
             ")";
  }
  if (::access("/dev/loop-control", R_OK | W_OK) != 0) return std::string("no /dev/loop-control");
  return std::nullopt;
}

Status EnterPrivateMountNamespace() {
  if (::unshare(CLONE_NEWNS) != 0) return Status::FromErrno("unshare(CLONE_NEWNS)");
  // Slave, not private: our mounts stay invisible to the system, but an unmount on the host still reaches
  // this namespace, so a running longpin never holds a user's filesystem alive after it was unmounted there.
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_SLAVE, nullptr) != 0)
    return Status::FromErrno("make / a slave of the system's mounts in the new mount namespace");
  return {};
}

Result<std::pair<int, std::string>> AttachLoop(const std::string& image, bool read_only) {
  int backing = ::open(image.c_str(), (read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC);
  if (backing < 0) return Status::FromErrno("open image " + image);
  int ctl = ::open("/dev/loop-control", O_RDWR | O_CLOEXEC);
  if (ctl < 0) {
    Status s = Status::FromErrno("open /dev/loop-control");
    ::close(backing);
    return s;
  }
  Status last;
  for (int attempt = 0; attempt < 16; ++attempt) {
    int n = ::ioctl(ctl, LOOP_CTL_GET_FREE);
    if (n < 0) {
      last = Status::FromErrno("LOOP_CTL_GET_FREE");
      break;
    }
    std::string dev = "/dev/loop" + std::to_string(n);
    int lfd = ::open(dev.c_str(), (read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC);
    if (lfd < 0) {
      last = Status::FromErrno("open " + dev);
      continue;
    }
    loop_config cfg{};
    cfg.fd = uint32_t(backing);
    cfg.info.lo_flags = LO_FLAGS_AUTOCLEAR | (read_only ? LO_FLAGS_READ_ONLY : 0);
    std::strncpy(reinterpret_cast<char*>(cfg.info.lo_file_name), image.c_str(), LO_NAME_SIZE - 1);
    if (::ioctl(lfd, LOOP_CONFIGURE, &cfg) == 0) {
      ::close(ctl);
      ::close(backing);
      return std::make_pair(lfd, dev);
    }
    last = Status::FromErrno("LOOP_CONFIGURE " + dev);
    ::close(lfd);
    if (errno != EBUSY) break;  // another process took it between GET_FREE and CONFIGURE: retry
  }
  ::close(ctl);
  ::close(backing);
  return last;
}

Result<std::unique_ptr<ScratchFs>> ScratchFs::Create(const std::string& dir, FsType type,
                                                     uint64_t image_bytes, const std::string& mount_options) {
  if (auto why = FsUnavailableReason(type))
    return Status(ENOTSUP, std::string(FsTypeName(type)) + ": " + *why);
  std::unique_ptr<ScratchFs> fs(new ScratchFs);
  fs->dir_ = dir;
  fs->type_ = type;
  fs->image_path_ = dir + "/fs.img";
  fs->mount_point_ = dir + "/mnt";
  fs->mount_options_ = mount_options;
  int fd = ::open(fs->image_path_.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return Status::FromErrno("create image " + fs->image_path_);
  if (::ftruncate(fd, off_t(image_bytes)) != 0) {
    Status s = Status::FromErrno("size image " + fs->image_path_);
    ::close(fd);
    ::unlink(fs->image_path_.c_str());
    return s;
  }
  ::close(fd);
  auto mk = RunCommand(MkfsArgv(type, fs->image_path_), 300);
  if (!mk.ok() || mk->exit_code != 0) {
    ::unlink(fs->image_path_.c_str());
    return Status(EIO, std::string(MkfsProgram(type)) + " " + fs->image_path_ +
                           " failed: " + (mk.ok() ? LastLine(mk->output) : mk.status().message()));
  }
  auto loop = AttachLoop(fs->image_path_, false);
  if (!loop.ok()) {
    ::unlink(fs->image_path_.c_str());
    return loop.status();
  }
  fs->loop_fd_ = loop->first;
  fs->loop_device_ = loop->second;
  if (::mkdir(fs->mount_point_.c_str(), 0755) != 0 && errno != EEXIST) {
    Status s = Status::FromErrno("mkdir " + fs->mount_point_);
    return WithCleanupError(s, fs->Remove());
  }
  if (Status s = fs->Mount(); !s.ok()) return WithCleanupError(s, fs->Remove());
  return fs;
}

Result<std::unique_ptr<ScratchFs>> ScratchFs::CreateOnDevice(const std::string& device,
                                                             const std::string& mount_point, FsType type,
                                                             bool format, const std::string& mount_options,
                                                             const std::string& image_path) {
  if (auto why = FsUnavailableReason(type))
    return Status(ENOTSUP, std::string(FsTypeName(type)) + ": " + *why);
  std::unique_ptr<ScratchFs> fs(new ScratchFs);
  fs->type_ = type;
  fs->image_path_ = image_path;
  fs->owns_image_ = false;
  fs->mount_point_ = mount_point;
  fs->loop_device_ = device;
  fs->mount_options_ = mount_options;
  if (format) {
    auto mk = RunCommand(MkfsArgv(type, device), 300);
    if (!mk.ok() || mk->exit_code != 0)
      return Status(EIO, std::string(MkfsProgram(type)) + " " + device +
                             " failed: " + (mk.ok() ? LastLine(mk->output) : mk.status().message()));
  }
  if (::mkdir(mount_point.c_str(), 0755) != 0 && errno != EEXIST)
    return Status::FromErrno("mkdir " + mount_point);
  if (Status s = fs->Mount(); !s.ok()) {
    ::rmdir(mount_point.c_str());
    return s;
  }
  return fs;
}

ScratchFs::~ScratchFs() {
  // A destructor cannot report: runs call Remove() and check it. A mount this leaves lives in longpin's own
  // mount namespace and goes with it; the loop device autoclears when the last reference closes.
  if (mounted_) (void)Unmount();
  if (loop_fd_ >= 0) ::close(loop_fd_);
}

Status ScratchFs::Mount() {
  if (mounted_) return {};
  const char* data = mount_options_.empty() ? nullptr : mount_options_.c_str();
  if (::mount(loop_device_.c_str(), mount_point_.c_str(), FsTypeName(type_), 0, data) != 0)
    return Status::FromErrno(std::string("mount ") + FsTypeName(type_) + " " + loop_device_ + " on " +
                             mount_point_);
  mounted_ = true;
  return {};
}

Status ScratchFs::Unmount() {
  if (!mounted_) return {};
  // EBUSY right after threads closed their files can be a deferred fput: retry briefly.
  for (int i = 0; i < 50; ++i) {
    if (::umount2(mount_point_.c_str(), 0) == 0) {
      mounted_ = false;
      return {};
    }
    if (errno != EBUSY) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return Status::FromErrno("unmount " + mount_point_);
}

Status ScratchFs::Shutdown() {
  int fd = ::open(mount_point_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Status::FromErrno("open " + mount_point_ + " for shutdown");
  uint32_t flags = FS_SHUTDOWN_FLAGS_NOLOGFLUSH;
  int rc = ::ioctl(fd, FS_IOC_SHUTDOWN, &flags);
  Status s =
      rc == 0
          ? Status{}
          : Status::FromErrno(std::string("FS_IOC_SHUTDOWN on ") + FsTypeName(type_) + " " + mount_point_);
  ::close(fd);
  return s;
}

Status ScratchFs::Remove() {
  Status first = Unmount();
  if (!first.ok()) {
    // Lazy detach as a last resort: our own mount, in our own namespace.
    if (::umount2(mount_point_.c_str(), MNT_DETACH) == 0) mounted_ = false;
  }
  if (loop_fd_ >= 0) {
    ::ioctl(loop_fd_, LOOP_CLR_FD, 0);
    ::close(loop_fd_);
    loop_fd_ = -1;
  }
  ::rmdir(mount_point_.c_str());
  if (owns_image_ && ::unlink(image_path_.c_str()) != 0 && errno != ENOENT && first.ok())
    first = Status::FromErrno("remove image " + image_path_);
  return first;
}

}  // namespace longpin
