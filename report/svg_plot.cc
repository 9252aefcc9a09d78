#include "report/svg_plot.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "report/report_html.h"

namespace longpin::html {
namespace {

const char* const kPhaseColours[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2"};

}  // namespace

const char* PhaseColour(size_t index) {
  return kPhaseColours[index % std::size(kPhaseColours)];
}

std::string NsLabel(double ns) {
  static const char* const kUnits[] = {"ns", "µs", "ms", "s"};
  int unit = 0;
  while (ns >= 1000 && unit < 3) {
    ns /= 1000;
    ++unit;
  }
  return fmt::format("{:g} {}", ns, kUnits[unit]);
}

double NiceStep(double span, int target) {
  if (!(span > 0)) return 1;
  double raw = span / target;
  double power = std::pow(10, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 5.0, 10.0})
    if (m * power >= raw) return m * power;
  return 10 * power;
}

std::string EmptyChart(std::string_view css_class, std::string_view title, std::string_view why) {
  return fmt::format(
      "<figure class=\"chart {} empty\"><figcaption>{}</figcaption><p class=\"muted\">{}</p></figure>\n",
      css_class, Esc(title), Esc(why));
}

void Chart::SetX(double lo, double hi) {
  x_lo_ = lo;
  x_hi_ = hi > lo ? hi : lo + 1;
}

void Chart::SetLogY(double lo, double hi) {
  log_y_ = true;
  y_lo_ = std::floor(std::log10(std::max(lo, 1.0)));
  y_hi_ = std::ceil(std::log10(std::max(hi, 1.0)));
  if (y_hi_ <= y_lo_) y_hi_ = y_lo_ + 1;
}

void Chart::SetLinearY(double lo, double hi) {
  log_y_ = false;
  y_lo_ = lo;
  y_hi_ = hi > lo ? hi : lo + 1;
}

double Chart::Y(double y) const {
  double v = log_y_ ? std::log10(std::max(y, 1e-9)) : y;
  return kTop + PlotHeight() - (v - y_lo_) / (y_hi_ - y_lo_) * PlotHeight();
}

void Chart::TimeAxis() {
  bool seconds = x_hi_ - x_lo_ > 5000;
  double step = NiceStep((x_hi_ - x_lo_) / (seconds ? 1000 : 1), 8) * (seconds ? 1000 : 1);
  for (double x = std::ceil(x_lo_ / step) * step; x <= x_hi_ + 1e-9; x += step)
    XTick(X(x), seconds ? fmt::format("{:g} s", x / 1000) : fmt::format("{:g} ms", x));
  XLabel("time since the run started");
}

void Chart::XTick(double px, std::string_view label) {
  body_ += fmt::format("<line class=\"tick\" x1=\"{0:.1f}\" y1=\"{1:.1f}\" x2=\"{0:.1f}\" y2=\"{2:.1f}\"/>",
                       px, PlotBottom(), PlotBottom() + 5);
  body_ += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"middle\">{}</text>", px,
                       PlotBottom() + 18, Esc(label));
}

void Chart::XLabel(std::string_view label) {
  body_ +=
      fmt::format("<text class=\"axis-label\" x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"middle\">{}</text>",
                  kLeft + PlotWidth() / 2, kHeight - 8, Esc(label));
}

void Chart::YAxis(std::string_view label, bool ns_labels) {
  if (log_y_) {
    for (double d = y_lo_; d <= y_hi_ + 1e-9; d += 1) YTick(std::pow(10, d), NsLabel(std::pow(10, d)));
  } else {
    double step = NiceStep(y_hi_ - y_lo_, 5);
    for (double y = std::ceil(y_lo_ / step) * step; y <= y_hi_ + 1e-9; y += step)
      YTick(y, ns_labels ? NsLabel(y) : fmt::format("{:g}", y));
  }
  body_ += fmt::format(
      "<text class=\"axis-label\" transform=\"translate(14,{:.1f}) rotate(-90)\" "
      "text-anchor=\"middle\">{}</text>",
      kTop + PlotHeight() / 2, Esc(label));
}

void Chart::YTick(double value, std::string_view label) {
  double py = Y(value);
  body_ += fmt::format("<line class=\"grid\" x1=\"{:.1f}\" y1=\"{:.1f}\" x2=\"{:.1f}\" y2=\"{:.1f}\"/>",
                       kLeft, py, kLeft + PlotWidth(), py);
  body_ += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"end\">{}</text>", kLeft - 6, py + 4,
                       Esc(label));
}

void Chart::PinsAndCrash(const std::vector<PinWindow>& pins, double crash_ms) {
  std::vector<std::pair<double, double>> spans;
  for (const auto& p : pins) {
    if (p.refused) continue;
    double to = std::isnan(p.to_ms) ? x_hi_ : p.to_ms;
    spans.emplace_back(std::clamp(X(p.from_ms), kLeft, kLeft + PlotWidth()),
                       std::clamp(X(to), kLeft, kLeft + PlotWidth()));
  }
  std::sort(spans.begin(), spans.end());
  std::vector<std::pair<double, double>> merged;
  for (const auto& s : spans) {
    if (!merged.empty() && s.first <= merged.back().second + 0.5)
      merged.back().second = std::max(merged.back().second, s.second);
    else merged.push_back(s);
  }
  for (const auto& [from, to] : merged)
    body_ += fmt::format(
        "<rect class=\"pin-window\" x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\" "
        "fill=\"{}\" "
        "fill-opacity=\"0.28\"/>",
        from, kTop, std::max(to - from, 1.0), PlotHeight(), kPinShade);
  if (!std::isnan(crash_ms)) {
    double px = X(crash_ms);
    body_ += fmt::format(
        "<line class=\"crash\" x1=\"{0:.1f}\" y1=\"{1:.1f}\" x2=\"{0:.1f}\" y2=\"{2:.1f}\" stroke=\"{3}\" "
        "stroke-width=\"2\" stroke-dasharray=\"6 3\"/><text x=\"{4:.1f}\" y=\"{5:.1f}\" "
        "fill=\"{3}\">crash</text>",
        px, kTop, PlotBottom(), kCrashColour, px + 4, kTop + 12);
  }
}

void Chart::Legend(const std::vector<std::pair<std::string, std::string>>& entries) {
  double x = kLeft;
  for (const auto& [colour, label] : entries) {
    body_ += fmt::format("<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"12\" height=\"12\" fill=\"{}\"/>", x, 9.0,
                         colour);
    body_ += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\">{}</text>", x + 16, 20.0, Esc(label));
    x += 28 + 7.0 * double(label.size());
  }
}

std::string Chart::Svg() const {
  return fmt::format(
      "<figure class=\"chart {0}\"><figcaption>{1}</figcaption>"
      "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"{0}\" width=\"{2}\" height=\"{3}\" viewBox=\"0 0 "
      "{2} {3}\" "
      "role=\"img\"><title>{1}</title>"
      "<rect class=\"frame\" x=\"{4}\" y=\"{5}\" width=\"{6}\" height=\"{7}\"/>{8}</svg></figure>\n",
      css_class_, Esc(title_), kWidth, kHeight, kLeft, kTop, PlotWidth(), PlotHeight(), body_);
}

}  // namespace longpin::html
