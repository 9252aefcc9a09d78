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
  KernelEventClass cls;
  std::string line;       // the message text (without the kmsg prefix)
  uint64_t usec = 0;      // kernel timestamp
  bool alarm() const { return cls != KernelEventClass::kExpected; }
};

// Classifies one kernel log message; nullopt = not interesting.
std::optional<KernelEventClass> ClassifyKernelLine(const std::string& msg);

class KernelLogMonitor {
 public:
  // Starts reading at the current end of /dev/kmsg. unavailable_reason() says why nothing can be read.
  KernelLogMonitor();
  ~KernelLogMonitor();
  void Stop();
  const std::optional<std::string>& unavailable_reason() const { return unavailable_; }
  std::vector<KernelEvent> Events() const;  // may be called while running

 private:
  void Loop();
  int fd_ = -1;
  std::optional<std::string> unavailable_;
  std::atomic<bool> stop_{false};
  mutable std::mutex mu_;  // guards events_ (the monitor thread is the only writer; not a hot path)
  std::vector<KernelEvent> events_;
  std::thread thread_;
};

}  // namespace longpin
