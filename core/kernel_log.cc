#include "core/kernel_log.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <regex>
#include <sstream>

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
        {KernelEventClass::kExpected,
         r("XFS \\([^)]+\\): (Log I/O error|Filesystem has been shut down|Please unmount)")},
        {KernelEventClass::kBug, r("kernel BUG at ")},
        {KernelEventClass::kBug, r("BUG: ")},
        {KernelEventClass::kOops, r("Oops")},
        {KernelEventClass::kHungTask, r("INFO: task .+:[0-9]+ blocked for more than [0-9]+ seconds")},
        {KernelEventClass::kDataRisk,
         r("EXT4-fs warning \\(device [^)]+\\): (ext4_writepage|mpage_prepare_extent_to_map):[0-9]+: .*does "
           "not have "
           "buffers attached")},
        {KernelEventClass::kDataRisk, r("Page cache invalidation failure on direct I/O")},
        {KernelEventClass::kWarning, r("WARNING: ")},
        {KernelEventClass::kFsError,
         r("EXT4-fs error|XFS \\(.*\\): Corruption|BTRFS (error|critical)|F2FS-fs .*error")},
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

std::string KernelEvent::TaskSuffix() const {
  if (pid == 0) return "";
  std::string s = " (PID " + std::to_string(pid);
  if (!comm.empty()) s += " " + comm;
  if (!origin.empty()) s += ", " + origin;
  return s + ")";
}

bool IsThisProcessOrChild(int pid) {
  if (pid <= 0) return false;
  if (pid == ::getpid()) return true;
  struct stat st {};
  if (::stat(("/proc/self/task/" + std::to_string(pid)).c_str(), &st) == 0) return true;
  // A child: field 4 of /proc/PID/stat is its parent (after the command name in parentheses).
  std::ifstream stat_file("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat_file)), std::istreambuf_iterator<char>());
  const auto close = text.rfind(')');
  if (close == std::string::npos) return false;
  std::istringstream rest(text.substr(close + 1));
  std::string state;
  int ppid = 0;
  rest >> state >> ppid;
  return ppid == ::getpid();
}

KernelLogParser::KernelLogParser(IsOurs is_ours) : is_ours_(is_ours) {}

void KernelLogParser::Attribute(KernelEvent& e, int pid, std::string comm) {
  e.pid = pid;
  e.comm = std::move(comm);
  e.origin = is_ours_(pid) ? "longpin" : "other process";
}

bool KernelLogParser::Feed(const std::string& record) {
  // "prio,seq,usec,flags;message\n continuation lines"
  const auto semi = record.find(';');
  if (semi == std::string::npos) return false;
  std::string msg = record.substr(semi + 1);
  if (auto nl = msg.find('\n'); nl != std::string::npos) msg.resize(nl);
  static const std::regex task_line("^CPU: [0-9]+ (UID: [0-9]+ )?PID: ([0-9]+) Comm: ([^ ]+)",
                                    std::regex::extended);
  static const std::regex pid_in_line("PID: ([0-9]+)", std::regex::extended);
  static const std::regex hung_task("task (.+):([0-9]+) blocked", std::regex::extended);
  std::smatch m;
  // The report of a WARNING/BUG/Oops names its task within a few records (after the "at file:line" or the
  // "Modules linked in" record).
  if (++records_since_event_ <= 8 && !events_.empty() && events_.back().comm.empty() &&
      std::regex_search(msg, m, task_line)) {
    Attribute(events_.back(), std::atoi(m[2].str().c_str()), m[3].str());
    records_since_event_ = 1 << 30;
    return true;
  }
  auto cls = ClassifyKernelLine(msg);
  if (!cls) return false;
  KernelEvent e;
  e.cls = *cls;
  e.line = msg;
  auto c1 = record.find(','), c2 = record.find(',', c1 + 1);
  if (c1 != std::string::npos && c2 != std::string::npos)
    e.usec = std::strtoull(record.c_str() + c2 + 1, nullptr, 10);
  // "EXT4-fs (loop3): ...", "EXT4-fs error (device loop3): ...", "XFS (dm-2): ...", "BTRFS info (device
  // sda1): ..."
  static const std::regex fs_device("^(EXT4-fs|XFS|BTRFS|F2FS-fs)[^(:]*\\((device )?([A-Za-z0-9_.-]+)\\)",
                                    std::regex::extended);
  if (std::regex_search(msg, m, fs_device)) e.device = m[3].str();
  if (std::regex_search(msg, m, hung_task)) {
    Attribute(e, std::atoi(m[2].str().c_str()), m[1].str());
  } else if (std::regex_search(msg, m, pid_in_line)) {
    // "WARNING: CPU: 1 PID: 4242 at ...": the pid now, the name when the task record comes.
    e.pid = std::atoi(m[1].str().c_str());
    e.origin = is_ours_(e.pid) ? "longpin" : "other process";
  }
  events_.push_back(std::move(e));
  records_since_event_ = 0;
  return true;
}

std::string KernelEvent::Label() const {
  return other_device ? "another device's" : KernelEventClassName(cls);
}

namespace {

std::string ReadLine(const std::string& path) {
  std::ifstream f(path);
  std::string line;
  std::getline(f, line);
  return line;
}

bool Under(const std::string& path, const std::string& dir) {
  if (dir.empty() || path.compare(0, dir.size(), dir) != 0) return false;
  return path.size() == dir.size() || path[dir.size()] == '/' || dir.back() == '/';
}

}  // namespace

std::optional<bool> DeviceOwnership::Owns(const std::string& device, const std::string& sysfs) const {
  if (std::find(devices.begin(), devices.end(), device) != devices.end()) return true;
  const std::string block = sysfs + "/class/block/" + device;
  struct stat st {};
  if (::stat(block.c_str(), &st) != 0) return std::nullopt;
  if (device.rfind("loop", 0) == 0) {
    std::string backing = ReadLine(block + "/loop/backing_file");
    if (backing.empty()) return std::nullopt;  // detached: cannot be told
    if (const auto tag = backing.rfind(" (deleted)"); tag != std::string::npos && tag + 10 == backing.size())
      backing.resize(tag);
    for (const auto& d : dirs)
      if (Under(backing, d)) return true;
    return false;
  }
  if (device.rfind("dm-", 0) == 0) {
    // A device-mapper target is the run's if what it maps is: its slaves, each told the same way.
    DIR* d = ::opendir((block + "/slaves").c_str());
    if (!d) return std::nullopt;
    std::optional<bool> verdict;
    while (dirent* e = ::readdir(d)) {
      if (e->d_name[0] == '.') continue;
      auto slave = Owns(e->d_name, sysfs);
      if (!slave || *slave) {
        verdict = slave;
        if (slave) break;
        continue;
      }
      if (!verdict) verdict = false;
    }
    ::closedir(d);
    return verdict;
  }
  return false;  // a disk or partition the run does not use
}

std::string BlockDeviceOf(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return "";
  char link[64];
  std::snprintf(link, sizeof link, "/sys/dev/block/%u:%u", major(st.st_dev), minor(st.st_dev));
  char target[4096];
  const ssize_t n = ::readlink(link, target, sizeof target - 1);
  if (n <= 0) return "";
  const std::string t(target, size_t(n));
  return t.substr(t.rfind('/') + 1);
}

KernelLogMonitor::KernelLogMonitor(DeviceOwnership own) : own_(std::move(own)) {
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
    if (!parser_.Feed(std::string(buf, size_t(n)))) continue;
    // Told now, while the device is still attached: a loop device autoclears when its run is done.
    auto& events = parser_.events();
    for (; told_ < events.size(); ++told_)
      if (!events[told_].device.empty())
        events[told_].other_device = own_.Owns(events[told_].device) == false;
    std::lock_guard<std::mutex> g(mu_);
    events_ = parser_.events();
  }
}

}  // namespace longpin
