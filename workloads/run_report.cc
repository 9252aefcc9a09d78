#include "workloads/run_report.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "core/units.h"

namespace longpin {
namespace {

using nlohmann::json;

const char* const kSyncOps[] = {"fsync", "fdatasync", "msync", "sync_file_range", "syncfs"};
const char* const kWriterKinds[] = {"cpu", "pwrite", "dma"};

json HistogramJson(const LatencyHistogram& h) {
  return json{{"count", h.count()},          {"min_ns", h.min()},           {"p50_ns", h.Quantile(0.5)},
              {"p90_ns", h.Quantile(0.9)},   {"p99_ns", h.Quantile(0.99)}, {"p999_ns", h.Quantile(0.999)},
              {"max_ns", h.max()},           {"mean_ns", uint64_t(h.mean())}};
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
              {"pins",
               {{"pinner", p.pins.pinner},
                {"reference", p.pins.reference},
                {"windows", p.pins.windows},
                {"requested_pages", p.pins.requested_pages},
                {"granted_pages", p.pins.granted_pages},
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

std::string RenderJson(const RunReport& r) {
  json phases = json::array();
  for (const auto& p : r.phases) phases.push_back(PhaseJson(p));
  json events = json::array();
  for (const auto& e : r.kernel_events)
    events.push_back({{"class", KernelEventClassName(e.cls)},
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
           {"verdict", r.verdict},
           {"exit_code", r.exit_code},
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
        pins = fmt::format("{} {}: {}/{} pages granted", p.pins.pinner, p.pins.reference, p.pins.granted_pages,
                           p.pins.requested_pages);
        for (const auto& [e, n] : p.pins.refused) pins += fmt::format(", {} refused {}", n, e);
        if (p.pins.after.available)
          pins += fmt::format(", foll_pin +{}/-{}", p.pins.after.acquired - p.pins.before.acquired,
                              p.pins.after.released - p.pins.before.released);
      }
      out += fmt::format("{:<10} {:>7.1f} {:>10} {:>10} {:>8} {:>10} {:>10} {:>10} {:>10} {:>10}  {}\n", p.name,
                         p.seconds, w("cpu"), w("pwrite"), w("dma"), h.count(), FormatNs(h.Quantile(0.5)),
                         FormatNs(h.Quantile(0.99)), FormatNs(h.Quantile(0.999)), FormatNs(h.max()), pins);
    }
  }
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
  for (const auto& e : r.kernel_events)
    out += fmt::format("kernel {}: {}{}\n", KernelEventClassName(e.cls), e.line, e.TaskSuffix());
  for (const auto& h : r.hangs)
    out += fmt::format("hang: {} in {} for {:.1f} s, wchan {}\n{}", h.role, h.op, h.seconds, h.wchan, h.kernel_stack);
  out += fmt::format("\nverdict: {}", r.verdict);
  for (const auto& why : r.reasons) out += "\n  " + why;
  out += "\n";
  return out;
}

}  // namespace longpin
