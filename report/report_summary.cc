// The stdout summary of a run: what it found first, then its phases, verification, crash and kernel lines,
// and the verdict with its reasons.
#include <fmt/format.h>

#include "core/units.h"
#include "report/run_report.h"

namespace longpin {
namespace {

// One line per phase kind (the phases of one name pooled): what a sync wrote back and how long it took per
// page.
std::string WritebackSummary(const RunReport& r) {
  std::string source;
  std::vector<std::string> kinds;
  std::map<std::string, std::vector<const SyncCallRecord*>> by_kind;
  uint64_t dropped = 0, lost = 0;
  for (const auto& p : r.phases) {
    if (p.writeback.source.empty()) continue;
    source = p.writeback.source;
    if (!by_kind.count(p.name)) kinds.push_back(p.name);
    auto& v = by_kind[p.name];
    for (const auto& s : p.writeback.syncs) v.push_back(&s);
    dropped += p.writeback.dropped;
    lost += p.writeback.events_lost;
  }
  if (source.empty()) return "";
  std::string out = "\nwriteback per sync (" + source + "):\n";
  for (const auto& kind : kinds) {
    const WritebackMedians m = MediansOf(by_kind[kind]);
    out += fmt::format("  {:<9} {} syncs", kind + ":", m.syncs);
    if (m.pinned_syncs) out += fmt::format(" ({} with pages pinned)", m.pinned_syncs);
    out +=
        fmt::format(", median {:g} pages written, {} per page, {} off CPU (waiting on writeback)",
                    m.pages_written, m.ns_per_page > 0 ? FormatNs(uint64_t(m.ns_per_page)) : std::string("-"),
                    FormatNs(uint64_t(m.off_cpu_ns)));
    if (m.pages_waited) out += fmt::format(", {} waits on pages under writeback", m.pages_waited);
    out += "\n";
  }
  if (dropped)
    out += fmt::format("  {} syncs beyond the preallocated records are not in these figures\n", dropped);
  if (lost)
    out += fmt::format("  the kernel dropped {} trace events: pages written are undercounted\n", lost);
  return out;
}

// A race script's attempts: what they found, the pin kind measured, the pages held, reclaim.
std::string RaceSummary(const RaceReport& x) {
  std::string out;
  out += fmt::format("\nrace script {} on windows of {}: {} attempt(s) in {:.1f} s, {} with findings",
                     x.script, FormatSize(x.window_bytes), x.attempts, x.seconds, x.attempts_with_findings);
  if (x.first_finding_s >= 0)
    out += fmt::format(" (first at attempt {}, {:.2f} s)", x.first_finding_attempt, x.first_finding_s);
  out += "\n";
  if (!x.refused.empty()) out += "  pin refused by the kernel: " + x.refused + "\n";
  if (!x.measured_reference.empty())
    out += fmt::format("  pin kind measured {} ({}); expected on this kernel: {}\n", x.measured_reference,
                       x.reference_detail, x.expected_reference);
  out += fmt::format("  pages held at most {} ({:.2f} page-seconds), {} DMA write(s)", x.pages_held_max,
                     x.pin_seconds, x.dma_writes);
  if (x.dma_blocks_strict_promised)
    out += fmt::format("; DMA blocks acknowledged before a successful sync: found {} of {}",
                       x.dma_blocks_strict_found, x.dma_blocks_strict_promised);
  out += "\n";
  if (!x.reclaim_detail.empty())
    out += fmt::format("  reclaim: {}; {} page(s) taken off the window's page tables\n", x.reclaim_detail,
                       x.reclaimed_pages);
  for (const auto& [k, n] : x.step_errors) out += fmt::format("  step error {} x{}\n", k, n);
  return out;
}

// One row per phase: seconds, writes by kind, sync count and latency percentiles, pins.
std::string PhasesTable(const RunReport& r) {
  if (r.phases.empty()) return "";
  std::string out;
  out += fmt::format("\n{:<10} {:>7} {:>10} {:>10} {:>8} {:>10} {:>10} {:>10} {:>10} {:>10}  {}\n", "phase",
                     "secs", "cpu wr", "pwrite wr", "dma wr", "syncs", "p50", "p99", "p99.9", "max", "pins");
  for (const auto& p : r.phases) {
    LatencyHistogram h;
    for (const auto& [op, hist] : p.sync) h.Merge(hist);
    auto w = [&](const char* k) {
      auto it = p.writes.find(k);
      return it == p.writes.end() ? uint64_t{0} : it->second;
    };
    std::string pins = "-";
    if (p.pins.pinner != "none") {
      const std::string measured = MeasuredReference(p.pins);
      pins = p.pins.per_io ? fmt::format("{} per-IO, measured {}: {} DMA IOs held {} pages while in flight",
                                         p.pins.pinner, measured, p.pins.ios, p.pins.io_pages)
                           : fmt::format("{} measured {}: {}/{} pages granted", p.pins.pinner, measured,
                                         p.pins.granted_pages, p.pins.requested_pages);
      for (const auto& [e, n] : p.pins.refused) pins += fmt::format(", {} refused {}", n, e);
      if (p.pins.after.available)
        pins += fmt::format(", foll_pin +{}/-{} system-wide", p.pins.after.acquired - p.pins.before.acquired,
                            p.pins.after.released - p.pins.before.released);
    }
    out += fmt::format("{:<10} {:>7.1f} {:>10} {:>10} {:>8} {:>10} {:>10} {:>10} {:>10} {:>10}  {}\n", p.name,
                       p.seconds, w("cpu"), w("pwrite"), w("dma"), h.count(), FormatNs(h.Quantile(0.5)),
                       FormatNs(h.Quantile(0.99)), FormatNs(h.Quantile(0.999)), FormatNs(h.max()), pins);
  }
  return out;
}

// The verifier's counts by class and contract, and the first violations.
std::string VerificationSummary(const RunReport& r) {
  if (!r.verification) return "";
  const auto& v = *r.verification;
  std::string out;
  out += fmt::format("\nverification ({}, {}): {} blocks read in {:.2f} s", v.mode, r.verify_method,
                     v.checked_blocks, r.verify_seconds);
  for (const auto& [c, n] : v.classes) out += fmt::format(", {} {}", n, c);
  out += "\n";
  out += fmt::format("  kernel contract: {} violation(s)\n", v.kernel_violations);
  out += fmt::format("  strict contract: {} miss(es)", v.strict_misses);
  for (const auto& [k, t] : v.strict_by_writer)
    out +=
        fmt::format("; {} writes completed before a successful sync: found {} of {}", k, t.found, t.promised);
  out += "\n";
  size_t shown = 0;
  for (const auto& x : v.violations) {
    if (++shown > 20) {
      out +=
          fmt::format("  ... {} more in the JSON report\n", v.violations.size() - 20 + v.violations_dropped);
      break;
    }
    out += fmt::format(
        "  {} {}: block {} (offset {}) expected gen >= {}, found {}, writer {}, promised by {} #{}\n",
        x.contract, x.kind, x.block, x.offset, x.expected_generation, x.found, x.writer, x.sync_op,
        x.sync_id);
  }
  return out;
}

// The crash cycle's steps, and what went wrong besides the contracts: pin leak, sync errors, kernel lines,
// hangs.
std::string EventsSummary(const RunReport& r) {
  std::string out;
  if (r.crash) {
    const auto& c = *r.crash;
    out += fmt::format(
        "crash ({}) in phase {} at {:.2f} s (log seq {}): shutdown {:.3f} s, stop {:.3f} s, unmount {:.3f} "
        "s, "
        "mount {:.3f} s, verify {:.3f} s; shutdown: {}\n",
        c.model, c.phase, c.at_s, c.seq, c.shutdown_s, c.stop_s, c.unmount_s, c.mount_s, c.verify_s,
        c.shutdown_result);
  }
  if (r.pin_leak_pages > 0)
    out += fmt::format("pin leak: {} pages acquired and not released\n", r.pin_leak_pages);
  if (!r.sync_errors_total.empty()) {
    out += "sync errors:";
    for (const auto& [k, n] : r.sync_errors_total) out += fmt::format(" {} x{}", k, n);
    out += "\n";
  }
  if (r.kernel_log_unavailable) out += "kernel log: not monitored (" + *r.kernel_log_unavailable + ")\n";
  size_t listed = 0;
  for (const auto& e : r.kernel_events) {
    if (++listed > 10) {
      out += fmt::format("... {} more kernel lines in the JSON report\n", r.kernel_events.size() - 10);
      break;
    }
    out += fmt::format("kernel {}: {}{}\n", e.Label(), e.line, e.TaskSuffix());
  }
  for (const auto& h : r.hangs)
    out += fmt::format("hang: {} in {} for {:.1f} s, wchan {}\n{}", h.role, h.op, h.seconds, h.wchan,
                       h.kernel_stack);
  return out;
}

}  // namespace

std::string RenderFindings(const RunReport& r) {
  const Findings f = FindingsOf(r);
  if (!f.any()) return "";
  std::string out = "FINDINGS";
  if (!r.cycles.empty()) out += fmt::format(" over {} crash cycle(s)", r.cycles.size());
  if (r.race) out += fmt::format(" in {} race attempt(s)", r.race->attempts);
  out += ":\n";
  if (f.kernel_violations)
    out += fmt::format("  {} kernel-contract violation(s): data a successful sync promised is not on disk\n",
                       f.kernel_violations);
  if (f.strict_misses) {
    if (r.race && r.race->dma_blocks_strict_promised)
      out += fmt::format(
          "  fsync returned 0, but {} of {} DMA-written blocks acknowledged before it are not on disk "
          "(strict contract)\n",
          r.race->dma_blocks_strict_promised - r.race->dma_blocks_strict_found,
          r.race->dma_blocks_strict_promised);
    else
      out += fmt::format(
          "  {} strict miss(es): writes completed before a successful sync are not on disk "
          "(\"fsync lied\")\n",
          f.strict_misses);
  }
  if (f.kernel_alarms) out += fmt::format("  {} kernel alarm(s) in the kernel log\n", f.kernel_alarms);
  if (r.race) {
    int shown = 0;
    for (const auto& e : r.race->examples) {
      if (++shown > 5) break;
      out += fmt::format(
          "  e.g. attempt {}: {} block {} (offset {}) expected gen >= {} ({}), found {}, promised by {}\n",
          e.attempt, e.contract, e.block, e.offset, e.expected_generation, e.writer, e.found, e.promised_by);
    }
  }
  auto examples_of = [&out](const RunReport& src, const std::string& prefix) {
    if (!src.verification) return;
    int k = 0;
    for (const auto& x : src.verification->violations) {
      if (++k > 3) break;
      out += fmt::format(
          "  {}e.g. {} {}: block {} (offset {}) expected gen >= {}, found {}, writer {}, promised by {} "
          "#{}\n",
          prefix, x.contract, x.kind, x.block, x.offset, x.expected_generation, x.found, x.writer, x.sync_op,
          x.sync_id);
    }
  };
  if (r.cycles.empty()) examples_of(r, "");
  int cycle = 0;
  for (const auto& c : r.cycles) {
    ++cycle;
    const Findings cf = OneRunFindings(c);
    if (!cf.any()) continue;
    out += fmt::format("  cycle {} (seed {}): {} kernel violation(s), {} strict miss(es), {} alarm(s)\n",
                       cycle, c.seed, cf.kernel_violations, cf.strict_misses, cf.kernel_alarms);
    examples_of(c, "  ");
  }
  int alarms = 0;
  for (const auto& e : r.kernel_events)
    if (e.alarm() && ++alarms <= 5)
      out += fmt::format("  kernel {}: {}{}\n", e.Label(), e.line, e.TaskSuffix());
  if (!r.reproduce.empty()) out += "  reproduce: " + r.reproduce + "\n";
  return out;
}

std::string RenderSummary(const RunReport& r) {
  std::string out;
  out += fmt::format("longpin run {:016x}  kernel {}  {}\n", r.run_id, r.kernel, r.fs_detail);
  const std::string schedule =
      r.sync_each_write ? "after each write" : "every " + FormatNs(uint64_t(r.sync_interval_s * 1e9));
  out += fmt::format("target {} of {} blocks of {}, pinner {}, sync {} {}, seed {}\n",
                     FormatSize(r.target_size), r.block_size ? r.target_size / r.block_size : 0,
                     FormatSize(r.block_size), r.pinner, r.sync_op, schedule, r.seed);
  if (r.mapping != "shared") out += "mapping: " + r.mapping_detail + "\n";
  for (const auto& n : r.notes) out += "note: " + n + "\n";
  if (std::string f = RenderFindings(r); !f.empty()) out += "\n" + f;
  if (r.race) out += RaceSummary(*r.race);
  out += PhasesTable(r);
  if (r.comparison) out += "\n" + DescribeComparison(*r.comparison) + "\n";
  out += WritebackSummary(r);
  out += VerificationSummary(r);
  out += EventsSummary(r);
  out += fmt::format("\nverdict: {}", VerdictName(r.verdict));
  for (const auto& why : r.reasons) out += "\n  " + why;
  out += "\n";
  return out;
}

}  // namespace longpin
