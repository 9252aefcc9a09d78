// Scratch filesystems: a sparse image file made by longpin, formatted with mkfs, attached to a loop device
// with autoclear, mounted on a directory longpin made. Only what this object created is ever unmounted,
// shut down or deleted.
//
// Why autoclear plus a held loop fd: the loop device stays attached across the unmount/remount of a crash
// cycle (we hold it), and detaches by itself once the last user is gone, including when longpin is killed
// and its private mount namespace (see EnterPrivateMountNamespace) takes the mount with it.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"

namespace longpin {

enum class FsType { kExt4, kXfs, kBtrfs, kF2fs };
inline constexpr FsType kAllFsTypes[] = {FsType::kExt4, FsType::kXfs, FsType::kBtrfs, FsType::kF2fs};
const char* FsTypeName(FsType t);
std::optional<FsType> ParseFsType(const std::string& name);

// Why a filesystem cannot be used here (no mkfs, not in /proc/filesystems, not root); nullopt = usable.
std::optional<std::string> FsUnavailableReason(FsType t);

// Puts the process in its own mount namespace with slave propagation, so its mounts are invisible to the
// system and vanish when it dies, while the system's unmounts still reach it. Must be called before any
// thread is started.
Status EnterPrivateMountNamespace();

class ScratchFs {
 public:
  // dir: a directory longpin created for this run; the image is dir/fs.img and the mount point dir/mnt.
  static Result<std::unique_ptr<ScratchFs>> Create(const std::string& dir, FsType type, uint64_t image_bytes,
                                                   const std::string& mount_options);
  // Formats (format = true) and mounts a block device someone else prepared and owns (a dm-log-writes
  // device, the loop device of a replayed crash state) on mount_point, made if missing. Remove() unmounts and
  // removes the mount point only: the device and image_path (the file holding the device's bytes, where the
  // self-test plants faults; may be "") stay with their owner.
  static Result<std::unique_ptr<ScratchFs>> CreateOnDevice(const std::string& device,
                                                           const std::string& mount_point, FsType type,
                                                           bool format, const std::string& mount_options,
                                                           const std::string& image_path = "");
  ~ScratchFs();  // unmounts and detaches (the image file stays: Remove() or keep it)
  ScratchFs(const ScratchFs&) = delete;
  ScratchFs& operator=(const ScratchFs&) = delete;

  const std::string& mount_point() const { return mount_point_; }
  const std::string& image_path() const { return image_path_; }
  const std::string& loop_device() const { return loop_device_; }
  FsType type() const { return type_; }
  bool mounted() const { return mounted_; }

  // FS_IOC_SHUTDOWN with the no-log-flush flag: the crash point. ENOTTY/EOPNOTSUPP = not supported.
  Status Shutdown();
  Status Unmount();
  Status Mount();
  // Unmounts, detaches and deletes the image and the mount point.
  Status Remove();

 private:
  ScratchFs() = default;
  std::string dir_, image_path_, mount_point_, loop_device_, mount_options_;
  FsType type_ = FsType::kExt4;
  int loop_fd_ = -1;
  bool mounted_ = false;
  bool owns_image_ = true;  // false: CreateOnDevice, the image belongs to the device's owner
};

// Attaches a loop device to image (autoclear). Returns the open loop fd and the device path.
Result<std::pair<int, std::string>> AttachLoop(const std::string& image, bool read_only);

}  // namespace longpin
