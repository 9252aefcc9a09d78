// JUnit XML from a report document (its test cases: report/report_cases.h), and the markup escaping that
// the HTML page shares.
#include <fmt/format.h>

#include <string>

#include "report/report_cases.h"
#include "report/report_formats.h"

namespace longpin {
namespace report_detail {
namespace {

using nlohmann::json;

void AppendAttribute(std::string& out, std::string_view name, std::string_view value) {
  out += fmt::format(" {}=\"{}\"", name, EscapeMarkup(value));
}

void AppendCase(std::string& out, const ReportCase& c, std::string_view classname) {
  out += "    <testcase";
  AppendAttribute(out, "classname", classname);
  AppendAttribute(out, "name", c.name);
  AppendAttribute(out, "time", fmt::format("{:.3f}", c.seconds));
  out += ">\n";
  std::string details;
  for (const auto& line : c.details) details += (details.empty() ? "" : "\n") + line;
  const std::string body = EscapeMarkup(details);
  switch (c.result) {
    case ReportCase::Result::kPass:
    case ReportCase::Result::kXfail: break;
    case ReportCase::Result::kSkip:
      out += "      <skipped";
      AppendAttribute(out, "message", c.message);
      out += "/>\n";
      break;
    case ReportCase::Result::kFail:
    case ReportCase::Result::kError: {
      const char* element = c.result == ReportCase::Result::kFail ? "failure" : "error";
      out += fmt::format("      <{}", element);
      AppendAttribute(out, "message", c.message);
      AppendAttribute(out, "type", c.name);
      out += fmt::format(">{}</{}>\n", body, element);
      break;
    }
  }
  if (!c.output.empty()) out += "      <system-out>" + EscapeMarkup(c.output) + "</system-out>\n";
  out += "    </testcase>\n";
}

struct SuiteCounts {
  size_t tests = 0, failures = 0, errors = 0, skipped = 0;
  double seconds = 0;
};

SuiteCounts Count(const std::vector<ReportCase>& cases) {
  SuiteCounts n;
  for (const auto& c : cases) {
    ++n.tests;
    n.seconds += c.seconds;
    n.failures += c.result == ReportCase::Result::kFail;
    n.errors += c.result == ReportCase::Result::kError;
    n.skipped += c.result == ReportCase::Result::kSkip;
  }
  return n;
}

std::string CountAttributes(const SuiteCounts& n) {
  return fmt::format(" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"{:.3f}\"", n.tests,
                     n.failures, n.errors, n.skipped, n.seconds);
}

void AppendProperty(std::string& out, std::string_view name, std::string_view value) {
  if (value.empty()) return;
  out += "      <property";
  AppendAttribute(out, "name", name);
  AppendAttribute(out, "value", value);
  out += "/>\n";
}

}  // namespace

std::string EscapeMarkup(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    const auto byte = static_cast<unsigned char>(text[i]);
    if (byte < 0x80) {
      switch (byte) {
        case '&': out += "&amp;"; break;
        case '<': out += "&lt;"; break;
        case '>': out += "&gt;"; break;
        case '"': out += "&quot;"; break;
        case '\'': out += "&#39;"; break;
        case '\t':
        case '\n': out += char(byte); break;
        default:
          if (byte < 0x20 || byte == 0x7f) out += fmt::format("\\x{:02x}", byte);
          else out += char(byte);
      }
      ++i;
      continue;
    }
    // A well-formed multi-byte sequence (no overlongs, no surrogates, at most U+10FFFF) is copied as it is.
    size_t len = byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : byte >= 0xc2 ? 2 : 0;
    bool valid = len && byte <= 0xf4 && i + len <= text.size();
    for (size_t k = 1; valid && k < len; ++k)
      valid = (static_cast<unsigned char>(text[i + k]) & 0xc0) == 0x80;
    if (valid && len >= 3) {
      const auto second = static_cast<unsigned char>(text[i + 1]);
      if (byte == 0xe0 && second < 0xa0) valid = false;
      if (byte == 0xed && second >= 0xa0) valid = false;
      if (byte == 0xf0 && second < 0x90) valid = false;
      if (byte == 0xf4 && second >= 0x90) valid = false;
    }
    if (valid) {
      out.append(text.substr(i, len));
      i += len;
    } else {
      out += "\xef\xbf\xbd";
      ++i;
    }
  }
  return out;
}

}  // namespace report_detail

std::string RenderJUnit(const nlohmann::json& doc) {
  using namespace report_detail;
  std::vector<ReportCase> cases;
  std::string suite_name, classname;
  std::string properties;
  if (IsMatrix(doc)) {
    suite_name = "longpin matrix";
    classname = "longpin.matrix";
    for (const auto& cell : Member(doc, "cells")) cases.push_back(CellCase(cell));
    // One testcase per cell and kernel: the kernel is the class, so CI shows a column per kernel.
  } else {
    const json& info = Member(doc, "run");
    suite_name = "longpin run " + TextAt(info, "run_id", "?");
    classname = "longpin.run";
    cases = RunCases(doc);
    const json& env = Member(doc, "environment");
    AppendProperty(properties, "kernel", TextAt(env, "kernel"));
    AppendProperty(properties, "fs", TextAt(env, "fs_detail", TextAt(env, "fs")));
    AppendProperty(properties, "pinner", TextAt(info, "pinner"));
    AppendProperty(properties, "sync_op", TextAt(info, "sync_op"));
    AppendProperty(properties, "seed", TextAt(info, "seed"));
    AppendProperty(properties, "verdict", TextAt(doc, "verdict"));
    const json& cmp = Member(doc, "comparison");
    if (cmp.is_object())
      for (const char* q : {"p50", "p99", "p999"}) {
        const json& x = Member(cmp, q);
        const json& ci = Member(x, "ci95");
        AppendProperty(
            properties, std::string("comparison.") + q,
            fmt::format("{:.3f} [{:.3f}, {:.3f}]", NumberAt(x, "ratio"),
                        ci.is_array() && ci.size() == 2 && ci[0].is_number() ? ci[0].get<double>() : 0.0,
                        ci.is_array() && ci.size() == 2 && ci[1].is_number() ? ci[1].get<double>() : 0.0));
      }
    if (cmp.is_object())
      AppendProperty(
          properties, "comparison.detectable",
          Member(cmp, "detectable").is_boolean() && Member(cmp, "detectable").get<bool>() ? "true" : "false");
  }
  AppendProperty(properties, "schema_version", TextAt(doc, "schema_version"));
  SuiteCounts n = Count(cases);
  std::string out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  out += "<testsuites";
  AppendAttribute(out, "name", "longpin");
  out += CountAttributes(n) + ">\n";
  out += "  <testsuite";
  AppendAttribute(out, "name", suite_name);
  out += CountAttributes(n) + ">\n";
  if (!properties.empty()) out += "    <properties>\n" + properties + "    </properties>\n";
  for (const auto& c : cases)
    AppendCase(out, c, c.group.empty() ? classname : classname + "." + TestName(c.group));
  out += "  </testsuite>\n</testsuites>\n";
  return out;
}

}  // namespace longpin
