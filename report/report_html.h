// What the files of the HTML page share: report_html.cc (the page, a run's sections and tables),
// html_matrix.cc (the matrix table), svg_charts.cc and svg_plot.cc (the charts). The page itself is
// RenderHtml (report/report_formats.h).
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "report/report_formats.h"

namespace longpin::html {

inline constexpr const char* kSyncOps[] = {"fsync", "fdatasync", "msync", "sync_file_range", "syncfs"};

inline std::string Esc(std::string_view text) {
  return report_detail::EscapeMarkup(text);
}

// The run's sync op, as chart titles name its syncs.
inline std::string SyncOpName(const nlohmann::json& run) {
  return report_detail::TextAt(report_detail::Member(run, "run"), "sync_op", "sync");
}

// A run's sections: verdict and findings, charts, then its tables; a matrix cell's details hold one.
std::string RunSection(const nlohmann::json& run);
// The matrix as a table (rows: pinner and mapping; columns: kernel, filesystem and sync op), a tally, and
// each cell's run in a collapsed section below.
std::string MatrixSection(const nlohmann::json& doc);

}  // namespace longpin::html
