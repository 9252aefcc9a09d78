// RunReport: what a run measured and concluded; rendered as the stdout summary and the --json document
// (schema in docs/report-schema.md). Every phase carries every key, zeros where nothing happened.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/hang_watchdog.h"
#include "core/kernel_log.h"
#include "core/latency_histogram.h"
#include "core/pin_counters.h"
#include "core/writeback_trace.h"
#include "report/comparison.h"
#include "report/verdict.h"
#include "verifiers/fault_planter.h"
#include "verifiers/oracle.h"

namespace longpin {

inline constexpr int kReportSchemaVersion = 1;

struct PinStats {
  std::string pinner = "none";
  std::string reference = "none";
  uint64_t windows = 0;  // Pin calls
  uint64_t requested_pages = 0;
  uint64_t granted_pages = 0;      // window pinners: pages held; per-IO pinners: 0 (see ios, io_pages)
  bool per_io = false;             // the pinner holds pages only while one of its IOs is in flight
  uint64_t ios = 0, io_pages = 0;  // per-IO pinners: DMA IOs completed, and the pages they held
  std::map<std::string, uint64_t> refused;  // errno name -> pages refused
  PinCounterSnapshot before, after;
};

// Every sync call of a phase's syncer threads: what it wrote back and how long it slept
// (core/writeback_trace.h).
struct PhaseWriteback {
  std::string source;  // how pages written were counted; "" when no sync call was recorded (each-write runs)
  std::vector<SyncCallRecord> syncs;
  uint64_t dropped = 0;      // calls beyond the preallocated records
  uint64_t events_lost = 0;  // tracefs events the kernel's ring buffer dropped
};

// Medians over sync calls (of one phase, or of every phase of one kind).
struct WritebackMedians {
  uint64_t syncs = 0, pinned_syncs = 0;
  double pages_written = 0;
  double ns_per_page = 0;  // over the calls that wrote at least one page; 0 when none did
  double off_cpu_ns = 0;
  uint64_t pages_waited = 0;  // total
};
WritebackMedians MediansOf(const std::vector<const SyncCallRecord*>& syncs);

struct PhaseReport {
  std::string name;
  double seconds = 0;
  std::map<std::string, LatencyHistogram> sync;           // op -> latency
  std::map<std::string, uint64_t> sync_errors;            // "fsync EIO" -> count
  std::map<std::string, uint64_t> writes;                 // writer kind -> completed writes
  std::map<std::string, uint64_t> write_errors;           // "pwrite ENOSPC" -> count
  std::map<std::string, uint64_t> expected_write_errors;  // caused by the workload on purpose (not IO errors)
  PinStats pins;
  uint64_t log_backpressure_waits = 0;
  std::map<std::string, uint64_t> scenario;  // the scenario's own counters
  PhaseWriteback writeback;
};

struct CrashReport {
  std::string model;  // shutdown | power-cut
  std::string phase;
  double at_s = 0;              // seconds into the phase
  uint64_t seq = 0;             // the crash record's sequence number in the expected log
  std::string shutdown_result;  // "ok" or the error
  // Seconds per step of the crash cycle.
  double shutdown_s = 0, stop_s = 0, unmount_s = 0, mount_s = 0, verify_s = 0;
};

struct PinSpan {
  double pinned_ms = 0, released_ms = -1;  // since the run started; -1: never released (crash)
  uint64_t offset = 0, bytes = 0;
  int err = 0;
};

// Over-time series for the charts: every sync, every pin window, vmstat samples.
struct Timeline {
  std::vector<std::array<double, 3>> syncs;  // [t_ms, duration_ns, phase index]
  std::vector<PinSpan> pins;
  std::optional<double> crash_ms;
  std::vector<std::array<double, 3>> vmstat;  // [t_ms, nr_dirty, nr_writeback]
};

// One block a race-script attempt found wrong, with what promised it.
struct RaceExample {
  uint64_t attempt = 0;
  std::string contract;  // kernel | strict
  uint64_t block = 0, offset = 0;
  uint64_t expected_generation = 0;
  std::string found;        // "intact@3 (the store before the DMA)", "zero", "torn@3..4"
  std::string writer;       // the write that set the bound: dma | cpu
  std::string promised_by;  // "sync #2 (fsync, returned 0)"
};

// What a race script did and found (workloads/race_script.h).
struct RaceReport {
  std::string script;  // the step list as run
  uint64_t window_bytes = 0;
  uint64_t attempts = 0;
  uint64_t attempts_with_findings = 0;
  uint64_t kernel_violations = 0;  // blocks, over every attempt
  uint64_t strict_misses = 0;
  uint64_t kernel_alarms = 0;  // alarms the kernel logged while the attempts ran
  uint64_t dma_writes = 0;     // DMA writes completed (each covers the window)
  uint64_t dma_blocks_strict_promised = 0, dma_blocks_strict_found = 0;
  double first_finding_s = -1;  // seconds from the first attempt to the end of the first one with a finding
  uint64_t first_finding_attempt = 0;
  std::string refused;  // "EFAULT: ibv_reg_mr ..." when the kernel refused the pin
  // The pinner's reference kind as measured on this kernel (nr_foll_pin_* and VmPin deltas across a hold of
  // the first attempt), what ../shared/KERNEL_NOTES.md expects for this kernel, and the numbers behind it.
  std::string measured_reference, expected_reference, reference_detail;
  uint64_t pages_held_max = 0;   // pages the kernel held at once (long-term pins or a DMA in flight)
  double pin_seconds = 0;        // page-seconds held
  std::string reclaim_detail;    // how reclaim steps were done here
  uint64_t reclaimed_pages = 0;  // pages the reclaim steps took off the window's page tables (mincore)
  std::map<std::string, uint64_t> step_errors;   // "reclaim:cgroup EAGAIN" -> count
  std::vector<RaceExample> examples;             // the first findings
  std::map<std::string, uint64_t> sync_results;  // "fsync ok" / "fsync EIO" -> count
  double seconds = 0;
};

struct RunReport {
  // A run starts at pass and each finding raises it (RaiseVerdict); the exit code follows from it.
  Verdict verdict = Verdict::kPass;
  int exit_code() const { return ExitCodeOf(verdict); }
  std::vector<std::string> reasons;  // why the verdict (one line each)
  std::vector<std::string> notes;    // what was left out and why
  // environment
  std::string kernel;
  std::string fs;
  std::string fs_detail;  // "ext4 on /dev/loop3 (scratch image ...)" or "dir:/path (tmpfs)"
  bool root = false;
  uint64_t block_size = 0;
  uint64_t target_size = 0;
  std::string target_path;
  std::string run_dir;
  uint64_t run_id = 0;
  uint64_t seed = 0;
  std::string pinner;
  std::string sync_op;
  double sync_interval_s = 0;
  bool sync_each_write = false;  // --sync OP:each-write: the writers sync, no syncer thread
  bool interrupted = false;
  std::vector<PhaseReport> phases;
  std::optional<Verification> verification;
  std::string verify_method;
  double verify_seconds = 0;
  uint64_t verify_bytes = 0;
  std::map<std::string, uint64_t> sync_errors_total;
  std::vector<KernelEvent> kernel_events;
  std::optional<std::string> kernel_log_unavailable;
  std::vector<HangReport> hangs;
  std::string expected_log_path;
  uint64_t expected_log_bytes = 0;
  std::string kept_image;  // --keep: the scratch image left for inspection
  std::string mapping = "shared";
  std::string mapping_detail;
  std::optional<CrashReport> crash;
  Timeline timeline;
  std::vector<PlantedFault> planted;
  int64_t pin_leak_pages = 0;  // foll_pin acquired - released over the run (counters refreshed)
  bool pin_balance_checked = false;
  std::optional<RaceReport> race;
  // Pinned/baseline sync latency over the pooled phases of each kind (nullopt: too few syncs on a side).
  std::optional<SyncComparison> comparison;
  int rounds = 1;
  // The exact command that reproduces the run, seed included (set by the CLI).
  std::string reproduce;
  // Crash cycles of one invocation (--crash-iterations): every cycle's verification, in order.
  std::vector<RunReport> cycles;
};

// What the kernel did wrong over the whole run, every crash cycle and race attempt included: the numbers the
// summary, JSON, JUnit, KTAP and HTML lead with.
struct Findings {
  uint64_t kernel_violations = 0;
  uint64_t strict_misses = 0;
  uint64_t kernel_alarms = 0;
  uint64_t attempts = 0;
  bool any() const { return kernel_violations || strict_misses || kernel_alarms; }
};
Findings FindingsOf(const RunReport& r);
// One run's own findings, its crash cycles left out (FindingsOf adds them up).
Findings OneRunFindings(const RunReport& r);
// The reference kind a phase's counters show: "FOLL_PIN" when nr_foll_pin_acquired moved by at least the
// pages held, "FOLL_GET/none" when it did not move (a FOLL_GET reference, or a copy that pinned nothing),
// "unmeasured" without counters or holds. System-wide counters: another
// process's pins can only add, so FOLL_GET/none is never reported for a FOLL_PIN pinner.
std::string MeasuredReference(const PinStats& p);
std::string RenderFindings(const RunReport& r);  // the summary's leading block; "" when nothing was found

// The JSON report document (report/report_json.cc): what the --json file holds and what JUnit, KTAP and HTML
// render (report/report_formats.h), built once and passed on as the object, never re-parsed from its text.
nlohmann::json ReportDocument(const RunReport& r);
// ReportDocument as the --json file's text: indented by 2, newline-terminated.
std::string RenderJson(const RunReport& r);
// The stdout summary (report/report_summary.cc).
std::string RenderSummary(const RunReport& r);

}  // namespace longpin
