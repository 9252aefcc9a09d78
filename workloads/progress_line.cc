#include "workloads/progress_line.h"

#include <fmt/format.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "core/hang_watchdog.h"  // MonotonicNs

namespace longpin {
namespace {

constexpr uint64_t kRedrawNs = 250'000'000;

// 1234 -> "1234", 123456 -> "123k", 12345678 -> "12.3M": a line that keeps its width as rates change.
std::string Short(double v) {
  if (v < 0) return "-";
  if (v < 10'000) return fmt::format("{:.0f}", v);
  if (v < 1e6) return fmt::format("{:.0f}k", v / 1e3);
  return fmt::format("{:.1f}M", v / 1e6);
}

std::string Duration(uint64_t ns) {
  if (ns == 0) return "-";
  if (ns < 1'000'000) return fmt::format("{:.0f}us", double(ns) / 1e3);
  if (ns < 1'000'000'000) return fmt::format("{:.1f}ms", double(ns) / 1e6);
  return fmt::format("{:.2f}s", double(ns) / 1e9);
}

size_t TerminalWidth(std::FILE* out) {
  winsize ws{};
  if (::ioctl(::fileno(out), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
  return 0;
}

}  // namespace

ProgressLine::ProgressLine(bool enabled, std::FILE* out, size_t width)
    : enabled_(enabled), out_(out), width_(width) {}

std::string ProgressLine::Format(const ProgressSample& s, double writes_per_s, double syncs_per_s,
                                 size_t width) {
  std::string line = fmt::format("{:.1f}s", s.elapsed_s);
  if (!s.label.empty()) line += " " + s.label;
  if (s.cycles > 1) line += fmt::format(" cycle {}/{}", s.cycle, s.cycles);
  line += " " + s.phase;
  if (s.phase_number > 0) line += fmt::format(" {}/{}", s.phase_number, s.phase_count);
  line += fmt::format(" | writes {}/s | {} {}/s p99 {} | pinned {} pages | kernel events {} | violations {}",
                      Short(writes_per_s), s.sync_op, Short(syncs_per_s), Duration(s.sync_p99_ns),
                      s.pinned_pages, s.kernel_events, s.violations);
  // A line longer than the terminal wraps, and a carriage return then redraws only its last row.
  if (width > 0 && line.size() >= width) line.resize(width - 1);
  return line;
}

void ProgressLine::Update(const ProgressSample& s, bool force) {
  if (!enabled_) return;
  const uint64_t now = MonotonicNs();
  if (s.phase != last_phase_) {
    // A new phase restarts its counts: its first rates need one interval of its own.
    last_phase_ = s.phase;
    last_ns_ = now;
    last_writes_ = s.writes;
    last_syncs_ = s.syncs;
    writes_per_s_ = syncs_per_s_ = -1;
  } else if (now - last_ns_ >= kRedrawNs) {
    const double dt = double(now - last_ns_) / 1e9;
    writes_per_s_ = double(s.writes - last_writes_) / dt;
    syncs_per_s_ = double(s.syncs - last_syncs_) / dt;
    last_ns_ = now;
    last_writes_ = s.writes;
    last_syncs_ = s.syncs;
  } else if (!force && drawn_) {
    return;
  }
  const std::string line = Format(s, writes_per_s_, syncs_per_s_, width_ ? width_ : TerminalWidth(out_));
  std::fprintf(out_, "\r%s\033[K", line.c_str());
  std::fflush(out_);
  drawn_ = true;
}

void ProgressLine::Clear() {
  if (!enabled_ || !drawn_) return;
  std::fputs("\r\033[K", out_);
  std::fflush(out_);
  drawn_ = false;
}

}  // namespace longpin
