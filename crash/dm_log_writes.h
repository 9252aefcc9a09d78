// A dm-log-writes device (drivers/md/dm-log-writes.c): every write that reaches the data device is also
// appended, in the order it became durable, to a log device, and userspace can put marks into that log. The
// crash model "log-writes" replays the log to each mark: every state a power cut at that point may leave.
//
// Driven through libdevmapper, not dmsetup: a mark after every sync must cost one ioctl, not a process start.
// udev is not asked to do anything (a test guest has none): the library makes and removes the device's node
// in /dev/mapper itself.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/run_directory.h"
#include "core/status.h"

namespace longpin {

// Prefix of every device this file creates: `longpin cleanup` removes stale ones by it.
inline constexpr const char* kDmNamePrefix = "longpin-";

// Why dm-log-writes cannot be used here (no device-mapper, target missing, not root); nullopt = usable.
std::optional<std::string> DmLogWritesUnavailableReason();

class DmLogWrites {
 public:
  // Creates and activates "NAME: 0 SECTORS log-writes DATA LOG" (SECTORS: the data device's size); its node
  // is /dev/mapper/NAME once this returns.
  static Result<DmLogWrites> Create(const std::string& name, const std::string& data_device,
                                    const std::string& log_device);
  DmLogWrites() = default;
  DmLogWrites(DmLogWrites&& o) noexcept { *this = std::move(o); }
  DmLogWrites& operator=(DmLogWrites&& o) noexcept;
  DmLogWrites(const DmLogWrites&) = delete;
  DmLogWrites& operator=(const DmLogWrites&) = delete;
  ~DmLogWrites();  // removes the device if Remove() was not called

  const std::string& name() const { return name_; }
  const std::string& device_path() const { return device_path_; }  // the block device to mkfs and mount
  uint64_t sectors() const { return sectors_; }

  // Appends a mark to the log (the target message "mark LABEL"). Thread-safe once Create has returned (the
  // library's control descriptor is open by then): one ioctl, no process. The kernel cuts a label at its
  // sector size minus 33 bytes.
  Status Mark(const std::string& label) const;
  // Removes the device. The target's destructor logs everything still unflushed and a final mark
  // "dm-log-writes-end", so the log is complete once this returns. Retries for a few seconds while something
  // (udev's blkid, a deferred close) still holds the device open.
  Status Remove();

 private:
  std::string name_, device_path_;
  uint64_t sectors_ = 0;
};

// The device stack of the log-writes crash model: sparse data and log images in a run directory, a loop
// device on each, and the dm-log-writes device over them, named kDmNamePrefix + an id of the run.
class LogWritesStack {
 public:
  // The log image is sparse and large (it holds every write of the run plus one sector per entry): a full
  // log device silently stops logging, which the replay then reports as an incomplete log.
  static Result<std::unique_ptr<LogWritesStack>> Create(const std::string& dir, const std::string& run_tag,
                                                        uint64_t data_bytes, uint64_t log_bytes);
  // A destructor cannot report: runs call Teardown() or Remove() and check it; this is the path of an early
  // return, and what outlives it (the dm device; loop devices autoclear) is removed by `longpin cleanup`.
  ~LogWritesStack() { (void)Teardown(); }

  const std::string& device() const { return dm_.device_path(); }
  const std::string& dm_name() const { return dm_.name(); }
  const std::string& data_image() const { return data_image_; }
  const std::string& log_image() const { return log_image_; }
  uint64_t data_bytes() const { return data_bytes_; }

  // The mark after a successful sync: label kSyncMarkPrefix + sync id. Thread-safe; failures are counted
  // (the replay then has fewer states to check, and says so).
  void MarkSync(uint64_t sync_id);
  static constexpr const char* kSyncMarkPrefix = "longpin-sync-";
  uint64_t marks_placed() const { return marks_.load(); }
  uint64_t mark_failures() const { return mark_failures_.load(); }
  double mark_seconds_max() const { return double(mark_ns_max_.load()) / 1e9; }
  double mark_seconds_mean() const {
    return marks_ ? double(mark_ns_total_.load()) / 1e9 / double(marks_.load()) : 0;
  }
  std::string first_mark_error() const;

  // Removes the dm device (which completes the log) and detaches both loop devices; the images stay.
  Status Teardown();
  // Teardown, then deletes both images.
  Status Remove();

 private:
  LogWritesStack() = default;
  std::string data_image_, log_image_;
  uint64_t data_bytes_ = 0;
  int data_loop_fd_ = -1, log_loop_fd_ = -1;
  DmLogWrites dm_;
  std::atomic<uint64_t> marks_{0}, mark_failures_{0}, mark_ns_total_{0}, mark_ns_max_{0};
  mutable std::mutex error_mu_;  // guards first_error_ (written once, on the first failed mark)
  std::string first_error_;
};

// Removes a device-mapper device by name (cleanup of a killed run). ENXIO: no such device.
Status RemoveDmDevice(const std::string& name);
// Names of the device-mapper devices that exist now (empty when device-mapper is absent).
std::vector<std::string> ListDmDevices();
// `longpin cleanup`: the dm-log-writes device of a dead run (longpin-<id> for run-<id>) outlives it and holds
// its loop devices; removing it lets them go.
void RemoveStaleLogWritesDevice(const std::string& run_dir, bool dry_run,
                                std::vector<CleanupAction>* actions);

}  // namespace longpin
