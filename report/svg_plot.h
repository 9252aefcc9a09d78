// SVG plotting for the HTML page: a plot area with its frame, axes in linear or log scale, ticks, a legend,
// shaded pin windows and the crash line. Charts draw into it (report/svg_charts.cc); the page embeds the
// result inline, with no script.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace longpin::html {

inline constexpr const char* kPinShade = "#f5c518";
inline constexpr const char* kCrashColour = "#b00020";

// The colour of phase `index` (baseline, pinned, ...), the same in every chart.
const char* PhaseColour(size_t index);
// Nanoseconds in the unit that reads best: "250 µs", "1.5 s".
std::string NsLabel(double ns);
// Tick step of 1, 2 or 5 times a power of ten giving about `target` ticks over `span`.
double NiceStep(double span, int target);
// A chart's place on the page when there is nothing to draw, saying why.
std::string EmptyChart(std::string_view css_class, std::string_view title, std::string_view why);

// A time span during which pages were pinned, in ms since the run started.
struct PinWindow {
  double from_ms;
  double to_ms;  // NaN: still held when the timeline ended
  bool refused;
};

class Chart {
 public:
  static constexpr double kWidth = 960, kHeight = 320;
  static constexpr double kLeft = 80, kRight = 20, kTop = 34, kBottom = 50;

  Chart(std::string css_class, std::string title)
      : css_class_(std::move(css_class)), title_(std::move(title)) {}

  void SetX(double lo, double hi);
  // Log scale in whole decades, so every tick is a power of ten.
  void SetLogY(double lo, double hi);
  void SetLinearY(double lo, double hi);
  double X(double x) const { return kLeft + (x - x_lo_) / (x_hi_ - x_lo_) * PlotWidth(); }
  double Y(double y) const;
  static double PlotWidth() { return kWidth - kLeft - kRight; }
  static double PlotHeight() { return kHeight - kTop - kBottom; }
  static double PlotBottom() { return kTop + PlotHeight(); }

  // Time axis in ms or s, whichever reads better for the span.
  void TimeAxis();
  void XTick(double px, std::string_view label);
  void XLabel(std::string_view label);
  void YAxis(std::string_view label, bool ns_labels);
  void YTick(double value, std::string_view label);
  // Shaded spans for the pinned windows (merged where they touch on screen) and a line at the crash (NaN:
  // none).
  void PinsAndCrash(const std::vector<PinWindow>& pins, double crash_ms);
  void Raw(std::string_view svg) { body_ += svg; }
  void Legend(const std::vector<std::pair<std::string, std::string>>& entries);  // colour, label
  std::string Svg() const;

 private:
  std::string css_class_, title_, body_;
  double x_lo_ = 0, x_hi_ = 1, y_lo_ = 0, y_hi_ = 1;
  bool log_y_ = false;
};

}  // namespace longpin::html
