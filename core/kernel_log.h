// Kernel log monitor: reads /dev/kmsg from the moment a run starts and keeps the lines that matter,
// classified (bug, warning, oops, hung task, filesystem error, pin-path warning). Expected lines (our own
// FS_IOC_SHUTDOWN's "shut down requested") are kept as "expected" and never fail a run.
#pragma once

#include <atomic>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/status.h"

namespace longpin {

enum class KernelEventClass { kBug, kWarning, kOops, kHungTask, kFsError, kDataRisk, kExpected };
const char* KernelEventClassName(KernelEventClass c);

struct KernelEvent {
  KernelEventClass cls = KernelEventClass::kExpected;
  std::string line;   // the message text (without the kmsg prefix)
  uint64_t usec = 0;  // kernel timestamp
  // The task the kernel named (the "PID: N ... Comm: X" of the report, or "task X:N" of a hung task); 0 and
  // empty when it named none. /dev/kmsg is system-wide: this says whether the event came from this run.
  int pid = 0;
  std::string comm;
  std::string origin;  // "longpin" (this process, a thread or a child of it), "other process", "" unknown
  // The block device a filesystem line names ("loop3" of "EXT4-fs (loop3): ..."), and whether it is shown to
  // be another's: a loop device over a file outside this run's directories, a dm device over such loops, a
  // disk the run does not use. Another device's line never fails the run and is never "expected" (another
  // run's shutdown is not ours); a device that cannot be told (already gone) counts as the run's own.
  std::string device;
  bool other_device = false;
  bool alarm() const { return cls != KernelEventClass::kExpected && !other_device; }
  // "another device's" or the class name: what the summary and the JSON call the line.
  std::string Label() const;
  // " (PID 4242 stress-ng, other process)", or "" when no task was named.
  std::string TaskSuffix() const;
};

// Classifies one kernel log message; nullopt = not interesting.
std::optional<KernelEventClass> ClassifyKernelLine(const std::string& msg);

// Turns /dev/kmsg records ("prio,seq,usec,flags;message") into events. A WARNING or BUG names its task in a
// record of its own a few records later ("CPU: 1 UID: 0 PID: 4242 Comm: stress-ng ..."): the parser attaches
// it to the event before. is_ours(pid) decides the origin; it is asked when the task is named, while the task
// still exists.
class KernelLogParser {
 public:
  using IsOurs = bool (*)(int pid);
  explicit KernelLogParser(IsOurs is_ours);
  // True when the record added an event or named the task of the last one.
  bool Feed(const std::string& record);
  std::vector<KernelEvent>& events() { return events_; }

 private:
  void Attribute(KernelEvent& e, int pid, std::string comm);
  IsOurs is_ours_;
  std::vector<KernelEvent> events_;
  int records_since_event_ = 1 << 30;  // how far back the last event without a task is
};

// Whether pid is this process, one of its threads, or a child of it (the helpers some pinners start).
bool IsThisProcessOrChild(int pid);

// What a run owns, for telling its devices from other runs': the directories its images live in (a loop
// device over a file there is the run's) and the devices it uses directly (the filesystem of a --target).
struct DeviceOwnership {
  std::vector<std::string> dirs;
  std::vector<std::string> devices;  // kernel names: "sda1", "nvme0n1p2"
  // true: the run's; false: shown to be another's; nullopt: cannot be told (gone, or not a block device).
  // sysfs is the root of /sys (tests point it elsewhere).
  std::optional<bool> Owns(const std::string& device, const std::string& sysfs = "/sys") const;
};
// The kernel's name of the block device that holds path ("sda1" for a file on /dev/sda1); "" when none.
std::string BlockDeviceOf(const std::string& path);

class KernelLogMonitor {
 public:
  // Starts reading at the current end of /dev/kmsg. unavailable_reason() says why nothing can be read.
  // A filesystem line's device is told the run's or another's when the line is read, while it still exists.
  explicit KernelLogMonitor(DeviceOwnership own = {});
  ~KernelLogMonitor();
  void Stop();
  const std::optional<std::string>& unavailable_reason() const { return unavailable_; }
  std::vector<KernelEvent> Events() const;  // may be called while running

 private:
  void Loop();
  KernelLogParser parser_{IsThisProcessOrChild};  // only the monitor thread touches it
  DeviceOwnership own_;
  size_t told_ = 0;  // events whose device was told the run's or another's (monitor thread only)
  int fd_ = -1;
  std::optional<std::string> unavailable_;
  std::atomic<bool> stop_{false};
  mutable std::mutex mu_;  // guards events_ (the monitor thread is the only writer; not a hot path)
  std::vector<KernelEvent> events_;
  std::thread thread_;
};

}  // namespace longpin
