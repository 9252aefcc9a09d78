// A self-contained HTML page from a report document: inline CSS and SVG, no script, and a
// Content-Security-Policy that forbids every fetch, so the page opens the same on an air-gapped lab machine
// as in a CI artifact viewer.
#include "report/report_html.h"

#include <fmt/format.h>

#include <algorithm>
#include <string>
#include <vector>

#include "core/units.h"
#include "report/report_formats.h"
#include "report/svg_charts.h"

namespace longpin {
namespace html {
namespace {

using nlohmann::json;
using report_detail::CountAt;
using report_detail::Dump;
using report_detail::Member;
using report_detail::NumberAt;
using report_detail::Text;
using report_detail::TextAt;

// Tables list this many violations; the JSON report has them all.
constexpr size_t kListedViolations = 100;

std::string Cell(std::string_view text, std::string_view css_class = "") {
  if (css_class.empty()) return "<td>" + Esc(text) + "</td>";
  return fmt::format("<td class=\"{}\">{}</td>", css_class, Esc(text));
}

std::string HeaderRow(std::initializer_list<std::string_view> names) {
  std::string out = "<tr>";
  for (auto n : names) out += "<th>" + Esc(n) + "</th>";
  return out + "</tr>";
}

// Objects of unknown or growing shape (environment, run, crash) as key/value rows, nested values as JSON.
std::string KeyValueTable(const json& obj, std::string_view css_class) {
  if (!obj.is_object() || obj.empty()) return "";
  std::string out = fmt::format("<table class=\"kv {}\">", css_class);
  for (const auto& [key, value] : obj.items())
    out += "<tr><th>" + Esc(key) + "</th>" + Cell(value.is_structured() ? Dump(value) : Text(value, "null")) +
           "</tr>";
  return out + "</table>\n";
}

// Arrays of objects of unknown or growing shape (planted faults) as a table over the union of their keys.
std::string ObjectListTable(const json& list, std::string_view css_class) {
  if (!list.is_array() || list.empty()) return "";
  std::vector<std::string> keys;
  for (const auto& row : list)
    if (row.is_object())
      for (const auto& [key, value] : row.items())
        if (std::find(keys.begin(), keys.end(), key) == keys.end()) keys.push_back(key);
  std::string out = fmt::format("<table class=\"{}\"><tr>", css_class);
  for (const auto& k : keys) out += "<th>" + Esc(k) + "</th>";
  out += "</tr>";
  for (const auto& row : list) {
    out += "<tr>";
    for (const auto& k : keys) {
      const json& v = Member(row, k);
      out += Cell(v.is_structured() ? Dump(v) : Text(v));
    }
    out += "</tr>";
  }
  return out + "</table>\n";
}

std::string VerdictClass(std::string_view verdict) {
  if (verdict == "pass") return "pass";
  if (verdict == "fail") return "fail";
  if (verdict == "skip") return "skip";
  return "error";
}

std::string PhasesTable(const json& run) {
  const json& phases = Member(run, "phases");
  if (!phases.is_array() || phases.empty()) return "<p class=\"muted\">No phases in this report.</p>\n";
  std::string out = "<table class=\"phases\">" + HeaderRow({"phase", "seconds", "writes", "sync", "syncs",
                                                            "p50", "p99", "p99.9", "max", "pins", "errors"});
  for (size_t i = 0; i < phases.size(); ++i) {
    const json& p = phases[i];
    std::string writes;
    const json& w = Member(p, "writes");
    if (w.is_object())
      for (const auto& [kind, n] : w.items())
        writes += fmt::format("{}{} {}", writes.empty() ? "" : ", ", kind, Text(n));
    std::string pins = "-";
    const json& pi = Member(p, "pins");
    if (TextAt(pi, "pinner", "none") != "none") {
      pins =
          fmt::format("{} {}: {}/{} pages in {} windows", TextAt(pi, "pinner"), TextAt(pi, "reference"),
                      CountAt(pi, "granted_pages"), CountAt(pi, "requested_pages"), CountAt(pi, "windows"));
      const json& refused = Member(pi, "refused");
      if (refused.is_array())
        for (const auto& r : refused)
          pins += fmt::format(", {} refused {}", TextAt(r, "count"), TextAt(r, "errno"));
    }
    std::string errors;
    for (const char* key : {"sync_errors", "write_errors"}) {
      const json& e = Member(p, key);
      if (e.is_object())
        for (const auto& [what, n] : e.items())
          errors += fmt::format("{}{} x{}", errors.empty() ? "" : ", ", what, Text(n));
    }
    // One row per sync op that ran; a phase without syncs still gets its row.
    std::vector<std::string> op_cells;
    for (const char* op : kSyncOps) {
      const json& h = Member(Member(p, "sync"), op);
      if (CountAt(h, "count") == 0) continue;
      op_cells.push_back(
          Cell(op) + Cell(std::to_string(CountAt(h, "count")), "num") +
          Cell(FormatNs(CountAt(h, "p50_ns")), "num") + Cell(FormatNs(CountAt(h, "p99_ns")), "num") +
          Cell(FormatNs(CountAt(h, "p999_ns")), "num") + Cell(FormatNs(CountAt(h, "max_ns")), "num"));
    }
    if (op_cells.empty())
      op_cells.push_back(Cell("-") + Cell("0", "num") + "<td></td><td></td><td></td><td></td>");
    for (size_t k = 0; k < op_cells.size(); ++k) {
      out += "<tr>";
      if (k == 0) {
        std::string rows = fmt::format(" rowspan=\"{}\"", op_cells.size());
        out += fmt::format("<td{}>{}</td><td class=\"num\"{}>{:.2f}</td><td{}>{}</td>", rows,
                           Esc(TextAt(p, "name", fmt::format("phase {}", i))), rows, NumberAt(p, "seconds"),
                           rows, Esc(writes));
      }
      out += op_cells[k];
      if (k == 0)
        out += fmt::format("<td rowspan=\"{0}\">{1}</td><td rowspan=\"{0}\">{2}</td>", op_cells.size(),
                           Esc(pins), Esc(errors));
      out += "</tr>";
    }
  }
  return out + "</table>\n";
}

std::string VerificationSection(const json& run) {
  const json& v = Member(run, "verification");
  if (!v.is_object()) return "<p class=\"muted\">Not verified (no verification in this report).</p>\n";
  uint64_t kernel = CountAt(Member(v, "kernel_contract"), "violations");
  const json& strict = Member(v, "strict_contract");
  uint64_t strict_misses = CountAt(strict, "misses");
  std::string classes;
  const json& c = Member(v, "classes");
  if (c.is_object())
    for (const auto& [name, n] : c.items())
      classes += fmt::format("{}{} {}", classes.empty() ? "" : ", ", Text(n), name);
  std::string out = "<table class=\"kv verification\">";
  auto row = [&](std::string_view key, std::string_view value, std::string_view css = "") {
    out += "<tr><th>" + Esc(key) + "</th>" + Cell(value, css) + "</tr>";
  };
  row("mode", TextAt(v, "mode", "?"));
  row("read with", TextAt(v, "method", "?"));
  row("blocks checked", fmt::format("{} ({} read in {:.2f} s)", CountAt(v, "checked_blocks"),
                                    FormatSize(CountAt(v, "bytes_read")), NumberAt(v, "seconds")));
  row("blocks found", classes);
  row("kernel contract", fmt::format("{} violation(s)", kernel), kernel ? "fail" : "pass");
  row("strict contract", fmt::format("{} miss(es)", strict_misses), strict_misses ? "warn" : "pass");
  if (CountAt(v, "beyond_log")) row("beyond the log", std::to_string(CountAt(v, "beyond_log")));
  out += "</table>\n";
  const json& by_writer = Member(strict, "by_writer");
  if (by_writer.is_object() && !by_writer.empty()) {
    out +=
        "<table class=\"strict\"><caption>strict contract by writer: writes completed before a successful "
        "sync"
        "</caption>" +
        HeaderRow({"writer", "promised", "found on disk", "missing"});
    for (const auto& [kind, t] : by_writer.items())
      out += "<tr>" + Cell(kind) + Cell(std::to_string(CountAt(t, "promised")), "num") +
             Cell(std::to_string(CountAt(t, "found")), "num") +
             Cell(std::to_string(CountAt(t, "missing")), CountAt(t, "missing") ? "num warn" : "num") +
             "</tr>";
    out += "</table>\n";
  }
  const json& list = Member(v, "violations");
  if (list.is_array() && !list.empty()) {
    out += fmt::format("<table class=\"violations\"><caption>violations ({} listed here of {})</caption>",
                       std::min(list.size(), kListedViolations),
                       list.size() + CountAt(v, "violations_not_listed")) +
           HeaderRow({"contract", "kind", "block", "offset", "expected gen", "found", "found gen", "writer",
                      "promised by"});
    for (size_t i = 0; i < list.size() && i < kListedViolations; ++i) {
      const json& x = list[i];
      out += "<tr>" + Cell(TextAt(x, "contract"), TextAt(x, "contract") == "kernel" ? "fail" : "warn") +
             Cell(TextAt(x, "kind")) + Cell(TextAt(x, "block"), "num") + Cell(TextAt(x, "offset"), "num") +
             Cell(TextAt(x, "expected_generation"), "num") + Cell(TextAt(x, "found")) +
             Cell(TextAt(x, "found_generation"), "num") + Cell(TextAt(x, "writer")) +
             Cell(TextAt(x, "sync_op") + " #" + TextAt(x, "sync_id")) + "</tr>";
    }
    out += "</table>\n";
    size_t more =
        list.size() - std::min(list.size(), kListedViolations) + CountAt(v, "violations_not_listed");
    if (more) out += fmt::format("<p class=\"muted\">{} more violation(s) are not listed here.</p>\n", more);
  }
  return out;
}

std::string KernelSection(const json& run) {
  std::string out;
  std::string log_state = TextAt(Member(run, "environment"), "kernel_log");
  if (!log_state.empty() && log_state != "read")
    out += "<p class=\"warn\">Kernel log not monitored: " + Esc(log_state) + "</p>\n";
  const json& events = Member(run, "kernel_events");
  if (events.is_array() && !events.empty()) {
    out += "<table class=\"kernel-events\"><caption>kernel log lines</caption>" +
           HeaderRow({"class", "time (µs)", "task (/dev/kmsg is system-wide)", "line"});
    for (const auto& e : events) {
      const json& alarm = Member(e, "alarm");
      bool is_alarm = !(alarm.is_boolean() && !alarm.get<bool>());
      const std::string pid = TextAt(e, "pid");
      std::string task;
      if (!pid.empty() && pid != "0") {
        task = "PID " + pid + " " + TextAt(e, "comm");
        if (!TextAt(e, "origin").empty()) task += " (" + TextAt(e, "origin") + ")";
      }
      out += "<tr>" + Cell(TextAt(e, "class", "?"), is_alarm ? "fail" : "") + Cell(TextAt(e, "usec"), "num") +
             Cell(task) + "<td><code>" + Esc(TextAt(e, "line")) + "</code></td></tr>";
    }
    out += "</table>\n";
  }
  const json& hangs = Member(run, "hangs");
  if (hangs.is_array() && !hangs.empty()) {
    out += "<table class=\"hangs\"><caption>hangs</caption>" +
           HeaderRow({"thread", "in", "tid", "seconds", "wchan", "kernel stack"});
    for (const auto& h : hangs)
      out += "<tr>" + Cell(TextAt(h, "role"), "fail") + Cell(TextAt(h, "op")) +
             Cell(TextAt(h, "tid"), "num") + Cell(fmt::format("{:.1f}", NumberAt(h, "seconds")), "num") +
             Cell(TextAt(h, "wchan")) + "<td><pre>" + Esc(TextAt(h, "kernel_stack")) + "</pre></td></tr>";
    out += "</table>\n";
  }
  const json& errors = Member(run, "sync_errors");
  if (errors.is_object() && !errors.empty())
    out += "<h3>sync errors</h3>" + KeyValueTable(errors, "sync-errors");
  return out;
}

// What the kernel did wrong leads: totals over every crash cycle and race attempt, the first examples, and
// the command that reproduces them; "" when nothing was found.
std::string FindingsBlock(const json& run) {
  std::string out;
  const json& findings = Member(run, "findings");
  if (findings.is_object() && (CountAt(findings, "kernel_violations") || CountAt(findings, "strict_misses") ||
                               CountAt(findings, "kernel_alarms"))) {
    out += fmt::format(
        "<div class=\"verdict fail\">findings: <b>{} kernel-contract violation(s), {} strict miss(es), "
        "{} kernel alarm(s)</b>",
        CountAt(findings, "kernel_violations"), CountAt(findings, "strict_misses"),
        CountAt(findings, "kernel_alarms"));
    if (CountAt(findings, "attempts"))
      out += fmt::format(" in {} race attempt(s)", CountAt(findings, "attempts"));
    out += "<ul>";
    const json& examples = Member(Member(run, "race"), "examples");
    if (examples.is_array())
      for (size_t i = 0; i < examples.size() && i < 5; ++i) {
        const json& e = examples[i];
        out += "<li>" +
               Esc(fmt::format(
                   "attempt {}: {} block {} (offset {}) expected gen >= {} ({}), found {}, promised by {}",
                   CountAt(e, "attempt"), TextAt(e, "contract", "?"), CountAt(e, "block"),
                   CountAt(e, "offset"), CountAt(e, "expected_generation"), TextAt(e, "writer", "?"),
                   TextAt(e, "found", "?"), TextAt(e, "promised_by", "?"))) +
               "</li>";
      }
    if (!TextAt(findings, "reproduce", "").empty())
      out += "<li>reproduce: <code>" + Esc(TextAt(findings, "reproduce", "")) + "</code></li>";
    out += "</ul></div>\n";
  }
  return out;
}

// The pinned/baseline sync latency ratios with their intervals; "" without a comparison.
std::string ComparisonLine(const json& run) {
  std::string out;
  const json& cmp = Member(run, "comparison");
  if (cmp.is_object()) {
    auto q = [&](const char* k) {
      const json& x = Member(cmp, k);
      const json& ci = Member(x, "ci95");
      const bool ok = ci.is_array() && ci.size() == 2 && ci[0].is_number() && ci[1].is_number();
      return fmt::format("{} {:.2f} [{:.2f}, {:.2f}]", k, NumberAt(x, "ratio"),
                         ok ? ci[0].get<double>() : 0.0, ok ? ci[1].get<double>() : 0.0);
    };
    const bool detectable = Member(cmp, "detectable").is_boolean() && Member(cmp, "detectable").get<bool>();
    out += "<p>" +
           Esc(fmt::format("{} pinned/baseline: {}, {}, {} (95% CI): {}", TextAt(cmp, "op", "sync"), q("p50"),
                           q("p99"), q("p999"),
                           detectable ? "pins change sync latency" : "no difference detectable")) +
           "</p>\n";
  }
  return out;
}

constexpr const char* kStyle = R"css(
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; max-width: 1000px; }
h1 { font-size: 1.5em; } h3 { margin-top: 1.5em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: 0.5em 0; }
th, td { border: 1px solid #ccc; padding: 3px 7px; text-align: left; vertical-align: top; }
th { background: #f3f3f3; } caption { text-align: left; font-weight: bold; padding: 4px 0; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
code, pre { font: 12px/1.3 ui-monospace, monospace; white-space: pre-wrap; word-break: break-all; margin: 0; }
.pass { background: #c8e6c9; } .fail { background: #ffcdd2; } .skip { background: #e0e0e0; }
.error { background: #ffe0b2; } .warn { background: #fff9c4; } .muted { color: #666; }
.verdict { padding: 8px 12px; border-radius: 4px; font-size: 1.1em; }
.verdict ul { margin: 4px 0 0; font-size: 0.9em; }
figure.chart { margin: 1em 0; } figcaption { font-weight: bold; margin-bottom: 4px; }
svg { max-width: 100%; height: auto; background: #fff; font: 11px sans-serif; }
svg .frame { fill: none; stroke: #999; } svg .grid { stroke: #e5e5e5; } svg .tick { stroke: #999; }
svg .axis-label { font-size: 12px; fill: #444; }
table.matrix td.cells { padding: 2px; } table.matrix td.absent { background: #fafafa; }
a.cell, span.cell { display: block; padding: 4px 6px; margin: 1px; color: #222; text-decoration: none;
  border-radius: 3px; } span.cell { display: inline-block; }
a.cell.pass { background: #66bb6a; } a.cell.fail { background: #ef5350; color: #fff; }
a.cell.skip { background: #bdbdbd; } a.cell.error { background: #ffa726; }
details.cell-report { margin: 0.5em 0; border: 1px solid #ddd; padding: 4px 10px; }
summary { cursor: pointer; }
)css";

}  // namespace

std::string RunSection(const json& run) {
  std::string verdict = TextAt(run, "verdict", "unknown");
  std::string out =
      fmt::format("<div class=\"verdict {}\">verdict: <b>{}</b>", VerdictClass(verdict), Esc(verdict));
  const json& reasons = Member(run, "reasons");
  if (reasons.is_array() && !reasons.empty()) {
    out += "<ul>";
    for (const auto& r : reasons) out += "<li>" + Esc(Text(r, Dump(r))) + "</li>";
    out += "</ul>";
  }
  out += "</div>\n";
  out += FindingsBlock(run);
  out += ComparisonLine(run);
  const json& notes = Member(run, "notes");
  if (notes.is_array() && !notes.empty()) {
    out += "<ul class=\"notes\">";
    for (const auto& n : notes) out += "<li>note: " + Esc(Text(n, Dump(n))) + "</li>";
    out += "</ul>\n";
  }
  out += ChartsSection(run);
  out += "<h3>environment</h3>\n" + KeyValueTable(Member(run, "environment"), "environment");
  out += "<h3>run</h3>\n" + KeyValueTable(Member(run, "run"), "run");
  out += "<h3>phases</h3>\n" + PhasesTable(run);
  out += "<h3>verification</h3>\n" + VerificationSection(run);
  std::string kernel = KernelSection(run);
  if (!kernel.empty()) out += "<h3>kernel, hangs and errors</h3>\n" + kernel;
  const json& crash = Member(run, "crash");
  if (crash.is_object()) out += "<h3>crash</h3>\n" + KeyValueTable(crash, "crash");
  const json& balance = Member(run, "pin_balance");
  if (balance.is_object()) out += "<h3>pin balance</h3>\n" + KeyValueTable(balance, "pin-balance");
  const json& planted = Member(run, "planted");
  if (planted.is_array() && !planted.empty())
    out += "<h3>planted faults</h3>\n" + ObjectListTable(planted, "planted");
  return out;
}

}  // namespace html

std::string RenderHtml(const nlohmann::json& doc) {
  using namespace html;
  using report_detail::Member;
  using report_detail::TextAt;
  std::string title, body;
  if (report_detail::IsMatrix(doc)) {
    title = fmt::format("longpin matrix: {} cells", Member(doc, "cells").size());
    body = "<h1>" + Esc(title) + "</h1>\n" + MatrixSection(doc);
  } else {
    title = fmt::format("longpin run {}: {}", TextAt(Member(doc, "run"), "run_id", "?"),
                        TextAt(doc, "verdict", "unknown"));
    const json& env = Member(doc, "environment");
    body = "<h1>" + Esc(title) + "</h1>\n<p>" +
           Esc(fmt::format("kernel {} · {} · pinner {} · {}", TextAt(env, "kernel", "?"),
                           TextAt(env, "fs_detail", TextAt(env, "fs", "?")),
                           TextAt(Member(doc, "run"), "pinner", "?"), SyncOpName(doc))) +
           "</p>\n" + RunSection(doc);
  }
  body += fmt::format("<p class=\"muted\">rendered by longpin from a report of schema version {}</p>\n",
                      Esc(TextAt(doc, "schema_version", "unknown")));
  return fmt::format(
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
      "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src "
      "'unsafe-inline'\">\n"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
      "<title>{}</title>\n<style>{}</style>\n</head>\n<body>\n{}</body>\n</html>\n",
      Esc(title), kStyle, body);
}

}  // namespace longpin
