// The JSON report document (docs/report-schema.md): built once per run as one object that the --json file
// is written from and that JUnit, KTAP and HTML render, without a round trip through text.
#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "report/run_report.h"

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
          {"pin_reference",
           {{"measured", x.measured_reference},
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

json FindingsJson(const RunReport& r) {
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

json KernelEventsJson(const RunReport& r) {
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
  return events;
}

json HangsJson(const RunReport& r) {
  json hangs = json::array();
  for (const auto& h : r.hangs)
    hangs.push_back({{"role", h.role},
                     {"op", h.op},
                     {"tid", h.tid},
                     {"seconds", h.seconds},
                     {"wchan", h.wchan},
                     {"kernel_stack", h.kernel_stack}});
  return hangs;
}

json EnvironmentJson(const RunReport& r) {
  return {{"kernel", r.kernel},
          {"fs", r.fs},
          {"fs_detail", r.fs_detail},
          {"root", r.root},
          {"block_size", r.block_size},
          {"target_size", r.target_size},
          {"target_path", r.target_path},
          {"kernel_log", r.kernel_log_unavailable ? *r.kernel_log_unavailable : "read"},
          {"mapping", r.mapping},
          {"mapping_detail", r.mapping_detail}};
}

json RunJson(const RunReport& r) {
  return {{"run_id", fmt::format("{:016x}", r.run_id)},
          {"seed", r.seed},
          {"pinner", r.pinner},
          {"sync_op", r.sync_op},
          {"sync_interval_s", r.sync_interval_s},
          {"sync_each_write", r.sync_each_write},
          {"interrupted", r.interrupted},
          {"run_dir", r.run_dir},
          {"expected_log", r.expected_log_path},
          {"expected_log_bytes", r.expected_log_bytes},
          {"kept_image", r.kept_image},
          {"rounds", r.rounds}};
}

json ComparisonJson(const std::optional<SyncComparison>& comparison) {
  if (!comparison) return nullptr;
  const SyncComparison& c = *comparison;
  auto q = [](const QuantileRatio& x) { return json{{"ratio", x.ratio}, {"ci95", {x.lo, x.hi}}}; };
  return {{"op", c.op},
          {"p50", q(c.p50)},
          {"p99", q(c.p99)},
          {"p999", q(c.p999)},
          {"detectable", c.detectable},
          {"baseline_count", c.baseline_count},
          {"pinned_count", c.pinned_count}};
}

json CrashJson(const std::optional<CrashReport>& crash) {
  if (!crash) return nullptr;
  const CrashReport& c = *crash;
  return {{"model", c.model},
          {"phase", c.phase},
          {"at_s", c.at_s},
          {"seq", c.seq},
          {"shutdown_result", c.shutdown_result},
          {"steps_s",
           {{"shutdown", c.shutdown_s},
            {"stop", c.stop_s},
            {"unmount", c.unmount_s},
            {"mount", c.mount_s},
            {"verify", c.verify_s}}}};
}

json TimelineJson(const Timeline& t) {
  json pins = json::array();
  for (const auto& p : t.pins) pins.push_back({p.pinned_ms, p.released_ms, p.offset, p.bytes, p.err});
  return {{"syncs", t.syncs},
          {"pins", pins},
          {"crash_ms", t.crash_ms ? json(*t.crash_ms) : json(nullptr)},
          {"vmstat", t.vmstat}};
}

json PlantedJson(const std::vector<PlantedFault>& faults) {
  json planted = json::array();
  for (const auto& f : faults)
    planted.push_back({{"class", f.cls},
                       {"block", f.block},
                       {"expected_kind", f.expected_kind},
                       {"detected", f.detected},
                       {"reported_class", f.reported_kind},
                       {"detail", f.detail}});
  return planted;
}

}  // namespace

nlohmann::json ReportDocument(const RunReport& r) {
  json phases = json::array();
  for (const auto& p : r.phases) phases.push_back(PhaseJson(p));
  json doc{{"schema_version", kReportSchemaVersion},
           {"tool", "longpin"},
           {"verdict", VerdictName(r.verdict)},
           {"exit_code", r.exit_code()},
           {"reasons", r.reasons},
           {"notes", r.notes},
           {"environment", EnvironmentJson(r)},
           {"run", RunJson(r)},
           {"phases", phases},
           {"sync_errors", r.sync_errors_total},
           {"kernel_events", KernelEventsJson(r)},
           {"hangs", HangsJson(r)},
           {"verification", r.verification ? VerificationJson(*r.verification, r) : json(nullptr)},
           {"findings", FindingsJson(r)},
           {"comparison", ComparisonJson(r.comparison)},
           {"pin_balance", {{"checked", r.pin_balance_checked}, {"leaked_pages", r.pin_leak_pages}}},
           {"crash", CrashJson(r.crash)},
           {"timeline", TimelineJson(r.timeline)}};
  if (r.race) doc["race"] = RaceJson(*r.race);
  if (!r.planted.empty()) doc["planted"] = PlantedJson(r.planted);
  return doc;
}

std::string RenderJson(const RunReport& r) {
  return ReportDocument(r).dump(2) + "\n";
}

}  // namespace longpin
