// Report renderers for CI engines and people: JUnit XML, KTAP v1 and a self-contained HTML page, each
// rendered from the JSON report document (one run, or a matrix of runs): the very object the --json file is
// written from (ReportDocument in report/run_report.h), or a saved run.json read back, so that a report is
// re-rendered later exactly as the run rendered it. Documents from older versions lack keys: every renderer
// shows what is there and never throws. What each format holds: docs/report-formats.md.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace longpin {

// A run = one testsuite: one testcase per phase, one "verification", one "verdict" (carrying the reasons,
// kernel events and hangs, so that a fail from any cause is a JUnit failure). A matrix = one testcase per
// cell.
std::string RenderJUnit(const nlohmann::json& doc);
// KTAP v1: the same tests as RenderJUnit; a matrix cell's run appears as a nested (indented) subtest.
std::string RenderKtap(const nlohmann::json& doc);
// One HTML page with inline SVG charts and no external reference of any kind.
std::string RenderHtml(const nlohmann::json& doc);
// KernelCI KCIDB I/O JSON (schema v5.3) of a matrix: a checkout and a build per kernel, one test per cell
// (docs/report-formats.md).
std::string RenderKcidb(const nlohmann::json& doc);

namespace report_detail {

// Lenient accessors: a missing key, a null or a value of another type gives the fallback, never an exception.
inline const nlohmann::json* Find(const nlohmann::json& j, std::string_view key) {
  if (!j.is_object()) return nullptr;
  auto it = j.find(key);
  return it == j.end() ? nullptr : &*it;
}
inline const nlohmann::json& Member(const nlohmann::json& j, std::string_view key) {
  static const nlohmann::json kNull;
  const auto* v = Find(j, key);
  return v ? *v : kNull;
}
inline bool IsNumber(const nlohmann::json* v) {
  return v && v->is_number();
}
inline double Number(const nlohmann::json& j, double fallback = 0) {
  return j.is_number() ? j.get<double>() : fallback;
}
inline double NumberAt(const nlohmann::json& j, std::string_view key, double fallback = 0) {
  return Number(Member(j, key), fallback);
}
inline uint64_t CountAt(const nlohmann::json& j, std::string_view key) {
  const auto& v = Member(j, key);
  if (v.is_number_unsigned()) return v.get<uint64_t>();
  if (v.is_number_integer()) return v.get<int64_t>() < 0 ? 0 : uint64_t(v.get<int64_t>());
  if (v.is_number_float()) return v.get<double>() < 0 ? 0 : uint64_t(v.get<double>());
  return 0;
}
// Strings as they are; numbers and booleans in their JSON spelling; anything else as the fallback.
inline std::string Text(const nlohmann::json& j, std::string_view fallback = "") {
  if (j.is_string()) return j.get<std::string>();
  if (j.is_number() || j.is_boolean()) return j.dump();
  return std::string(fallback);
}
inline std::string TextAt(const nlohmann::json& j, std::string_view key, std::string_view fallback = "") {
  return Text(Member(j, key), fallback);
}
// Compact JSON for values of unknown shape; invalid UTF-8 is replaced rather than thrown about.
inline std::string Dump(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}
inline bool IsMatrix(const nlohmann::json& doc) {
  return Member(doc, "cells").is_array();
}

// A matrix cell's outcome with what its kernel's rule says of it ("refused EFAULT [ok]", "granted
// [UNEXPECTED]").
std::string MarkedCellOutcome(const nlohmann::json& cell);
// Text for XML and HTML, body or attribute value: markup characters as entities, control characters other
// than tab and newline as \xNN, invalid UTF-8 as U+FFFD (both would make the XML ill-formed).
std::string EscapeMarkup(std::string_view text);

}  // namespace report_detail
}  // namespace longpin
