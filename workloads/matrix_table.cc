// The matrix document as a text table, its exit code, and the merge of several documents (other machines,
// other kernels) into one: all from the JSON document, so that `longpin report` shows a saved or merged
// matrix exactly as `longpin matrix` printed it.
#include <algorithm>
#include <map>

#include "report/report_formats.h"
#include "workloads/matrix.h"

namespace longpin {
namespace {

using nlohmann::json;
using report_detail::Member;
using report_detail::TextAt;

std::string Coordinates(const json& cell, const char* sep) {
  return TextAt(cell, "pinner", "?") + sep + TextAt(cell, "fs", "?") + sep + TextAt(cell, "mapping", "?") +
         sep + TextAt(cell, "sync", "?");
}

std::string KernelOf(const json& cell) {
  return TextAt(cell, "kernel_name", "host");
}

bool Starts(const std::string& s, const char* prefix) {
  return s.rfind(prefix, 0) == 0;
}

}  // namespace

int MatrixExitCode(const json& doc) {
  bool failed = false, errored = false;
  for (const auto& c : Member(doc, "cells")) {
    const std::string o = TextAt(c, "outcome");
    const json& expected = Member(c, "as_expected");
    if (Starts(o, "fail") || Starts(o, "hang") || Starts(o, "kernel event")) failed = true;
    if (expected.is_boolean() && !expected.get<bool>()) failed = true;
    if (Starts(o, "error")) errored = true;
  }
  return ExitCodeOf(failed ? Verdict::kFail : errored ? Verdict::kError : Verdict::kPass);
}

std::string MatrixTable(const json& doc) {
  const json& cells = Member(doc, "cells");
  std::vector<std::string> kernels;
  std::map<std::string, std::string> release;
  for (const auto& k : Member(doc, "kernels")) {
    kernels.push_back(TextAt(k, "name", "?"));
    release[kernels.back()] = TextAt(k, "release");
  }
  std::vector<std::string> rows;
  std::map<std::pair<std::string, std::string>, const json*> at;
  for (const auto& c : cells) {
    const std::string row = Coordinates(c, "\t"), kernel = KernelOf(c);
    if (std::find(rows.begin(), rows.end(), row) == rows.end()) rows.push_back(row);
    if (std::find(kernels.begin(), kernels.end(), kernel) == kernels.end()) kernels.push_back(kernel);
    if (release[kernel].empty()) release[kernel] = TextAt(c, "kernel");
    at[{row, kernel}] = &c;
  }
  // Columns: pinner, fs, mapping, sync, then the latency comparison (one kernel) and one outcome per kernel.
  std::vector<std::vector<std::string>> table;
  std::vector<std::string> head = {"pinner", "fs", "mapping", "sync"};
  const bool one_kernel = kernels.size() == 1;
  if (one_kernel) head.push_back("fsync pinned/baseline");
  for (const auto& k : kernels)
    head.push_back(release[k].empty() || release[k] == k ? k : k + " " + release[k]);
  table.push_back(head);
  for (const auto& row : rows) {
    std::vector<std::string> line;
    size_t start = 0;
    for (size_t tab; (tab = row.find('\t', start)) != std::string::npos; start = tab + 1)
      line.push_back(row.substr(start, tab - start));
    line.push_back(row.substr(start));
    if (one_kernel) {
      auto it = at.find({row, kernels[0]});
      line.push_back(it == at.end() ? "-" : TextAt(*it->second, "comparison", "-"));
    }
    for (const auto& k : kernels) {
      auto it = at.find({row, k});
      line.push_back(it == at.end() ? "-" : report_detail::MarkedCellOutcome(*it->second));
    }
    table.push_back(std::move(line));
  }
  std::vector<size_t> width(head.size(), 0);
  for (const auto& line : table)
    for (size_t i = 0; i < line.size(); ++i) width[i] = std::max(width[i], line[i].size());
  std::string out;
  for (const auto& line : table) {
    std::string text;
    for (size_t i = 0; i < line.size(); ++i) {
      text += line[i];
      if (i + 1 < line.size()) text += std::string(width[i] - line[i].size() + 2, ' ');
    }
    out += text + "\n";
  }
  // What the rules said: the UNEXPECTED cells in full, then a tally.
  size_t ok = 0, unexpected = 0, no_rule = 0, not_judged = 0;
  std::map<std::string, size_t> by_rule;
  for (const auto& c : cells) {
    const json& expected = Member(c, "as_expected");
    if (expected.is_boolean() && !expected.get<bool>()) {
      ++unexpected;
      out += "UNEXPECTED on " + KernelOf(c) + " (" + TextAt(c, "kernel", "?") + ") " + Coordinates(c, "/") +
             ": " + TextAt(c, "judgement") + "\n";
    } else if (expected.is_boolean()) {
      ++ok;
    } else if (TextAt(c, "judgement").rfind("no rule", 0) == 0) {
      ++no_rule;
    } else {
      ++not_judged;
    }
    if (Member(c, "rule").is_string()) ++by_rule[Member(c, "rule").get<std::string>()];
  }
  for (const auto& k : Member(doc, "kernels"))
    if (!TextAt(k, "error").empty()) out += "kernel " + TextAt(k, "name") + ": " + TextAt(k, "error") + "\n";
  out += std::to_string(cells.size()) + " cells: " + std::to_string(ok) + " as expected, " +
         std::to_string(unexpected) + " UNEXPECTED, " + std::to_string(no_rule) +
         " no rule (recorded, not judged), " + std::to_string(not_judged) + " not judged (no pin tried)\n";
  if (!by_rule.empty()) {
    std::string rules;
    for (const auto& [id, n] : by_rule)
      rules += (rules.empty() ? "" : ", ") + id + " (" + std::to_string(n) + ")";
    out += "rules: " + rules + "\n";
  }
  return out;
}

std::optional<json> MergeMatrixDocuments(const std::vector<json>& docs, const std::vector<std::string>& names,
                                         std::string* error) {
  // The same kernel name from two machines ("host" twice) is told apart by its release, else by the file.
  std::map<std::string, std::vector<size_t>> seen;
  for (size_t d = 0; d < docs.size(); ++d) {
    if (!report_detail::IsMatrix(docs[d])) {
      *error = names[d] + ": not a matrix report (no \"cells\"); merge takes `longpin matrix --json` files";
      return std::nullopt;
    }
    for (const auto& k : Member(docs[d], "kernels")) seen[TextAt(k, "name", "?")].push_back(d);
    if (Member(docs[d], "kernels").empty()) seen["host"].push_back(d);
  }
  json kernels = json::array(), cells = json::array();
  for (size_t d = 0; d < docs.size(); ++d) {
    std::map<std::string, std::string> renamed;
    auto name_of = [&](const std::string& name, const std::string& rel) {
      if (seen[name].size() < 2) return name;
      return name + "@" + (rel.empty() ? names[d] : rel);
    };
    json listed = Member(docs[d], "kernels");
    if (listed.empty() && !Member(docs[d], "cells").empty())
      listed = json::array({{{"name", "host"}, {"release", TextAt(Member(docs[d], "cells")[0], "kernel")}}});
    for (auto k : listed) {
      const std::string name = TextAt(k, "name", "host");
      renamed[name] = name_of(name, TextAt(k, "release"));
      k["name"] = renamed[name];
      if (std::none_of(kernels.begin(), kernels.end(), [&](const json& x) { return x["name"] == k["name"]; }))
        kernels.push_back(k);
    }
    for (auto c : Member(docs[d], "cells")) {
      const std::string name = KernelOf(c);
      c["kernel_name"] = renamed.count(name) ? renamed[name] : name;
      cells.push_back(std::move(c));
    }
  }
  return json{{"schema_version", 1}, {"kind", "matrix"}, {"kernels", kernels}, {"cells", cells}};
}

}  // namespace longpin
