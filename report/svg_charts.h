// The charts of a run's HTML page (report/svg_charts.cc), inline SVG drawn from the report document.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace longpin::html {

// The <section class="charts"> of one run document: every chart, each with its reason when it has nothing to
// draw, and a line counting what the timeline held.
std::string ChartsSection(const nlohmann::json& run);

}  // namespace longpin::html
