// The matrix part of the HTML page: one table whose rows are what pins (pinner, mapping) and whose columns
// are where it lands (kernel, filesystem, sync op), each cell coloured by what its kernel's rule says of it
// and linked to its run below.
#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "core/units.h"
#include "report/report_html.h"

namespace longpin::html {
namespace {

using nlohmann::json;
using report_detail::CountAt;
using report_detail::Member;
using report_detail::TextAt;

std::string OutcomeClass(std::string_view outcome) {
  auto starts = [&](std::string_view prefix) { return outcome.substr(0, prefix.size()) == prefix; };
  if (starts("pass")) return "pass";
  if (starts("skip") || starts("refused")) return "skip";
  if (starts("fail") || starts("kernel event") || starts("hang")) return "fail";
  return "error";
}

// A matrix cell's colour: what its kernel's rule says wins over the bare outcome (an expected refusal is a
// pass, an unexpected grant a fail).
std::string CellClass(const json& cell) {
  const json& expected = Member(cell, "as_expected");
  const std::string outcome =
      TextAt(cell, "outcome", TextAt(Member(cell, "report"), "verdict", "no outcome"));
  const std::string css = OutcomeClass(outcome);
  if (expected.is_boolean() && !expected.get<bool>()) return "fail";
  if (expected.is_boolean() && css == "skip" && outcome.rfind("refused", 0) == 0) return "pass";
  return css;
}

// p99 of the phase's busiest sync op, "-" when it had none.
std::string PhaseP99(const json& run, std::string_view phase_name) {
  const json& phases = Member(run, "phases");
  if (!phases.is_array()) return "-";
  for (const auto& p : phases) {
    if (TextAt(p, "name") != phase_name) continue;
    uint64_t best_count = 0, p99 = 0;
    for (const char* op : kSyncOps) {
      const json& h = Member(Member(p, "sync"), op);
      if (CountAt(h, "count") > best_count) {
        best_count = CountAt(h, "count");
        p99 = CountAt(h, "p99_ns");
      }
    }
    return best_count ? FormatNs(p99) : "-";
  }
  return "-";
}

// The table, then its tally by colour.
std::string MatrixTable(const json& cells) {
  // Rows: what pins what (pinner, mapping); columns: where it lands (filesystem, sync op); first-seen order.
  std::vector<std::string> rows, columns;
  std::map<std::pair<std::string, std::string>, std::vector<size_t>> at;
  // Several kernels: each kernel is a group of columns, so one row compares them side by side.
  std::set<std::string> kernels;
  for (const auto& cell : cells) kernels.insert(TextAt(cell, "kernel_name"));
  for (size_t i = 0; i < cells.size(); ++i) {
    std::string row = TextAt(cells[i], "pinner", "?") + " · " + TextAt(cells[i], "mapping", "?");
    std::string column = TextAt(cells[i], "fs", "?") + " · " + TextAt(cells[i], "sync", "?");
    if (kernels.size() > 1) column = TextAt(cells[i], "kernel_name") + " · " + column;
    if (std::find(rows.begin(), rows.end(), row) == rows.end()) rows.push_back(row);
    if (std::find(columns.begin(), columns.end(), column) == columns.end()) columns.push_back(column);
    at[{row, column}].push_back(i);
  }
  std::map<std::string, size_t> tally;
  std::string out = "<table class=\"matrix\"><tr><th>pinner · mapping \\ fs · sync</th>";
  for (const auto& c : columns) out += "<th>" + Esc(c) + "</th>";
  out += "</tr>";
  for (const auto& r : rows) {
    out += "<tr><th>" + Esc(r) + "</th>";
    for (const auto& c : columns) {
      auto it = at.find({r, c});
      if (it == at.end()) {
        out += "<td class=\"absent\"></td>";
        continue;
      }
      // Several cells at one coordinate (another workload, a repeat) stack in one table cell.
      out += "<td class=\"cells\">";
      for (size_t i : it->second) {
        const json& cell = cells[i];
        const json& run = Member(cell, "report");
        std::string outcome = report_detail::MarkedCellOutcome(cell);
        std::string css = CellClass(cell);
        ++tally[css];
        // The pinned/baseline ratio with its interval; documents of older versions had two bare p99s.
        std::string latency = TextAt(cell, "comparison");
        if (latency.empty())
          latency = "p99 " + TextAt(cell, "p99_baseline", PhaseP99(run, "baseline")) + " → " +
                    TextAt(cell, "p99_pinned", PhaseP99(run, "pinned"));
        out += fmt::format("<a class=\"cell {}\" href=\"#cell-{}\">{}<br><small>{}</small></a>", css, i,
                           Esc(outcome), Esc(latency));
      }
      out += "</td>";
    }
    out += "</tr>";
  }
  out += "</table>\n";
  out += fmt::format(
      "<p class=\"legend\"><span class=\"cell pass\">pass {}</span> <span class=\"cell fail\">fail {}</span> "
      "<span class=\"cell skip\">skipped or refused {}</span> <span class=\"cell error\">error {}</span> "
      "<small>(fsync p99 pinned/baseline with its 95% interval)</small></p>\n",
      tally["pass"], tally["fail"], tally["skip"], tally["error"]);
  return out;
}

// Each cell's run in a collapsed section, the target of the table's links.
std::string CellReports(const json& cells) {
  std::string out;
  for (size_t i = 0; i < cells.size(); ++i) {
    const json& cell = cells[i];
    std::string name = fmt::format("{} / {} / {} / {}", TextAt(cell, "pinner", "?"), TextAt(cell, "fs", "?"),
                                   TextAt(cell, "mapping", "?"), TextAt(cell, "sync", "?"));
    if (!TextAt(cell, "kernel_name").empty())
      name += " on " + TextAt(cell, "kernel_name") + " " + TextAt(cell, "kernel");
    out += fmt::format(
        "<details class=\"cell-report\" id=\"cell-{}\"><summary><span class=\"cell {}\">{}</span> {}"
        "</summary>\n",
        i, CellClass(cell), Esc(report_detail::MarkedCellOutcome(cell)), Esc(name));
    if (!TextAt(cell, "judgement").empty())
      out += "<p>" + Esc("kernel rules: " + TextAt(cell, "judgement")) + "</p>\n";
    const json& run = Member(cell, "report");
    out += run.is_object() ? RunSection(run) : "<p class=\"muted\">No run report for this cell.</p>\n";
    out += "</details>\n";
  }
  return out;
}

}  // namespace

std::string MatrixSection(const json& doc) {
  const json& cells = Member(doc, "cells");
  return MatrixTable(cells) + CellReports(cells);
}

}  // namespace longpin::html
