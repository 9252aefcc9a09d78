// KTAP v1 (Documentation/dev-tools/ktap.rst) from a report document, for kselftest runners and LAVA.
#include <fmt/format.h>

#include <algorithm>
#include <string>

#include "report/report_cases.h"
#include "report/report_formats.h"

namespace longpin {
namespace {

using nlohmann::json;
using report_detail::ReportCase;

// A diagnostic line must stay one line, or a parser would read its continuation as a result line.
void AppendDiagnostic(std::string& out, std::string_view indent, std::string_view text) {
  size_t start = 0;
  do {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(start, end - start);
    out += indent;
    out += line.empty() ? "#" : "# " + std::string(line);
    out += '\n';
    start = end + 1;
  } while (start < text.size());
}

std::string OneLine(std::string_view text) {
  std::string out(text);
  for (char& ch : out)
    if (ch == '\n' || ch == '\r') ch = ' ';
  return out;
}

// Diagnostics come before the result line they explain, as kselftest prints them.
void AppendResult(std::string& out, std::string_view indent, size_t number, const ReportCase& c) {
  if (!c.output.empty()) AppendDiagnostic(out, indent, c.output);
  if (c.result == ReportCase::Result::kFail || c.result == ReportCase::Result::kError) {
    if (!c.message.empty() && (c.details.empty() || c.details[0] != c.message))
      AppendDiagnostic(out, indent,
                       (c.result == ReportCase::Result::kError ? "error: " : "failed: ") + c.message);
    for (const auto& line : c.details) AppendDiagnostic(out, indent, line);
  }
  bool ok = c.result == ReportCase::Result::kPass || c.result == ReportCase::Result::kSkip ||
            c.result == ReportCase::Result::kXfail;
  out += fmt::format("{}{} {} {}", indent, ok ? "ok" : "not ok", number, report_detail::TestName(c.name));
  if (c.result == ReportCase::Result::kSkip) out += " # SKIP " + OneLine(c.message);
  // kselftest's ksft_test_result_xfail: "ok N name # XFAIL reason".
  if (c.result == ReportCase::Result::kXfail) out += " # XFAIL " + OneLine(c.message);
  out += '\n';
}

void AppendRun(std::string& out, std::string_view indent, const json& run) {
  using namespace report_detail;
  std::vector<ReportCase> cases = RunCases(run);
  out += fmt::format("{}KTAP version 1\n", indent);
  out += fmt::format("{}1..{}\n", indent, cases.size());
  for (size_t i = 0; i < cases.size(); ++i) AppendResult(out, indent, i + 1, cases[i]);
}

// The cells of a matrix, each with its run nested one level deeper.
void AppendCells(std::string& out, const std::string& indent, const std::vector<const json*>& cells) {
  using namespace report_detail;
  out += fmt::format("{}1..{}\n", indent, cells.size());
  for (size_t i = 0; i < cells.size(); ++i) {
    ReportCase c = CellCase(*cells[i]);
    const json& run = Member(*cells[i], "report");
    if (run.is_object()) {
      // A nested test: its own version and plan, indented, then the parent's result line (KTAP's subtests).
      out += indent + "    KTAP version 1\n";
      out += indent + "    # Subtest: " + c.name + "\n";
      std::vector<ReportCase> cases = RunCases(run);
      out += fmt::format("{}    1..{}\n", indent, cases.size());
      for (size_t k = 0; k < cases.size(); ++k) AppendResult(out, indent + "    ", k + 1, cases[k]);
      // The subtests above already said it.
      c.output.clear();
      c.details.clear();
    }
    AppendResult(out, indent, i + 1, c);
  }
}

}  // namespace

std::string RenderKtap(const nlohmann::json& doc) {
  using namespace report_detail;
  if (!IsMatrix(doc)) {
    std::string out;
    AppendRun(out, "", doc);
    return out;
  }
  std::vector<std::string> kernels;
  std::vector<std::vector<const json*>> by_kernel;
  for (const auto& cell : Member(doc, "cells")) {
    const std::string k = TextAt(cell, "kernel_name");
    auto it = std::find(kernels.begin(), kernels.end(), k);
    if (it == kernels.end()) {
      kernels.push_back(k);
      by_kernel.emplace_back();
      it = kernels.end() - 1;
    }
    by_kernel[size_t(it - kernels.begin())].push_back(&cell);
  }
  std::string out = "KTAP version 1\n";
  // A matrix of older versions names no kernel: its cells are the top-level tests.
  if (kernels.size() <= 1 && (kernels.empty() || kernels[0].empty())) {
    AppendCells(out, "", kernels.empty() ? std::vector<const json*>{} : by_kernel[0]);
    return out;
  }
  // One subtest per kernel, its cells nested inside.
  out += fmt::format("1..{}\n", kernels.size());
  for (size_t k = 0; k < kernels.size(); ++k) {
    std::string release;
    for (const auto& info : Member(doc, "kernels"))
      if (TextAt(info, "name") == kernels[k]) release = TextAt(info, "release");
    out += "    KTAP version 1\n";
    out += "    # Subtest: " + TestName(kernels[k]) + (release.empty() ? "" : " (" + release + ")") + "\n";
    AppendCells(out, "    ", by_kernel[k]);
    ReportCase kernel;
    kernel.name = kernels[k];
    for (const json* cell : by_kernel[k]) {
      const ReportCase c = CellCase(*cell);
      if (c.result == ReportCase::Result::kFail) kernel.result = ReportCase::Result::kFail;
      else if (c.result == ReportCase::Result::kError && kernel.result != ReportCase::Result::kFail)
        kernel.result = ReportCase::Result::kError;
    }
    AppendResult(out, "", k + 1, kernel);
  }
  return out;
}

}  // namespace longpin
