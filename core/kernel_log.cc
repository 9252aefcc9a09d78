#include "core/kernel_log.h"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <regex>

namespace longpin {
namespace {

struct Pattern {
  KernelEventClass cls;
  std::regex re;
};

const std::vector<Pattern>& Patterns() {
  // Order matters: the first match wins (expected lines before alarms). Taken from shared/KERNEL_NOTES.md.
  static const std::vector<Pattern> patterns = [] {
    auto r = [](const char* s) { return std::regex(s, std::regex::extended | std::regex::optimize); };
    return std::vector<Pattern>{
        {KernelEventClass::kExpected, r("EXT4-fs \\([^)]+\\): shut down requested")},
        {KernelEventClass::kExpected, r("XFS \\([^)]+\\): User initiated shutdown")},
        {KernelEventClass::kExpected, r("XFS \\([^)]+\\): (Log I/O error|Filesystem has been shut down|Please unmount)")},
        {KernelEventClass::kBug, r("kernel BUG at ")},
        {KernelEventClass::kBug, r("BUG: ")},
        {KernelEventClass::kOops, r("Oops")},
        {KernelEventClass::kHungTask, r("INFO: task .+:[0-9]+ blocked for more than [0-9]+ seconds")},
        {KernelEventClass::kDataRisk,
         r("EXT4-fs warning \\(device [^)]+\\): (ext4_writepage|mpage_prepare_extent_to_map):[0-9]+: .*does not have "
           "buffers attached")},
        {KernelEventClass::kDataRisk,
         r("Page cache invalidation failure on direct I/O")},
        {KernelEventClass::kWarning, r("WARNING: ")},
        {KernelEventClass::kFsError, r("EXT4-fs error|XFS \\(.*\\): Corruption|BTRFS (error|critical)|F2FS-fs .*error")},
    };
  }();
  return patterns;
}

}  // namespace

const char* KernelEventClassName(KernelEventClass c) {
  switch (c) {
    case KernelEventClass::kBug: return "bug";
    case KernelEventClass::kWarning: return "warning";
    case KernelEventClass::kOops: return "oops";
    case KernelEventClass::kHungTask: return "hung_task";
    case KernelEventClass::kFsError: return "fs_error";
    case KernelEventClass::kDataRisk: return "data_risk";
    case KernelEventClass::kExpected: return "expected";
  }
  return "?";
}

std::optional<KernelEventClass> ClassifyKernelLine(const std::string& msg) {
  for (const auto& p : Patterns())
    if (std::regex_search(msg, p.re)) return p.cls;
  return std::nullopt;
}

KernelLogMonitor::KernelLogMonitor() {
  fd_ = ::open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd_ < 0) {
    unavailable_ = Status::FromErrno("open /dev/kmsg").message();
    return;
  }
  ::lseek(fd_, 0, SEEK_END);
  thread_ = std::thread([this] { Loop(); });
}

KernelLogMonitor::~KernelLogMonitor() {
  Stop();
  if (fd_ >= 0) ::close(fd_);
}

void KernelLogMonitor::Stop() {
  if (thread_.joinable()) {
    stop_.store(true);
    thread_.join();
  }
}

std::vector<KernelEvent> KernelLogMonitor::Events() const {
  std::lock_guard<std::mutex> g(mu_);
  return events_;
}

void KernelLogMonitor::Loop() {
  char buf[8192];
  bool draining = false;
  for (;;) {
    ssize_t n = ::read(fd_, buf, sizeof buf - 1);
    if (n < 0) {
      if (errno == EPIPE) continue;  // overwritten records: skip ahead
      if (errno != EAGAIN) break;
      // Drain once more after stop so lines logged just before the end are seen.
      if (stop_.load()) {
        if (draining) break;
        draining = true;
        continue;
      }
      pollfd p{fd_, POLLIN, 0};
      ::poll(&p, 1, 100);
      continue;
    }
    buf[n] = 0;
    // "prio,seq,usec,flags;message\n continuation lines"
    std::string rec(buf, size_t(n));
    auto semi = rec.find(';');
    if (semi == std::string::npos) continue;
    std::string msg = rec.substr(semi + 1);
    if (auto nl = msg.find('\n'); nl != std::string::npos) msg.resize(nl);
    auto cls = ClassifyKernelLine(msg);
    if (!cls) continue;
    uint64_t usec = 0;
    auto c1 = rec.find(','), c2 = rec.find(',', c1 + 1);
    if (c1 != std::string::npos && c2 != std::string::npos) usec = std::strtoull(rec.c_str() + c2 + 1, nullptr, 10);
    std::lock_guard<std::mutex> g(mu_);
    events_.push_back({*cls, msg, usec});
  }
}

}  // namespace longpin
