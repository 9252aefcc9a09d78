// KCIDB (KernelCI's common report database) I/O JSON, schema v5.3 (kernelci/kcidb-io): for labs that outgrow
// one machine and feed kcidb-submit. A kernel is a checkout (what was tested) and a build (the image that
// ran); each matrix cell is a test under its kernel's build. Ids start with the origin "longpin" and carry a
// digest of the document, so two matrices never submit the same id.
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <functional>

#include "report/report_cases.h"
#include "report/report_formats.h"

namespace longpin {
namespace {

using nlohmann::json;
using report_detail::Member;
using report_detail::TextAt;

constexpr const char* kOrigin = "longpin";

// Path components of KCIDB's dot-separated test path: letters, digits, '_' and '-' only.
std::string PathPart(const std::string& s) {
  std::string out;
  for (char c : s) out += (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-') ? c : '_';
  return out.empty() ? "_" : out;
}

// KCIDB's status by priority: FAIL, ERROR, MISS, PASS, DONE, SKIP.
const char* Status(const report_detail::ReportCase& c) {
  using R = report_detail::ReportCase::Result;
  switch (c.result) {
    case R::kFail: return "FAIL";
    case R::kError: return "ERROR";
    case R::kPass:
    case R::kXfail: return "PASS";
    case R::kSkip: return "SKIP";
  }
  return "ERROR";
}

}  // namespace

std::string RenderKcidb(const json& doc) {
  const std::string digest = fmt::format("{:016x}", std::hash<std::string>{}(doc.dump()));
  json checkouts = json::array(), builds = json::array(), tests = json::array();
  std::vector<std::string> kernels;
  auto build_id = [&](const std::string& kernel) {
    return fmt::format("{}:{}-{}", kOrigin, digest, PathPart(kernel));
  };
  auto add_kernel = [&](const std::string& name, const std::string& release) {
    if (std::find(kernels.begin(), kernels.end(), name) != kernels.end()) return;
    kernels.push_back(name);
    json checkout = {{"id", build_id(name)}, {"origin", kOrigin}, {"tree_name", name}};
    if (!release.empty()) checkout["git_commit_name"] = release;
    checkouts.push_back(std::move(checkout));
    builds.push_back({{"id", build_id(name)},
                      {"origin", kOrigin},
                      {"checkout_id", build_id(name)},
                      {"comment", "kernel " + name + (release.empty() ? "" : " " + release)},
                      {"status", "PASS"}});
  };
  for (const auto& k : Member(doc, "kernels")) add_kernel(TextAt(k, "name", "host"), TextAt(k, "release"));
  const json& cells = Member(doc, "cells");
  for (size_t i = 0; i < cells.size(); ++i) {
    const json& cell = cells[i];
    const std::string kernel = TextAt(cell, "kernel_name", "host");
    add_kernel(kernel, TextAt(cell, "kernel"));
    const report_detail::ReportCase c = report_detail::CellCase(cell);
    json misc = {{"outcome", TextAt(cell, "outcome")},
                 {"pin_outcome", TextAt(cell, "pin_outcome")},
                 {"judgement", TextAt(cell, "judgement")},
                 {"kernel_release", TextAt(cell, "kernel")},
                 {"comparison", TextAt(cell, "comparison")}};
    // KCIDB allows no nulls: a rule that did not apply is left out.
    if (Member(cell, "rule").is_string()) misc["rule"] = Member(cell, "rule");
    if (Member(cell, "as_expected").is_boolean()) misc["as_expected"] = Member(cell, "as_expected");
    json test = {
        {"id", fmt::format("{}:{}-{}", kOrigin, digest, i)},
        {"origin", kOrigin},
        {"build_id", build_id(kernel)},
        {"path", fmt::format("longpin.matrix.{}.{}.{}.{}", PathPart(TextAt(cell, "pinner", "?")),
                             PathPart(TextAt(cell, "fs", "?")), PathPart(TextAt(cell, "mapping", "?")),
                             PathPart(TextAt(cell, "sync", "?")))},
        {"status", Status(c)},
        {"comment", c.message.empty() ? TextAt(cell, "outcome") : c.message},
        {"environment", {{"comment", kernel + " " + TextAt(cell, "kernel")}}},
        {"misc", std::move(misc)}};
    if (c.seconds > 0) test["duration"] = c.seconds;
    tests.push_back(std::move(test));
  }
  json out = {{"version", {{"major", 5}, {"minor", 3}}},
              {"checkouts", std::move(checkouts)},
              {"builds", std::move(builds)},
              {"tests", std::move(tests)}};
  return out.dump(2) + "\n";
}

}  // namespace longpin
