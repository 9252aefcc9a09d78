// ProgressLine: the one live line `longpin run` keeps redrawing on a terminal while it works: elapsed time,
// phase, writes/s, syncs/s, sync p99 of the phase so far, pages pinned now, kernel events and violations so
// far. Off unless stdout is a terminal and --quiet is not given (RunConfig::progress), so logs, pipes and CI
// output never see a carriage return.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>

namespace longpin {

struct ProgressSample {
  double elapsed_s = 0;     // since the run started
  std::string phase;        // "baseline", "pinned", "verify", ...
  size_t phase_number = 0;  // 1-based; 0: not a workload phase (verify)
  size_t phase_count = 0;
  uint64_t writes = 0;       // completed in this phase, every writer kind
  uint64_t syncs = 0;        // completed in this phase
  uint64_t sync_p99_ns = 0;  // of this phase so far
  std::string sync_op = "fsync";
  uint64_t pinned_pages = 0;   // held right now
  uint64_t kernel_events = 0;  // alarms in the kernel log since the run started
  uint64_t violations = 0;     // found so far (earlier crash cycles)
  int cycle = 0, cycles = 0;   // crash cycle i of n; cycles <= 1: a single run
  std::string label;           // what the run is part of ("selftest xfs clean"); empty for a plain run
};

class ProgressLine {
 public:
  // out: where to draw (stdout); width 0: the terminal's width, read at every draw.
  explicit ProgressLine(bool enabled, std::FILE* out = stdout, size_t width = 0);
  ~ProgressLine() { Clear(); }
  ProgressLine(const ProgressLine&) = delete;
  ProgressLine& operator=(const ProgressLine&) = delete;

  bool enabled() const { return enabled_; }
  // Redraws at most four times a second (force: now); the rates are over the time since the last draw of the
  // same phase.
  void Update(const ProgressSample& s, bool force = false);
  // Erases the line, so that whatever is printed next starts on a clean line.
  void Clear();

  // The text of one line (no control characters), cut to width columns when width > 0.
  static std::string Format(const ProgressSample& s, double writes_per_s, double syncs_per_s, size_t width);

 private:
  bool enabled_;
  std::FILE* out_;
  size_t width_;
  bool drawn_ = false;
  uint64_t last_ns_ = 0, last_writes_ = 0, last_syncs_ = 0;
  std::string last_phase_;
  double writes_per_s_ = -1, syncs_per_s_ = -1;
};

}  // namespace longpin
