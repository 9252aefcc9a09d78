#include "report/run_report.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include <algorithm>

#include "core/units.h"

namespace longpin {
namespace {

using nlohmann::json;

const char* const kSyncOps[] = {"fsync", "fdatasync", "msync", "sync_file_range", "syncfs"};
const char* const kWriterKinds[] = {"cpu", "pwrite", "dma"};

json HistogramJson(const LatencyHistogram& h) {
  // Keyed as fio's JSON keys its clat_ns percentiles ("99.900000"), for tools that read both.
  json percentiles = json::object();
  for (double p : kFioPercentiles) percentiles[fmt::format("{:.6f}", p)] = h.Quantile(p / 100);
  return json{{"count", h.count()},
              {"min_ns", h.min()},
              {"p50_ns", h.Quantile(0.5)},
              {"p90_ns", h.Quantile(0.9)},
              {"p99_ns", h.Quantile(0.99)},
              {"p999_ns", h.Quantile(0.999)},
              {"max_ns", h.max()},
              {"mean_ns", uint64_t(h.mean())},
              {"percentiles_ns", percentiles}};
}

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  auto mid = v.begin() + std::ptrdiff_t(v.size() / 2);
  std::nth_element(v.begin(), mid, v.end());
  if (v.size() % 2) return *mid;
  return (*mid + *std::max_element(v.begin(), mid)) / 2;
}

json WritebackJson(const PhaseWriteback& w) {
  std::vector<const SyncCallRecord*> all;
  for (const auto& r : w.syncs) all.push_back(&r);
  const WritebackMedians m = MediansOf(all);
  json records = json::array();
  for (const auto& r : w.syncs)
    records.push_back({r.duration_ns, r.pages_written, r.off_cpu_ns, r.pages_waited, r.pinned ? 1 : 0});
  return {{"source", w.source.empty() ? json(nullptr) : json(w.source)},
          {"syncs", m.syncs},
          {"dropped", w.dropped},
          {"events_lost", w.events_lost},
          {"pinned_syncs", m.pinned_syncs},
          {"pages_written_p50", m.pages_written},
          {"ns_per_page_p50", m.ns_per_page},
          {"off_cpu_ns_p50", m.off_cpu_ns},
          {"pages_waited", m.pages_waited},
          {"records", records}};
}

json PhaseJson(const PhaseReport& p) {
  json sync = json::object();
  for (const char* op : kSyncOps) {
    auto it = p.sync.find(op);
    sync[op] = HistogramJson(it == p.sync.end() ? LatencyHistogram{} : it->second);
  }
  json writes = json::object();
  for (const char* k : kWriterKinds) {
    auto it = p.writes.find(k);
    writes[k] = it == p.writes.end() ? 0 : it->second;
  }
  json refused = json::array();
  for (const auto& [err, n] : p.pins.refused) refused.push_back({{"errno", err}, {"count", n}});
  const auto& b = p.pins.before;
  const auto& a = p.pins.after;
  return json{{"name", p.name},
              {"seconds", p.seconds},
              {"sync", sync},
              {"sync_errors", p.sync_errors},
              {"writes", writes},
              {"write_errors", p.write_errors},
              {"expected_write_errors", p.expected_write_errors},
              {"log_backpressure_waits", p.log_backpressure_waits},
              {"scenario", p.scenario},
              {"writeback", WritebackJson(p.writeback)},
              {"pins",
               {{"pinner", p.pins.pinner},
                {"reference", p.pins.reference},
                {"windows", p.pins.windows},
                {"requested_pages", p.pins.requested_pages},
                {"granted_pages", p.pins.granted_pages},
                {"per_io", p.pins.per_io},
                {"ios", p.pins.ios},
                {"io_pages", p.pins.io_pages},
                {"measured_reference", MeasuredReference(p.pins)},
                {"refused", refused},
                {"counters_available", b.available && a.available},
                {"counters_refreshed", b.refreshed && a.refreshed},
                {"foll_pin_acquired", a.acquired - b.acquired},
                {"foll_pin_released", a.released - b.released}}}};
}

json VerificationJson(const Verification& v, const RunReport& r) {
  json by_writer = json::object();
  for (const char* k : kWriterKinds) {
    auto it = v.strict_by_writer.find(k);
    StrictTally t = it == v.strict_by_writer.end() ? StrictTally{} : it->second;
    by_writer[k] = {{"promised", t.promised}, {"found", t.found}, {"missing", t.promised - t.found}};
  }
  json list = json::array();
  for (const auto& x : v.violations)
    list.push_back({{"contract", x.contract},
                    {"kind", x.kind},
                    {"block", x.block},
                    {"offset", x.offset},
                    {"expected_generation", x.expected_generation},
                    {"found", x.found},
                    {"found_generation", x.found_generation},
                    {"writer", x.writer},
                    {"sync_id", x.sync_id},
                    {"sync_op", x.sync_op}});
  json classes = json::object();
  for (const char* c : {"zero", "intact", "torn", "foreign", "corrupt"}) {
    auto it = v.classes.find(c);
    classes[c] = it == v.classes.end() ? 0 : it->second;
  }
  return json{{"mode", v.mode},
              {"method", r.verify_method},
              {"seconds", r.verify_seconds},
              {"bytes_read", r.verify_bytes},
              {"checked_blocks", v.checked_blocks},
              {"classes", classes},
              {"kernel_contract", {{"violations", v.kernel_violations}}},
              {"strict_contract", {{"misses", v.strict_misses}, {"by_writer", by_writer}}},
              {"beyond_log", v.beyond_log},
              {"violations", list},
              {"violations_not_listed", v.violations_dropped}};
}

}  // namespace

namespace {

uint64_t AlarmsOf(const RunReport& r) {
  return uint64_t(std::count_if(r.kernel_events.begin(), r.kernel_events.end(),
                                [](const KernelEvent& e) { return e.alarm(); }));
}

Findings OneRunFindings(const RunReport& r) {
  Findings f;
  if (r.verification) {
    f.kernel_violations = r.verification->kernel_violations;
    f.strict_misses = r.verification->strict_misses;
  }
  if (r.race) {
    f.kernel_violations += r.race->kernel_violations;
    f.strict_misses += r.race->strict_misses;
    f.attempts = r.race->attempts;
  }
  f.kernel_alarms = AlarmsOf(r);
  return f;
}

json RaceJson(const RaceReport& x) {
  json examples = json::array();
  for (const auto& e : x.examples)
    examples.push_back({{"attempt", e.attempt},
                        {"contract", e.contract},
                        {"block", e.block},
                        {"offset", e.offset},
                        {"expected_generation", e.expected_generation},
                        {"found", e.found},
                        {"writer", e.writer},
                        {"promised_by", e.promised_by}});
  return {{"script", x.script},
          {"window_bytes", x.window_bytes},
          {"attempts", x.attempts},
          {"attempts_with_findings", x.attempts_with_findings},
          {"kernel_violations", x.kernel_violations},
          {"strict_misses", x.strict_misses},
          {"kernel_alarms", x.kernel_alarms},
          {"dma_writes", x.dma_writes},
          {"dma_blocks_strict_promised", x.dma_blocks_strict_promised},
          {"dma_blocks_strict_found", x.dma_blocks_strict_found},
          {"first_finding_s", x.first_finding_s < 0 ? json(nullptr) : json(x.first_finding_s)},
          {"first_finding_attempt", x.first_finding_attempt},
          {"refused", x.refused.empty() ? json(nullptr) : json(x.refused)},
          {"pin_reference", {{"measured", x.measured_reference},
                             {"expected", x.expected_reference},
                             {"detail", x.reference_detail}}},
          {"pages_held_max", x.pages_held_max},
          {"pin_page_seconds", x.pin_seconds},
          {"reclaim", x.reclaim_detail},
          {"reclaimed_pages", x.reclaimed_pages},
          {"step_errors", x.step_errors},
          {"sync_results", x.sync_results},
          {"seconds", x.seconds},
          {"examples", examples}};
}

}  // namespace

WritebackMedians MediansOf(const std::vector<const SyncCallRecord*>& syncs) {
  WritebackMedians m;
  std::vector<double> pages, per_page, off_cpu;
  for (const SyncCallRecord* r : syncs) {
    ++m.syncs;
    m.pinned_syncs += r->pinned;
    m.pages_waited += r->pages_waited;
    pages.push_back(double(r->pages_written));
    off_cpu.push_back(double(r->off_cpu_ns));
    if (r->pages_written) per_page.push_back(double(r->duration_ns) / double(r->pages_written));
  }
  m.pages_written = Median(pages);
  m.ns_per_page = Median(per_page);
  m.off_cpu_ns = Median(off_cpu);
  return m;
}

// One line per phase kind (the phases of one name pooled): what a sync wrote back and how long it took per
// page.
static std::string WritebackSummary(const RunReport& r) {
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

std::string MeasuredReference(const PinStats& p) {
  const uint64_t held = p.per_io ? p.io_pages : p.granted_pages;
  if (!p.after.available || !p.before.available || held == 0) return "unmeasured";
  const uint64_t acquired = p.after.acquired - p.before.acquired;
  if (acquired >= held) return "FOLL_PIN";
  if (acquired == 0 && p.after.refreshed) return "FOLL_GET/none";
  return "unclear";
}

Findings FindingsOf(const RunReport& r) {
  if (r.cycles.empty()) return OneRunFindings(r);
  Findings total;
  for (const auto& c : r.cycles) {
    Findings f = OneRunFindings(c);
    total.kernel_violations += f.kernel_violations;
    total.strict_misses += f.strict_misses;
    total.kernel_alarms += f.kernel_alarms;
    total.attempts += f.attempts;
  }
  return total;
}

static json FindingsJson(const RunReport& r) {
  const Findings f = FindingsOf(r);
  json cycles = json::array();
  int n = 0;
  for (const auto& c : r.cycles) {
    const Findings cf = OneRunFindings(c);
    cycles.push_back({{"cycle", ++n},
                      {"seed", c.seed},
                      {"verdict", VerdictName(c.verdict)},
                      {"kernel_violations", cf.kernel_violations},
                      {"strict_misses", cf.strict_misses},
                      {"kernel_alarms", cf.kernel_alarms}});
  }
  return {{"kernel_violations", f.kernel_violations},
          {"strict_misses", f.strict_misses},
          {"kernel_alarms", f.kernel_alarms},
          {"cycles", cycles},
          {"attempts", f.attempts},
          {"reproduce", r.reproduce}};
}

std::string RenderJson(const RunReport& r) {
  json phases = json::array();
  for (const auto& p : r.phases) phases.push_back(PhaseJson(p));
  json events = json::array();
  for (const auto& e : r.kernel_events)
    events.push_back({{"class", e.Label()},
                      {"device", e.device},
                      {"alarm", e.alarm()},
                      {"line", e.line},
                      {"usec", e.usec},
                      {"pid", e.pid},
                      {"comm", e.comm},
                      {"origin", e.origin}});
  json hangs = json::array();
  for (const auto& h : r.hangs)
    hangs.push_back({{"role", h.role}, {"op", h.op}, {"tid", h.tid}, {"seconds", h.seconds}, {"wchan", h.wchan},
                     {"kernel_stack", h.kernel_stack}});
  json doc{{"schema_version", kReportSchemaVersion},
           {"tool", "longpin"},
           {"verdict", VerdictName(r.verdict)},
           {"exit_code", r.exit_code()},
           {"reasons", r.reasons},
           {"notes", r.notes},
           {"environment",
            {{"kernel", r.kernel},
             {"fs", r.fs},
             {"fs_detail", r.fs_detail},
             {"root", r.root},
             {"block_size", r.block_size},
             {"target_size", r.target_size},
             {"target_path", r.target_path},
             {"kernel_log", r.kernel_log_unavailable ? *r.kernel_log_unavailable : "read"}}},
           {"run", {{"run_id", fmt::format("{:016x}", r.run_id)},
                    {"seed", r.seed},
                    {"pinner", r.pinner},
                    {"sync_op", r.sync_op},
                    {"sync_interval_s", r.sync_interval_s},
                    {"sync_each_write", r.sync_each_write},
                    {"interrupted", r.interrupted},
                    {"run_dir", r.run_dir},
                    {"expected_log", r.expected_log_path},
                    {"expected_log_bytes", r.expected_log_bytes},
                    {"kept_image", r.kept_image}}},
           {"phases", phases},
           {"sync_errors", r.sync_errors_total},
           {"kernel_events", events},
           {"hangs", hangs}};
  doc["verification"] = r.verification ? VerificationJson(*r.verification, r) : json(nullptr);
  doc["findings"] = FindingsJson(r);
  doc["run"]["rounds"] = r.rounds;
  if (r.comparison) {
    const SyncComparison& c = *r.comparison;
    auto q = [](const QuantileRatio& x) { return json{{"ratio", x.ratio}, {"ci95", {x.lo, x.hi}}}; };
    doc["comparison"] = {{"op", c.op},          {"p50", q(c.p50)},
                         {"p99", q(c.p99)},     {"p999", q(c.p999)},
                         {"detectable", c.detectable}, {"baseline_count", c.baseline_count},
                         {"pinned_count", c.pinned_count}};
  } else {
    doc["comparison"] = nullptr;
  }
  if (r.race) doc["race"] = RaceJson(*r.race);
  doc["environment"]["mapping"] = r.mapping;
  doc["environment"]["mapping_detail"] = r.mapping_detail;
  doc["pin_balance"] = {{"checked", r.pin_balance_checked}, {"leaked_pages", r.pin_leak_pages}};
  if (r.crash) {
    const CrashReport& c = *r.crash;
    doc["crash"] = {{"model", c.model},
                    {"phase", c.phase},
                    {"at_s", c.at_s},
                    {"seq", c.seq},
                    {"shutdown_result", c.shutdown_result},
                    {"steps_s",
                     {{"shutdown", c.shutdown_s}, {"stop", c.stop_s}, {"unmount", c.unmount_s}, {"mount", c.mount_s},
                      {"verify", c.verify_s}}}};
  } else {
    doc["crash"] = nullptr;
  }
  json pins = json::array();
  for (const auto& p : r.timeline.pins) pins.push_back({p.pinned_ms, p.released_ms, p.offset, p.bytes, p.err});
  doc["timeline"] = {{"syncs", r.timeline.syncs},
                     {"pins", pins},
                     {"crash_ms", r.timeline.crash_ms ? json(*r.timeline.crash_ms) : json(nullptr)},
                     {"vmstat", r.timeline.vmstat}};
  if (!r.planted.empty()) {
    json planted = json::array();
    for (const auto& f : r.planted)
      planted.push_back({{"class", f.cls},
                         {"block", f.block},
                         {"expected_kind", f.expected_kind},
                         {"detected", f.detected},
                         {"reported_class", f.reported_kind},
                         {"detail", f.detail}});
    doc["planted"] = planted;
  }
  return doc.dump(2) + "\n";
}

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
      out += fmt::format("  fsync returned 0, but {} of {} DMA-written blocks acknowledged before it are not on disk "
                         "(strict contract)\n",
                         r.race->dma_blocks_strict_promised - r.race->dma_blocks_strict_found,
                         r.race->dma_blocks_strict_promised);
    else
      out += fmt::format("  {} strict miss(es): writes completed before a successful sync are not on disk "
                         "(\"fsync lied\")\n",
                         f.strict_misses);
  }
  if (f.kernel_alarms) out += fmt::format("  {} kernel alarm(s) in the kernel log\n", f.kernel_alarms);
  if (r.race) {
    int shown = 0;
    for (const auto& e : r.race->examples) {
      if (++shown > 5) break;
      out += fmt::format("  e.g. attempt {}: {} block {} (offset {}) expected gen >= {} ({}), found {}, promised by {}\n",
                         e.attempt, e.contract, e.block, e.offset, e.expected_generation, e.writer, e.found,
                         e.promised_by);
    }
  }
  auto examples_of = [&out](const RunReport& src, const std::string& prefix) {
    if (!src.verification) return;
    int k = 0;
    for (const auto& x : src.verification->violations) {
      if (++k > 3) break;
      out += fmt::format("  {}e.g. {} {}: block {} (offset {}) expected gen >= {}, found {}, writer {}, promised by {} #{}\n",
                         prefix, x.contract, x.kind, x.block, x.offset, x.expected_generation, x.found, x.writer,
                         x.sync_op, x.sync_id);
    }
  };
  if (r.cycles.empty()) examples_of(r, "");
  int cycle = 0;
  for (const auto& c : r.cycles) {
    ++cycle;
    const Findings cf = OneRunFindings(c);
    if (!cf.any()) continue;
    out += fmt::format("  cycle {} (seed {}): {} kernel violation(s), {} strict miss(es), {} alarm(s)\n", cycle,
                       c.seed, cf.kernel_violations, cf.strict_misses, cf.kernel_alarms);
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
  out += fmt::format("target {} of {} blocks of {}, pinner {}, sync {} {}, seed {}\n", FormatSize(r.target_size),
                     r.block_size ? r.target_size / r.block_size : 0, FormatSize(r.block_size), r.pinner, r.sync_op,
                     schedule, r.seed);
  if (r.mapping != "shared") out += "mapping: " + r.mapping_detail + "\n";
  for (const auto& n : r.notes) out += "note: " + n + "\n";
  if (std::string f = RenderFindings(r); !f.empty()) out += "\n" + f;
  if (r.race) {
    const RaceReport& x = *r.race;
    out += fmt::format("\nrace script {} on windows of {}: {} attempt(s) in {:.1f} s, {} with findings", x.script,
                       FormatSize(x.window_bytes), x.attempts, x.seconds, x.attempts_with_findings);
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
      out += fmt::format("; DMA blocks acknowledged before a successful sync: found {} of {}", x.dma_blocks_strict_found,
                         x.dma_blocks_strict_promised);
    out += "\n";
    if (!x.reclaim_detail.empty())
      out += fmt::format("  reclaim: {}; {} page(s) taken off the window's page tables\n", x.reclaim_detail,
                         x.reclaimed_pages);
    for (const auto& [k, n] : x.step_errors) out += fmt::format("  step error {} x{}\n", k, n);
  }
  if (!r.phases.empty()) {
    out += fmt::format("\n{:<10} {:>7} {:>10} {:>10} {:>8} {:>10} {:>10} {:>10} {:>10} {:>10}  {}\n", "phase", "secs",
                       "cpu wr", "pwrite wr", "dma wr", "syncs", "p50", "p99", "p99.9", "max", "pins");
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
        pins = p.pins.per_io
                   ? fmt::format("{} per-IO, measured {}: {} DMA IOs held {} pages while in flight", p.pins.pinner,
                                 measured, p.pins.ios, p.pins.io_pages)
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
  }
  if (r.comparison) out += "\n" + DescribeComparison(*r.comparison) + "\n";
  out += WritebackSummary(r);
  if (r.verification) {
    const auto& v = *r.verification;
    out += fmt::format("\nverification ({}, {}): {} blocks read in {:.2f} s", v.mode, r.verify_method,
                       v.checked_blocks, r.verify_seconds);
    for (const auto& [c, n] : v.classes) out += fmt::format(", {} {}", n, c);
    out += "\n";
    out += fmt::format("  kernel contract: {} violation(s)\n", v.kernel_violations);
    out += fmt::format("  strict contract: {} miss(es)", v.strict_misses);
    for (const auto& [k, t] : v.strict_by_writer)
      out += fmt::format("; {} writes completed before a successful sync: found {} of {}", k, t.found, t.promised);
    out += "\n";
    size_t shown = 0;
    for (const auto& x : v.violations) {
      if (++shown > 20) {
        out += fmt::format("  ... {} more in the JSON report\n", v.violations.size() - 20 + v.violations_dropped);
        break;
      }
      out += fmt::format("  {} {}: block {} (offset {}) expected gen >= {}, found {}, writer {}, promised by {} #{}\n",
                         x.contract, x.kind, x.block, x.offset, x.expected_generation, x.found, x.writer, x.sync_op,
                         x.sync_id);
    }
  }
  if (r.crash) {
    const auto& c = *r.crash;
    out += fmt::format("crash ({}) in phase {} at {:.2f} s (log seq {}): shutdown {:.3f} s, stop {:.3f} s, unmount {:.3f} s, "
                       "mount {:.3f} s, verify {:.3f} s; shutdown: {}\n",
                       c.model, c.phase, c.at_s, c.seq, c.shutdown_s, c.stop_s, c.unmount_s, c.mount_s, c.verify_s,
                       c.shutdown_result);
  }
  if (r.pin_leak_pages > 0) out += fmt::format("pin leak: {} pages acquired and not released\n", r.pin_leak_pages);
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
    out += fmt::format("hang: {} in {} for {:.1f} s, wchan {}\n{}", h.role, h.op, h.seconds, h.wchan, h.kernel_stack);
  out += fmt::format("\nverdict: {}", VerdictName(r.verdict));
  for (const auto& why : r.reasons) out += "\n  " + why;
  out += "\n";
  return out;
}

}  // namespace longpin
