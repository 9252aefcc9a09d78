#include "core/writeback_trace.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <ctime>

#include "core/status.h"

namespace longpin {
namespace {

constexpr std::string_view kWaitedEvent = "folio_wait_writeback";
constexpr std::string_view kInstancePrefix = "longpin-";
// The trace's timestamps are printed in microseconds, cut down: an event at the very start of a call may
// print up to a microsecond before the call's own clock reading.
constexpr uint64_t kTimestampSlackNs = 2000;

bool IsDir(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

Status WriteText(const std::string& path, std::string_view text, int extra_flags = O_TRUNC) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC | extra_flags);
  if (fd < 0) return Status::FromErrno("open " + path);
  ssize_t n = ::write(fd, text.data(), text.size());
  Status s = n == ssize_t(text.size()) ? Status{} : Status::FromErrno("write " + path);
  ::close(fd);
  return s;
}

std::string ReadText(const std::string& path) {
  std::string out;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return out;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) break;
    out.append(buf, size_t(n));
  }
  ::close(fd);
  return out;
}

// The tracefs mount point, or why there is none. Mounting it is done only inside longpin's own mount
// namespace, where the mount is invisible to the system and goes away with the process.
std::optional<std::string> FindTracefs(bool may_mount, std::string* why) {
  for (const char* dir : {"/sys/kernel/tracing", "/sys/kernel/debug/tracing"})
    if (IsDir(std::string(dir) + "/events")) return std::string(dir);
  if (!may_mount) {
    *why = "tracefs is not mounted (/sys/kernel/tracing)";
    return std::nullopt;
  }
  if (::mount("nodev", "/sys/kernel/tracing", "tracefs", 0, nullptr) != 0) {
    *why = std::string("tracefs is not mounted and mounting it failed: ") + std::string(ErrnoName(errno));
    return std::nullopt;
  }
  if (IsDir("/sys/kernel/tracing/events")) return std::string("/sys/kernel/tracing");
  *why = "tracefs mounted without events";
  return std::nullopt;
}

// Instances of runs that are gone (killed before their destructor ran) still hold ring buffers: remove them.
void RemoveStaleInstances(const std::string& instances) {
  DIR* d = ::opendir(instances.c_str());
  if (!d) return;
  while (dirent* e = ::readdir(d)) {
    std::string_view name = e->d_name;
    if (name.substr(0, kInstancePrefix.size()) != kInstancePrefix) continue;
    int pid = 0;
    auto digits = name.substr(kInstancePrefix.size());
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), pid);
    if (ec != std::errc() || end != digits.data() + digits.size() || pid <= 0) continue;
    if (::kill(pid, 0) != 0 && errno == ESRCH) ::rmdir((instances + "/" + std::string(name)).c_str());
  }
  ::closedir(d);
}

bool ParseUnsigned(std::string_view text, uint64_t* out, int base = 10) {
  if (base == 16 && text.substr(0, 2) == "0x") text.remove_prefix(2);
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *out, base);
  return ec == std::errc() && end != text.data();
}

// The number after " key " in an event's printed fields.
std::optional<uint64_t> FieldValue(std::string_view fields, std::string_view key, bool hex) {
  for (size_t at = fields.find(key); at != std::string_view::npos; at = fields.find(key, at + 1)) {
    const bool starts = at == 0 || fields[at - 1] == ' ';
    const size_t after = at + key.size();
    if (!starts || after >= fields.size() || (fields[after] != ' ' && fields[after] != '=')) continue;
    uint64_t v = 0;
    if (ParseUnsigned(fields.substr(after + 1), &v, hex ? 16 : 10)) return v;
  }
  return std::nullopt;
}

}  // namespace

std::optional<WrittenEvent> WrittenEventFor(std::string_view fs_type) {
  if (fs_type == "ext4") return WrittenEvent{"ext4", "ext4_writepages_result", "pages_written", false};
  if (fs_type == "xfs") return WrittenEvent{"iomap", "iomap_writeback_folio", "length", true};
  return std::nullopt;
}

std::optional<TraceEvent> ParseTraceLine(std::string_view line, const WrittenEvent& written,
                                         uint64_t page_size) {
  if (line.empty() || line[0] == '#') return std::nullopt;
  TraceEvent ev;
  size_t name_at = std::string_view::npos;
  std::string_view name;
  for (auto [candidate, kind] : {std::pair{written.name, TraceEvent::Kind::kWritten},
                                 std::pair{kWaitedEvent, TraceEvent::Kind::kWaited}}) {
    std::string marker = ": " + std::string(candidate) + ":";
    size_t at = line.find(marker);
    if (at == std::string_view::npos) continue;
    name_at = at;
    name = candidate;
    ev.kind = kind;
    break;
  }
  if (name_at == std::string_view::npos) return std::nullopt;
  // "comm-PID [CPU] FLAGS SECONDS.MICROS: name: fields"
  size_t ts_begin = name_at;
  while (ts_begin > 0 && (std::isdigit(uint8_t(line[ts_begin - 1])) || line[ts_begin - 1] == '.')) --ts_begin;
  std::string_view ts = line.substr(ts_begin, name_at - ts_begin);
  size_t dot = ts.find('.');
  uint64_t sec = 0, frac = 0;
  if (dot == std::string_view::npos || !ParseUnsigned(ts.substr(0, dot), &sec) ||
      !ParseUnsigned(ts.substr(dot + 1), &frac))
    return std::nullopt;
  uint64_t scale = 1;
  for (size_t digits = ts.size() - dot - 1; digits < 9; ++digits) scale *= 10;
  ev.ts_ns = sec * 1000000000ULL + frac * scale;
  size_t cpu = line.rfind('[', ts_begin);
  if (cpu == std::string_view::npos) return std::nullopt;
  size_t end = cpu;
  while (end > 0 && line[end - 1] == ' ') --end;
  if (end > 0 && line[end - 1] == ')') {  // the record-tgid option's "(TGID)"
    size_t open = line.rfind('(', end);
    if (open == std::string_view::npos) return std::nullopt;
    end = open;
    while (end > 0 && line[end - 1] == ' ') --end;
  }
  size_t begin = end;
  while (begin > 0 && std::isdigit(uint8_t(line[begin - 1]))) --begin;
  uint64_t pid = 0;
  if (begin == end || begin == 0 || line[begin - 1] != '-' ||
      !ParseUnsigned(line.substr(begin, end - begin), &pid))
    return std::nullopt;
  ev.pid = int32_t(pid);
  if (ev.kind == TraceEvent::Kind::kWaited) {
    ev.pages = 1;
    return ev;
  }
  std::string_view fields = line.substr(name_at + name.size() + 3);
  auto v = FieldValue(fields, written.field, written.bytes_in_hex);
  if (!v) return std::nullopt;
  ev.pages = written.bytes_in_hex ? (*v + page_size - 1) / page_size : *v;
  return ev;
}

void AttributeEvents(std::span<const TraceEvent> events, std::span<SyncCallRecord> records) {
  std::vector<size_t> order(records.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  auto key = [&](size_t i) { return std::pair{records[i].tid, records[i].start_ns}; };
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return key(a) < key(b); });
  for (const TraceEvent& ev : events) {
    // The last call of this thread that started no later than the event (allowing for the printed rounding).
    auto it = std::upper_bound(order.begin(), order.end(), std::pair{ev.pid, ev.ts_ns + kTimestampSlackNs},
                               [&](const std::pair<int32_t, uint64_t>& k, size_t i) { return k < key(i); });
    if (it == order.begin()) continue;
    SyncCallRecord& r = records[*std::prev(it)];
    if (r.tid != ev.pid || ev.ts_ns > r.start_ns + r.duration_ns + kTimestampSlackNs) continue;
    if (ev.kind == TraceEvent::Kind::kWritten) r.pages_written += ev.pages;
    else r.pages_waited += uint32_t(ev.pages);
  }
}

uint64_t VmstatValue(std::string_view text, std::string_view key) {
  for (size_t at = text.find(key); at != std::string_view::npos; at = text.find(key, at + 1)) {
    if ((at != 0 && text[at - 1] != '\n') || at + key.size() >= text.size() || text[at + key.size()] != ' ')
      continue;
    uint64_t v = 0;
    return ParseUnsigned(text.substr(at + key.size() + 1), &v) ? v : 0;
  }
  return 0;
}

WritebackTrace WritebackTrace::Open(std::string_view fs_type, bool own_mount_namespace) {
  WritebackTrace t;
  t.page_size_ = uint64_t(::sysconf(_SC_PAGESIZE));
  const std::string fallback = ": pages written per sync from /proc/vmstat nr_written (system-wide)";
  t.written_ = WrittenEventFor(fs_type);
  if (!t.written_) {
    t.note_ = "writeback: no tracepoint counts a caller's pages on " + std::string(fs_type) + fallback;
    return t;
  }
  if (::geteuid() != 0) {
    t.note_ = "writeback: tracefs needs root" + fallback;
    return t;
  }
  std::string why;
  auto root = FindTracefs(own_mount_namespace, &why);
  if (!root) {
    t.note_ = "writeback: " + why + fallback;
    return t;
  }
  const std::string event =
      *root + "/events/" + std::string(t.written_->system) + "/" + std::string(t.written_->name);
  if (!IsDir(event)) {
    t.note_ = "writeback: this kernel has no " + std::string(t.written_->system) + ":" +
              std::string(t.written_->name) + " event" + fallback;
    return t;
  }
  RemoveStaleInstances(*root + "/instances");
  const std::string dir = *root + "/instances/" + std::string(kInstancePrefix) + std::to_string(::getpid());
  ::rmdir(dir.c_str());
  if (::mkdir(dir.c_str(), 0700) != 0) {
    t.note_ = std::string("writeback: cannot create a tracefs instance (") + std::string(ErrnoName(errno)) +
              ")" + fallback;
    return t;
  }
  t.instance_ = dir;
  const std::string sub = "/events/" + std::string(t.written_->system) + "/" + std::string(t.written_->name);
  // Only the syncing threads' events (AddThread); until one registers, only the main thread's.
  for (auto [file, text] : {std::pair{std::string("/trace_clock"), std::string("mono")},
                            std::pair{std::string("/buffer_size_kb"), std::string("2048")},
                            std::pair{std::string("/set_event_pid"), std::to_string(::getpid())},
                            std::pair{sub + "/enable", std::string("1")}}) {
    if (Status s = WriteText(dir + file, text); !s.ok()) {
      t.note_ = "writeback: tracefs instance setup failed (" + s.message() + ")" + fallback;
      ::rmdir(dir.c_str());
      t.instance_.clear();
      return t;
    }
  }
  // Optional: kernels before folios have no wait event; the pages written are what matters.
  (void)WriteText(dir + "/events/writeback/" + std::string(kWaitedEvent) + "/enable", "1");
  (void)WriteText(dir + "/trace", "");
  t.source_ = Source::kTracefs;
  return t;
}

WritebackTrace::WritebackTrace(WritebackTrace&& other) noexcept {
  *this = std::move(other);
}

WritebackTrace& WritebackTrace::operator=(WritebackTrace&& other) noexcept {
  if (this == &other) return *this;
  RemoveInstance();
  source_ = other.source_;
  note_ = std::move(other.note_);
  instance_ = std::move(other.instance_);
  written_ = other.written_;
  page_size_ = other.page_size_;
  other.instance_.clear();
  return *this;
}

WritebackTrace::~WritebackTrace() {
  RemoveInstance();
}

void WritebackTrace::RemoveInstance() {
  // Events off first: should the rmdir fail (EBUSY while someone holds one of its files open), the instance
  // at least records nothing more; the next run's Open removes it.
  if (instance_.empty()) return;
  (void)WriteText(instance_ + "/events/enable", "0");
  ::rmdir(instance_.c_str());
  instance_.clear();
}

std::string WritebackTrace::source_name() const {
  if (source_ == Source::kTracefs)
    return "tracefs " + std::string(written_->system) + ":" + std::string(written_->name);
  return "vmstat nr_written (system-wide)";
}

void WritebackTrace::AddThread(int tid) const {
  if (source_ != Source::kTracefs) return;
  (void)WriteText(instance_ + "/set_event_pid", std::to_string(tid), O_APPEND);
}

uint64_t WritebackTrace::Collect(std::span<SyncCallRecord> records) {
  if (source_ != Source::kTracefs) return 0;
  const std::string text = ReadText(instance_ + "/trace");
  (void)WriteText(instance_ + "/trace", "");
  std::vector<TraceEvent> events;
  uint64_t lost = 0;
  std::string_view rest = text;
  while (!rest.empty()) {
    size_t nl = rest.find('\n');
    std::string_view line = rest.substr(0, nl);
    rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
    constexpr std::string_view kEntries = "# entries-in-buffer/entries-written: ";
    if (line.substr(0, kEntries.size()) == kEntries) {
      uint64_t kept = 0, written = 0;
      std::string_view counts = line.substr(kEntries.size());
      size_t slash = counts.find('/');
      if (slash != std::string_view::npos && ParseUnsigned(counts, &kept) &&
          ParseUnsigned(counts.substr(slash + 1), &written) && written > kept)
        lost = written - kept;
      continue;
    }
    if (auto ev = ParseTraceLine(line, *written_, page_size_)) events.push_back(*ev);
  }
  AttributeEvents(events, records);
  return lost;
}

SyncProbe::SyncProbe(const WritebackTrace& trace) {
  if (trace.source() == WritebackTrace::Source::kVmstat)
    vmstat_fd_ = ::open("/proc/vmstat", O_RDONLY | O_CLOEXEC);
}

SyncProbe::~SyncProbe() {
  if (vmstat_fd_ >= 0) ::close(vmstat_fd_);
}

uint64_t SyncProbe::ReadWritten() {
  if (vmstat_fd_ < 0) return 0;
  ssize_t n = ::pread(vmstat_fd_, buffer_, sizeof buffer_ - 1, 0);
  if (n <= 0) return 0;
  return VmstatValue(std::string_view(buffer_, size_t(n)), "nr_written");
}

namespace {
uint64_t ThreadCpuNs() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return uint64_t(ts.tv_sec) * 1000000000ULL + uint64_t(ts.tv_nsec);
}
}  // namespace

void SyncProbe::Before() {
  written0_ = ReadWritten();
  cpu0_ = ThreadCpuNs();
}

void SyncProbe::After(SyncCallRecord& r) {
  const uint64_t cpu = ThreadCpuNs() - cpu0_;
  r.off_cpu_ns = r.duration_ns > cpu ? r.duration_ns - cpu : 0;
  if (vmstat_fd_ >= 0) {
    const uint64_t now = ReadWritten();
    r.pages_written = now > written0_ ? now - written0_ : 0;
  }
}

}  // namespace longpin
