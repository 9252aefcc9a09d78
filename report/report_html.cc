// A self-contained HTML page from a report document: inline CSS and SVG, no script, and a
// Content-Security-Policy that forbids every fetch, so the page opens the same on an air-gapped lab machine
// as in a CI artifact viewer.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <string>
#include <type_traits>
#include <vector>

#include "core/units.h"
#include "report/report_formats.h"

namespace longpin {
namespace {

using nlohmann::json;
using report_detail::CountAt;
using report_detail::Dump;
using report_detail::Member;
using report_detail::NumberAt;
using report_detail::Text;
using report_detail::TextAt;

// Tables list this many violations; the JSON report has them all.
constexpr size_t kListedViolations = 100;
// Above this many points a chart keeps the lowest and highest point of each pixel column per series: the
// outliers a reader looks for survive and the page stays small.
constexpr size_t kMaxChartPoints = 4000;

const char* const kSyncOps[] = {"fsync", "fdatasync", "msync", "sync_file_range", "syncfs"};
const char* const kPhaseColours[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2"};
constexpr const char* kDirtyColour = "#d62728";
constexpr const char* kWritebackColour = "#1f77b4";
constexpr const char* kPinShade = "#f5c518";
constexpr const char* kCrashColour = "#b00020";

std::string Esc(std::string_view text) {
  return report_detail::EscapeMarkup(text);
}

const char* PhaseColour(size_t index) {
  return kPhaseColours[index % std::size(kPhaseColours)];
}

// ---- the timeline, parsed leniently: a malformed entry is skipped, never fatal ----

struct SyncPoint {
  double t_ms;
  double ns;
  size_t phase;
};
struct PinWindow {
  double from_ms;
  double to_ms;  // NaN: still held when the timeline ended
  bool refused;
};
struct VmstatPoint {
  double t_ms, dirty, writeback;
};
struct Timeline {
  std::vector<SyncPoint> syncs;
  std::vector<PinWindow> pins;
  std::vector<VmstatPoint> vmstat;
  double crash_ms = NAN;
  double end_ms = 0;  // the last moment anything happened
};

bool NumberInArray(const json& row, size_t i, double* out) {
  if (!row.is_array() || i >= row.size() || !row[i].is_number()) return false;
  *out = row[i].get<double>();
  return std::isfinite(*out);
}

Timeline ParseTimeline(const json& run) {
  Timeline t;
  const json& tl = Member(run, "timeline");
  const json& syncs = Member(tl, "syncs");
  if (syncs.is_array())
    for (const auto& row : syncs) {
      double ms = 0, ns = 0, phase = 0;
      if (!NumberInArray(row, 0, &ms) || !NumberInArray(row, 1, &ns)) continue;
      NumberInArray(row, 2, &phase);
      t.syncs.push_back({ms, std::max(ns, 1.0), phase < 0 ? 0 : size_t(phase)});
      t.end_ms = std::max(t.end_ms, ms + ns / 1e6);
    }
  const json& pins = Member(tl, "pins");
  if (pins.is_array())
    for (const auto& row : pins) {
      double from = 0, to = NAN, err = 0;
      if (!NumberInArray(row, 0, &from)) continue;
      NumberInArray(row, 1, &to);
      NumberInArray(row, 4, &err);
      t.pins.push_back({from, to, err != 0});
      t.end_ms = std::max(t.end_ms, std::isnan(to) ? from : to);
    }
  const json& vmstat = Member(tl, "vmstat");
  if (vmstat.is_array())
    for (const auto& row : vmstat) {
      VmstatPoint p{};
      if (!NumberInArray(row, 0, &p.t_ms) || !NumberInArray(row, 1, &p.dirty) ||
          !NumberInArray(row, 2, &p.writeback))
        continue;
      t.vmstat.push_back(p);
      t.end_ms = std::max(t.end_ms, p.t_ms);
    }
  const json& crash = Member(tl, "crash_ms");
  if (crash.is_number()) {
    t.crash_ms = crash.get<double>();
    t.end_ms = std::max(t.end_ms, t.crash_ms);
  }
  return t;
}

std::vector<std::string> PhaseNames(const json& run) {
  std::vector<std::string> names;
  const json& phases = Member(run, "phases");
  if (phases.is_array())
    for (size_t i = 0; i < phases.size(); ++i)
      names.push_back(TextAt(phases[i], "name", fmt::format("phase {}", i)));
  return names;
}

std::string PhaseName(const std::vector<std::string>& names, size_t i) {
  return i < names.size() ? names[i] : fmt::format("phase {}", i);
}

// ---- SVG plotting ----

std::string NsLabel(double ns) {
  static const char* const kUnits[] = {"ns", "µs", "ms", "s"};
  int unit = 0;
  while (ns >= 1000 && unit < 3) {
    ns /= 1000;
    ++unit;
  }
  return fmt::format("{:g} {}", ns, kUnits[unit]);
}

// Tick step of 1, 2 or 5 times a power of ten giving about `target` ticks over `span`.
double NiceStep(double span, int target) {
  if (!(span > 0)) return 1;
  double raw = span / target;
  double power = std::pow(10, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 5.0, 10.0})
    if (m * power >= raw) return m * power;
  return 10 * power;
}

class Chart {
 public:
  static constexpr double kWidth = 960, kHeight = 320;
  static constexpr double kLeft = 80, kRight = 20, kTop = 34, kBottom = 50;

  Chart(std::string css_class, std::string title)
      : css_class_(std::move(css_class)), title_(std::move(title)) {}

  void SetX(double lo, double hi) {
    x_lo_ = lo;
    x_hi_ = hi > lo ? hi : lo + 1;
  }
  // Log scale in whole decades, so every tick is a power of ten.
  void SetLogY(double lo, double hi) {
    log_y_ = true;
    y_lo_ = std::floor(std::log10(std::max(lo, 1.0)));
    y_hi_ = std::ceil(std::log10(std::max(hi, 1.0)));
    if (y_hi_ <= y_lo_) y_hi_ = y_lo_ + 1;
  }
  void SetLinearY(double lo, double hi) {
    log_y_ = false;
    y_lo_ = lo;
    y_hi_ = hi > lo ? hi : lo + 1;
  }
  double X(double x) const { return kLeft + (x - x_lo_) / (x_hi_ - x_lo_) * PlotWidth(); }
  double Y(double y) const {
    double v = log_y_ ? std::log10(std::max(y, 1e-9)) : y;
    return kTop + PlotHeight() - (v - y_lo_) / (y_hi_ - y_lo_) * PlotHeight();
  }
  static double PlotWidth() { return kWidth - kLeft - kRight; }
  static double PlotHeight() { return kHeight - kTop - kBottom; }
  static double PlotBottom() { return kTop + PlotHeight(); }

  // Time axis in ms or s, whichever reads better for the span.
  void TimeAxis() {
    bool seconds = x_hi_ - x_lo_ > 5000;
    double step = NiceStep((x_hi_ - x_lo_) / (seconds ? 1000 : 1), 8) * (seconds ? 1000 : 1);
    for (double x = std::ceil(x_lo_ / step) * step; x <= x_hi_ + 1e-9; x += step)
      XTick(X(x), seconds ? fmt::format("{:g} s", x / 1000) : fmt::format("{:g} ms", x));
    XLabel("time since the run started");
  }
  void XTick(double px, std::string_view label) {
    body_ += fmt::format("<line class=\"tick\" x1=\"{0:.1f}\" y1=\"{1:.1f}\" x2=\"{0:.1f}\" y2=\"{2:.1f}\"/>",
                         px, PlotBottom(), PlotBottom() + 5);
    body_ += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"middle\">{}</text>", px,
                         PlotBottom() + 18, Esc(label));
  }
  void XLabel(std::string_view label) {
    body_ +=
        fmt::format("<text class=\"axis-label\" x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"middle\">{}</text>",
                    kLeft + PlotWidth() / 2, kHeight - 8, Esc(label));
  }
  void YAxis(std::string_view label, bool ns_labels) {
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
  void YTick(double value, std::string_view label) {
    double py = Y(value);
    body_ += fmt::format("<line class=\"grid\" x1=\"{:.1f}\" y1=\"{:.1f}\" x2=\"{:.1f}\" y2=\"{:.1f}\"/>",
                         kLeft, py, kLeft + PlotWidth(), py);
    body_ += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"end\">{}</text>", kLeft - 6, py + 4,
                         Esc(label));
  }
  // Shaded spans for the pinned windows (merged where they touch on screen) and a line at the crash.
  void PinsAndCrash(const Timeline& t) {
    std::vector<std::pair<double, double>> spans;
    for (const auto& p : t.pins) {
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
      else
        merged.push_back(s);
    }
    for (const auto& [from, to] : merged)
      body_ += fmt::format(
          "<rect class=\"pin-window\" x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\" "
          "fill=\"{}\" "
          "fill-opacity=\"0.28\"/>",
          from, kTop, std::max(to - from, 1.0), PlotHeight(), kPinShade);
    if (!std::isnan(t.crash_ms)) {
      double px = X(t.crash_ms);
      body_ += fmt::format(
          "<line class=\"crash\" x1=\"{0:.1f}\" y1=\"{1:.1f}\" x2=\"{0:.1f}\" y2=\"{2:.1f}\" stroke=\"{3}\" "
          "stroke-width=\"2\" stroke-dasharray=\"6 3\"/><text x=\"{4:.1f}\" y=\"{5:.1f}\" "
          "fill=\"{3}\">crash</text>",
          px, kTop, PlotBottom(), kCrashColour, px + 4, kTop + 12);
    }
  }
  void Raw(std::string_view svg) { body_ += svg; }
  void Legend(const std::vector<std::pair<std::string, std::string>>& entries) {  // colour, label
    double x = kLeft;
    for (const auto& [colour, label] : entries) {
      body_ += fmt::format("<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"12\" height=\"12\" fill=\"{}\"/>", x, 9.0,
                           colour);
      body_ += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\">{}</text>", x + 16, 20.0, Esc(label));
      x += 28 + 7.0 * double(label.size());
    }
  }
  std::string Svg() const {
    return fmt::format(
        "<figure class=\"chart {0}\"><figcaption>{1}</figcaption>"
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"{0}\" width=\"{2}\" height=\"{3}\" viewBox=\"0 0 "
        "{2} {3}\" "
        "role=\"img\"><title>{1}</title>"
        "<rect class=\"frame\" x=\"{4}\" y=\"{5}\" width=\"{6}\" height=\"{7}\"/>{8}</svg></figure>\n",
        css_class_, Esc(title_), kWidth, kHeight, kLeft, kTop, PlotWidth(), PlotHeight(), body_);
  }

 private:
  std::string css_class_, title_, body_;
  double x_lo_ = 0, x_hi_ = 1, y_lo_ = 0, y_hi_ = 1;
  bool log_y_ = false;
};

std::string EmptyChart(std::string_view css_class, std::string_view title, std::string_view why) {
  return fmt::format(
      "<figure class=\"chart {} empty\"><figcaption>{}</figcaption><p class=\"muted\">{}</p></figure>\n",
      css_class, Esc(title), Esc(why));
}

// Keeps, per series and pixel column, the lowest and the highest point, in time order.
template <typename Point, typename XOf, typename YOf>
std::vector<Point> Decimate(const std::vector<Point>& points, const Chart& chart, XOf x_of, YOf y_of) {
  if (points.size() <= kMaxChartPoints) return points;
  std::map<std::pair<long, size_t>, std::pair<size_t, size_t>>
      extremes;  // (column, series) -> (min, max) index
  for (size_t i = 0; i < points.size(); ++i) {
    auto key = std::make_pair(std::lround(chart.X(x_of(points[i]))), size_t(0));
    if constexpr (std::is_same_v<Point, SyncPoint>) key.second = points[i].phase;
    auto [it, fresh] = extremes.try_emplace(key, i, i);
    if (fresh) continue;
    if (y_of(points[i]) < y_of(points[it->second.first])) it->second.first = i;
    if (y_of(points[i]) > y_of(points[it->second.second])) it->second.second = i;
  }
  std::vector<size_t> keep;
  for (const auto& [key, ext] : extremes) {
    keep.push_back(ext.first);
    if (ext.second != ext.first) keep.push_back(ext.second);
  }
  std::sort(keep.begin(), keep.end());
  std::vector<Point> out;
  for (size_t i : keep) out.push_back(points[i]);
  return out;
}

std::string SyncOpName(const json& run) {
  return TextAt(Member(run, "run"), "sync_op", "sync");
}

std::string LatencyOverTimeChart(const json& run, const Timeline& t, const std::vector<std::string>& phases) {
  std::string title = SyncOpName(run) + " latency over time";
  if (t.syncs.empty())
    return EmptyChart("latency-time", title, "This report has no per-sync timeline (timeline.syncs).");
  Chart chart("latency-time", fmt::format("{} ({} syncs; shaded: pages pinned)", title, t.syncs.size()));
  double lo = INFINITY, hi = 0;
  for (const auto& s : t.syncs) {
    lo = std::min(lo, s.ns);
    hi = std::max(hi, s.ns);
  }
  chart.SetX(0, t.end_ms * 1.02);
  chart.SetLogY(lo, hi);
  chart.PinsAndCrash(t);
  chart.TimeAxis();
  chart.YAxis("duration (log scale)", true);
  std::vector<SyncPoint> shown = Decimate(
      t.syncs, chart, [](const SyncPoint& p) { return p.t_ms; }, [](const SyncPoint& p) { return p.ns; });
  std::string dots;
  for (const auto& s : shown)
    dots += fmt::format("<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"2.5\" fill=\"{}\"/>", chart.X(s.t_ms),
                        chart.Y(s.ns), PhaseColour(s.phase));
  chart.Raw("<g class=\"syncs\">" + dots + "</g>");
  std::vector<std::pair<std::string, std::string>> legend;
  size_t phase_count = phases.size();
  for (const auto& s : t.syncs) phase_count = std::max(phase_count, s.phase + 1);
  for (size_t i = 0; i < phase_count; ++i) legend.emplace_back(PhaseColour(i), PhaseName(phases, i));
  if (!t.pins.empty()) legend.emplace_back(kPinShade, "pages pinned");
  if (!std::isnan(t.crash_ms)) legend.emplace_back(kCrashColour, "crash");
  chart.Legend(legend);
  return chart.Svg();
}

std::string HistogramFromTimeline(const json& run, const Timeline& t,
                                  const std::vector<std::string>& phases) {
  constexpr int kBinsPerDecade = 5;
  double lo = INFINITY, hi = 0;
  size_t phase_count = 0;
  for (const auto& s : t.syncs) {
    lo = std::min(lo, s.ns);
    hi = std::max(hi, s.ns);
    phase_count = std::max(phase_count, s.phase + 1);
  }
  double decade_lo = std::floor(std::log10(lo)),
         decade_hi = std::max(std::ceil(std::log10(hi)), decade_lo + 1);
  int bins = int(decade_hi - decade_lo) * kBinsPerDecade;
  std::vector<std::vector<double>> counts(phase_count, std::vector<double>(size_t(bins), 0));
  std::vector<double> totals(phase_count, 0);
  for (const auto& s : t.syncs) {
    int bin = std::clamp(int((std::log10(s.ns) - decade_lo) * kBinsPerDecade), 0, bins - 1);
    counts[s.phase][size_t(bin)] += 1;
    totals[s.phase] += 1;
  }
  // Shares, not counts: a pinned phase that syncs less often must still compare with the baseline.
  double top = 0;
  for (size_t p = 0; p < phase_count; ++p)
    for (auto& c : counts[p]) top = std::max(top, c = totals[p] ? c / totals[p] : 0);
  Chart chart("latency-histogram",
              SyncOpName(run) + " latency distribution by phase (share of each phase's syncs)");
  chart.SetX(decade_lo, decade_hi);
  chart.SetLinearY(0, std::min(1.0, top * 1.1));
  chart.YAxis("share of syncs", false);
  for (double d = decade_lo; d <= decade_hi + 1e-9; d += 1) chart.XTick(chart.X(d), NsLabel(std::pow(10, d)));
  chart.XLabel("duration (log scale)");
  double bin_px = Chart::PlotWidth() / bins;
  double bar_px = std::max(bin_px / double(std::max<size_t>(phase_count, 1)) - 1, 1.0);
  std::string bars;
  for (size_t p = 0; p < phase_count; ++p)
    for (int b = 0; b < bins; ++b) {
      double share = counts[p][size_t(b)];
      if (share <= 0) continue;
      double x = chart.X(decade_lo + double(b) / kBinsPerDecade) + double(p) * (bar_px + 1) + 0.5;
      bars += fmt::format(
          "<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\" fill=\"{}\"><title>{}: {:.1f}% "
          "from {}</title></rect>",
          x, chart.Y(share), bar_px, Chart::PlotBottom() - chart.Y(share), PhaseColour(p),
          Esc(PhaseName(phases, p)), share * 100,
          NsLabel(std::pow(10, decade_lo + double(b) / kBinsPerDecade)));
    }
  chart.Raw("<g class=\"bars\">" + bars + "</g>");
  std::vector<std::pair<std::string, std::string>> legend;
  for (size_t p = 0; p < phase_count; ++p)
    legend.emplace_back(PhaseColour(p), fmt::format("{} ({} syncs)", PhaseName(phases, p), totals[p]));
  chart.Legend(legend);
  return chart.Svg();
}

// Without a timeline only the phases' percentiles remain: grouped bars, one group per percentile.
std::string HistogramFromPercentiles(const json& run) {
  struct Series {
    std::string label;
    std::vector<double> values;
  };
  static const std::pair<const char*, const char*> kQuantiles[] = {
      {"p50_ns", "p50"}, {"p90_ns", "p90"}, {"p99_ns", "p99"}, {"p999_ns", "p99.9"}, {"max_ns", "max"}};
  std::vector<Series> series;
  double lo = INFINITY, hi = 0;
  const json& phases = Member(run, "phases");
  if (phases.is_array())
    for (size_t i = 0; i < phases.size(); ++i)
      for (const char* op : kSyncOps) {
        const json& h = Member(Member(phases[i], "sync"), op);
        if (CountAt(h, "count") == 0) continue;
        Series s{fmt::format("{} {} ({} syncs)", TextAt(phases[i], "name", fmt::format("phase {}", i)), op,
                             CountAt(h, "count")),
                 {}};
        for (const auto& [key, label] : kQuantiles) {
          double v = std::max(NumberAt(h, key), 1.0);
          s.values.push_back(v);
          lo = std::min(lo, v);
          hi = std::max(hi, v);
        }
        series.push_back(std::move(s));
      }
  std::string title = SyncOpName(run) + " latency percentiles by phase";
  if (series.empty()) return EmptyChart("latency-histogram", title, "No syncs were recorded in any phase.");
  Chart chart("latency-histogram", title + " (no per-sync timeline in this report)");
  size_t groups = std::size(kQuantiles);
  chart.SetX(0, double(groups));
  chart.SetLogY(lo, hi);
  chart.YAxis("duration (log scale)", true);
  double group_px = Chart::PlotWidth() / double(groups);
  double bar_px = (group_px * 0.8) / double(series.size());
  std::string bars;
  for (size_t g = 0; g < groups; ++g) {
    chart.XTick(chart.X(double(g) + 0.5), kQuantiles[g].second);
    for (size_t k = 0; k < series.size(); ++k) {
      double x = chart.X(double(g)) + group_px * 0.1 + double(k) * bar_px;
      double v = series[k].values[g];
      // Bars grow from the bottom of the log axis, so even the smallest value shows.
      bars += fmt::format(
          "<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\" fill=\"{}\"><title>{}: "
          "{}</title></rect>",
          x, chart.Y(v), std::max(bar_px - 2, 1.0), std::max(Chart::PlotBottom() - chart.Y(v), 1.0),
          PhaseColour(k), Esc(series[k].label), Esc(NsLabel(v)));
    }
  }
  chart.XLabel("percentile");
  chart.Raw("<g class=\"bars\">" + bars + "</g>");
  std::vector<std::pair<std::string, std::string>> legend;
  for (size_t k = 0; k < series.size(); ++k) legend.emplace_back(PhaseColour(k), series[k].label);
  chart.Legend(legend);
  return chart.Svg();
}

std::string VmstatChart(const Timeline& t) {
  const char* title = "dirty and writeback pages over time";
  if (t.vmstat.empty())
    return EmptyChart("vmstat", title, "This report has no vmstat samples (timeline.vmstat).");
  Chart chart("vmstat", fmt::format("{} ({} samples; shaded: pages pinned)", title, t.vmstat.size()));
  double hi = 1;
  for (const auto& p : t.vmstat) hi = std::max({hi, p.dirty, p.writeback});
  chart.SetX(0, t.end_ms * 1.02);
  chart.SetLinearY(0, hi * 1.1);
  chart.PinsAndCrash(t);
  chart.TimeAxis();
  chart.YAxis("pages (nr_dirty, nr_writeback)", false);
  for (bool dirty : {true, false}) {
    auto y_of = [dirty](const VmstatPoint& p) { return dirty ? p.dirty : p.writeback; };
    std::vector<VmstatPoint> shown = Decimate(
        t.vmstat, chart, [](const VmstatPoint& p) { return p.t_ms; }, y_of);
    std::string d;
    for (size_t i = 0; i < shown.size(); ++i)
      d += fmt::format("{}{:.1f},{:.1f}", i ? " L" : "M", chart.X(shown[i].t_ms), chart.Y(y_of(shown[i])));
    chart.Raw(fmt::format("<path class=\"{}\" d=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"1.8\"/>",
                          dirty ? "nr-dirty" : "nr-writeback", d, dirty ? kDirtyColour : kWritebackColour));
    if (shown.size() == 1)  // a single sample draws no line: mark it
      chart.Raw(fmt::format("<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"3\" fill=\"{}\"/>",
                            chart.X(shown[0].t_ms), chart.Y(y_of(shown[0])),
                            dirty ? kDirtyColour : kWritebackColour));
  }
  std::vector<std::pair<std::string, std::string>> legend = {{kDirtyColour, "nr_dirty"},
                                                             {kWritebackColour, "nr_writeback"}};
  if (!t.pins.empty()) legend.emplace_back(kPinShade, "pages pinned");
  if (!std::isnan(t.crash_ms)) legend.emplace_back(kCrashColour, "crash");
  chart.Legend(legend);
  return chart.Svg();
}

// Latency against pages written per sync call, one panel per phase kind (baseline, pinned) on shared axes: a
// slow sync that wrote many pages is writeback volume; a slow sync that wrote few is something else.
std::string WritebackChart(const json& run) {
  const std::string title = SyncOpName(run) + " latency against pages written per sync";
  struct Point {
    double pages, ns;
    bool pinned;
  };
  std::vector<std::string> kinds;
  std::map<std::string, std::vector<Point>> by_kind;
  std::string source;
  const json& phases = Member(run, "phases");
  if (phases.is_array())
    for (const auto& ph : phases) {
      const json& wb = Member(ph, "writeback");
      const json& records = Member(wb, "records");
      if (!records.is_array() || records.empty()) continue;
      source = TextAt(wb, "source", source);
      const std::string kind = TextAt(ph, "name", "phase");
      if (!by_kind.count(kind)) kinds.push_back(kind);
      auto& points = by_kind[kind];
      for (const auto& row : records) {
        double ns = 0, pages = 0, pinned = 0;
        if (!NumberInArray(row, 0, &ns) || !NumberInArray(row, 1, &pages)) continue;
        NumberInArray(row, 4, &pinned);
        points.push_back({std::max(pages, 0.0), std::max(ns, 1.0), pinned != 0});
      }
    }
  if (kinds.empty())
    return EmptyChart("writeback", title,
                      "This report has no per-sync writeback records (phases[].writeback).");
  double max_pages = 1, lo = INFINITY, hi = 1;
  size_t total = 0;
  for (const auto& [kind, points] : by_kind)
    for (const auto& p : points) {
      max_pages = std::max(max_pages, p.pages);
      lo = std::min(lo, p.ns);
      hi = std::max(hi, p.ns);
      ++total;
    }
  constexpr double kWidth = 960, kHeight = 340, kLeft = 80, kRight = 20, kTop = 34, kBottom = 50, kGap = 30;
  const double panel_w = (kWidth - kLeft - kRight - kGap * double(kinds.size() - 1)) / double(kinds.size());
  const double plot_h = kHeight - kTop - kBottom;
  const double y_lo = std::floor(std::log10(std::max(lo, 1.0)));
  double y_hi = std::ceil(std::log10(hi));
  if (y_hi <= y_lo) y_hi = y_lo + 1;
  const double x_step = NiceStep(max_pages, 5);
  const double x_hi = std::ceil(max_pages * 1.05 / x_step) * x_step;
  auto y_of = [&](double ns) { return kTop + plot_h - (std::log10(ns) - y_lo) / (y_hi - y_lo) * plot_h; };
  std::string body;
  for (double d = y_lo; d <= y_hi + 1e-9; d += 1)
    body += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"end\">{}</text>", kLeft - 6,
                        y_of(std::pow(10, d)) + 4, Esc(NsLabel(std::pow(10, d))));
  body += fmt::format(
      "<text class=\"axis-label\" transform=\"translate(14,{:.1f}) rotate(-90)\" text-anchor=\"middle\">"
      "duration (log scale)</text>",
      kTop + plot_h / 2);
  for (size_t k = 0; k < kinds.size(); ++k) {
    const double left = kLeft + double(k) * (panel_w + kGap);
    auto x_of = [&](double pages) { return left + pages / x_hi * panel_w; };
    const char* colour = PhaseColour(kinds[k] == "pinned" ? 1 : k == 0 ? 0 : k + 1);
    body += fmt::format("<g class=\"writeback-panel\" data-kind=\"{}\">", Esc(kinds[k]));
    body +=
        fmt::format("<rect class=\"frame\" x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\"/>",
                    left, kTop, panel_w, plot_h);
    for (double d = y_lo; d <= y_hi + 1e-9; d += 1)
      body += fmt::format("<line class=\"grid\" x1=\"{:.1f}\" y1=\"{:.1f}\" x2=\"{:.1f}\" y2=\"{:.1f}\"/>",
                          left, y_of(std::pow(10, d)), left + panel_w, y_of(std::pow(10, d)));
    for (double x = 0; x <= x_hi + 1e-9; x += x_step)
      body += fmt::format(
          "<line class=\"tick\" x1=\"{0:.1f}\" y1=\"{1:.1f}\" x2=\"{0:.1f}\" y2=\"{2:.1f}\"/><text "
          "x=\"{0:.1f}\" "
          "y=\"{3:.1f}\" text-anchor=\"middle\">{4:g}</text>",
          x_of(x), kTop + plot_h, kTop + plot_h + 5, kTop + plot_h + 18, x);
    const auto& points = by_kind[kinds[k]];
    size_t pinned = 0;
    for (const auto& p : points) pinned += p.pinned;
    body += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" fill=\"{}\">{}</text>", left + 4, kTop - 8, colour,
                        Esc(fmt::format("{}: {} syncs{}", kinds[k], points.size(),
                                        pinned ? fmt::format(", {} with pages pinned", pinned) : "")));
    // One dot per pixel: thousands of syncs at the same few page counts would only overdraw.
    std::set<std::pair<long, long>> drawn;
    for (const auto& p : points) {
      const double cx = x_of(p.pages), cy = y_of(p.ns);
      if (!drawn.insert({std::lround(cx), std::lround(cy)}).second || drawn.size() > kMaxChartPoints)
        continue;
      body += fmt::format(
          "<circle class=\"writeback-point\" cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"2.5\" fill=\"{}\" "
          "fill-opacity=\"0.6\"/>",
          cx, cy, colour);
    }
    body += "</g>";
  }
  body += fmt::format("<text class=\"axis-label\" x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"middle\">{}</text>",
                      kLeft + (kWidth - kLeft - kRight) / 2, kHeight - 8,
                      Esc("pages written by the sync call (" + source + ")"));
  const std::string caption = fmt::format("{} ({} syncs)", title, total);
  return fmt::format(
      "<figure class=\"chart writeback\"><figcaption>{0}</figcaption>"
      "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"writeback\" width=\"{1}\" height=\"{2}\" "
      "viewBox=\"0 0 "
      "{1} {2}\" role=\"img\"><title>{0}</title>{3}</svg></figure>\n",
      Esc(caption), kWidth, kHeight, body);
}

// ---- tables ----

std::string Cell(std::string_view text, std::string_view css_class = "") {
  if (css_class.empty()) return "<td>" + Esc(text) + "</td>";
  return fmt::format("<td class=\"{}\">{}</td>", css_class, Esc(text));
}

std::string HeaderRow(std::initializer_list<std::string_view> names) {
  std::string out = "<tr>";
  for (auto n : names) out += "<th>" + Esc(n) + "</th>";
  return out + "</tr>";
}

// Objects of unknown or growing shape (environment, run, crash) as key/value rows, nested values as JSON.
std::string KeyValueTable(const json& obj, std::string_view css_class) {
  if (!obj.is_object() || obj.empty()) return "";
  std::string out = fmt::format("<table class=\"kv {}\">", css_class);
  for (const auto& [key, value] : obj.items())
    out += "<tr><th>" + Esc(key) + "</th>" + Cell(value.is_structured() ? Dump(value) : Text(value, "null")) +
           "</tr>";
  return out + "</table>\n";
}

// Arrays of objects of unknown or growing shape (planted faults) as a table over the union of their keys.
std::string ObjectListTable(const json& list, std::string_view css_class) {
  if (!list.is_array() || list.empty()) return "";
  std::vector<std::string> keys;
  for (const auto& row : list)
    if (row.is_object())
      for (const auto& [key, value] : row.items())
        if (std::find(keys.begin(), keys.end(), key) == keys.end()) keys.push_back(key);
  std::string out = fmt::format("<table class=\"{}\"><tr>", css_class);
  for (const auto& k : keys) out += "<th>" + Esc(k) + "</th>";
  out += "</tr>";
  for (const auto& row : list) {
    out += "<tr>";
    for (const auto& k : keys) {
      const json& v = Member(row, k);
      out += Cell(v.is_structured() ? Dump(v) : Text(v));
    }
    out += "</tr>";
  }
  return out + "</table>\n";
}

std::string VerdictClass(std::string_view verdict) {
  if (verdict == "pass") return "pass";
  if (verdict == "fail") return "fail";
  if (verdict == "skip") return "skip";
  return "error";
}

std::string PhasesTable(const json& run) {
  const json& phases = Member(run, "phases");
  if (!phases.is_array() || phases.empty()) return "<p class=\"muted\">No phases in this report.</p>\n";
  std::string out = "<table class=\"phases\">" + HeaderRow({"phase", "seconds", "writes", "sync", "syncs",
                                                            "p50", "p99", "p99.9", "max", "pins", "errors"});
  for (size_t i = 0; i < phases.size(); ++i) {
    const json& p = phases[i];
    std::string writes;
    const json& w = Member(p, "writes");
    if (w.is_object())
      for (const auto& [kind, n] : w.items())
        writes += fmt::format("{}{} {}", writes.empty() ? "" : ", ", kind, Text(n));
    std::string pins = "-";
    const json& pi = Member(p, "pins");
    if (TextAt(pi, "pinner", "none") != "none") {
      pins =
          fmt::format("{} {}: {}/{} pages in {} windows", TextAt(pi, "pinner"), TextAt(pi, "reference"),
                      CountAt(pi, "granted_pages"), CountAt(pi, "requested_pages"), CountAt(pi, "windows"));
      const json& refused = Member(pi, "refused");
      if (refused.is_array())
        for (const auto& r : refused)
          pins += fmt::format(", {} refused {}", TextAt(r, "count"), TextAt(r, "errno"));
    }
    std::string errors;
    for (const char* key : {"sync_errors", "write_errors"}) {
      const json& e = Member(p, key);
      if (e.is_object())
        for (const auto& [what, n] : e.items())
          errors += fmt::format("{}{} x{}", errors.empty() ? "" : ", ", what, Text(n));
    }
    // One row per sync op that ran; a phase without syncs still gets its row.
    std::vector<std::string> op_cells;
    for (const char* op : kSyncOps) {
      const json& h = Member(Member(p, "sync"), op);
      if (CountAt(h, "count") == 0) continue;
      op_cells.push_back(
          Cell(op) + Cell(std::to_string(CountAt(h, "count")), "num") +
          Cell(FormatNs(CountAt(h, "p50_ns")), "num") + Cell(FormatNs(CountAt(h, "p99_ns")), "num") +
          Cell(FormatNs(CountAt(h, "p999_ns")), "num") + Cell(FormatNs(CountAt(h, "max_ns")), "num"));
    }
    if (op_cells.empty())
      op_cells.push_back(Cell("-") + Cell("0", "num") + "<td></td><td></td><td></td><td></td>");
    for (size_t k = 0; k < op_cells.size(); ++k) {
      out += "<tr>";
      if (k == 0) {
        std::string rows = fmt::format(" rowspan=\"{}\"", op_cells.size());
        out += fmt::format("<td{}>{}</td><td class=\"num\"{}>{:.2f}</td><td{}>{}</td>", rows,
                           Esc(TextAt(p, "name", fmt::format("phase {}", i))), rows, NumberAt(p, "seconds"),
                           rows, Esc(writes));
      }
      out += op_cells[k];
      if (k == 0)
        out += fmt::format("<td rowspan=\"{0}\">{1}</td><td rowspan=\"{0}\">{2}</td>", op_cells.size(),
                           Esc(pins), Esc(errors));
      out += "</tr>";
    }
  }
  return out + "</table>\n";
}

std::string VerificationSection(const json& run) {
  const json& v = Member(run, "verification");
  if (!v.is_object()) return "<p class=\"muted\">Not verified (no verification in this report).</p>\n";
  uint64_t kernel = CountAt(Member(v, "kernel_contract"), "violations");
  const json& strict = Member(v, "strict_contract");
  uint64_t strict_misses = CountAt(strict, "misses");
  std::string classes;
  const json& c = Member(v, "classes");
  if (c.is_object())
    for (const auto& [name, n] : c.items())
      classes += fmt::format("{}{} {}", classes.empty() ? "" : ", ", Text(n), name);
  std::string out = "<table class=\"kv verification\">";
  auto row = [&](std::string_view key, std::string_view value, std::string_view css = "") {
    out += "<tr><th>" + Esc(key) + "</th>" + Cell(value, css) + "</tr>";
  };
  row("mode", TextAt(v, "mode", "?"));
  row("read with", TextAt(v, "method", "?"));
  row("blocks checked", fmt::format("{} ({} read in {:.2f} s)", CountAt(v, "checked_blocks"),
                                    FormatSize(CountAt(v, "bytes_read")), NumberAt(v, "seconds")));
  row("blocks found", classes);
  row("kernel contract", fmt::format("{} violation(s)", kernel), kernel ? "fail" : "pass");
  row("strict contract", fmt::format("{} miss(es)", strict_misses), strict_misses ? "warn" : "pass");
  if (CountAt(v, "beyond_log")) row("beyond the log", std::to_string(CountAt(v, "beyond_log")));
  out += "</table>\n";
  const json& by_writer = Member(strict, "by_writer");
  if (by_writer.is_object() && !by_writer.empty()) {
    out +=
        "<table class=\"strict\"><caption>strict contract by writer: writes completed before a successful "
        "sync"
        "</caption>" +
        HeaderRow({"writer", "promised", "found on disk", "missing"});
    for (const auto& [kind, t] : by_writer.items())
      out += "<tr>" + Cell(kind) + Cell(std::to_string(CountAt(t, "promised")), "num") +
             Cell(std::to_string(CountAt(t, "found")), "num") +
             Cell(std::to_string(CountAt(t, "missing")), CountAt(t, "missing") ? "num warn" : "num") +
             "</tr>";
    out += "</table>\n";
  }
  const json& list = Member(v, "violations");
  if (list.is_array() && !list.empty()) {
    out += fmt::format("<table class=\"violations\"><caption>violations ({} listed here of {})</caption>",
                       std::min(list.size(), kListedViolations),
                       list.size() + CountAt(v, "violations_not_listed")) +
           HeaderRow({"contract", "kind", "block", "offset", "expected gen", "found", "found gen", "writer",
                      "promised by"});
    for (size_t i = 0; i < list.size() && i < kListedViolations; ++i) {
      const json& x = list[i];
      out += "<tr>" + Cell(TextAt(x, "contract"), TextAt(x, "contract") == "kernel" ? "fail" : "warn") +
             Cell(TextAt(x, "kind")) + Cell(TextAt(x, "block"), "num") + Cell(TextAt(x, "offset"), "num") +
             Cell(TextAt(x, "expected_generation"), "num") + Cell(TextAt(x, "found")) +
             Cell(TextAt(x, "found_generation"), "num") + Cell(TextAt(x, "writer")) +
             Cell(TextAt(x, "sync_op") + " #" + TextAt(x, "sync_id")) + "</tr>";
    }
    out += "</table>\n";
    size_t more =
        list.size() - std::min(list.size(), kListedViolations) + CountAt(v, "violations_not_listed");
    if (more) out += fmt::format("<p class=\"muted\">{} more violation(s) are not listed here.</p>\n", more);
  }
  return out;
}

std::string KernelSection(const json& run) {
  std::string out;
  std::string log_state = TextAt(Member(run, "environment"), "kernel_log");
  if (!log_state.empty() && log_state != "read")
    out += "<p class=\"warn\">Kernel log not monitored: " + Esc(log_state) + "</p>\n";
  const json& events = Member(run, "kernel_events");
  if (events.is_array() && !events.empty()) {
    out += "<table class=\"kernel-events\"><caption>kernel log lines</caption>" +
           HeaderRow({"class", "time (µs)", "task (/dev/kmsg is system-wide)", "line"});
    for (const auto& e : events) {
      const json& alarm = Member(e, "alarm");
      bool is_alarm = !(alarm.is_boolean() && !alarm.get<bool>());
      const std::string pid = TextAt(e, "pid");
      std::string task;
      if (!pid.empty() && pid != "0") {
        task = "PID " + pid + " " + TextAt(e, "comm");
        if (!TextAt(e, "origin").empty()) task += " (" + TextAt(e, "origin") + ")";
      }
      out += "<tr>" + Cell(TextAt(e, "class", "?"), is_alarm ? "fail" : "") + Cell(TextAt(e, "usec"), "num") +
             Cell(task) + "<td><code>" + Esc(TextAt(e, "line")) + "</code></td></tr>";
    }
    out += "</table>\n";
  }
  const json& hangs = Member(run, "hangs");
  if (hangs.is_array() && !hangs.empty()) {
    out += "<table class=\"hangs\"><caption>hangs</caption>" +
           HeaderRow({"thread", "in", "tid", "seconds", "wchan", "kernel stack"});
    for (const auto& h : hangs)
      out += "<tr>" + Cell(TextAt(h, "role"), "fail") + Cell(TextAt(h, "op")) +
             Cell(TextAt(h, "tid"), "num") + Cell(fmt::format("{:.1f}", NumberAt(h, "seconds")), "num") +
             Cell(TextAt(h, "wchan")) + "<td><pre>" + Esc(TextAt(h, "kernel_stack")) + "</pre></td></tr>";
    out += "</table>\n";
  }
  const json& errors = Member(run, "sync_errors");
  if (errors.is_object() && !errors.empty())
    out += "<h3>sync errors</h3>" + KeyValueTable(errors, "sync-errors");
  return out;
}

std::string TimelineSummary(const Timeline& t) {
  size_t refused = 0;
  for (const auto& p : t.pins) refused += p.refused;
  return fmt::format(
      "<p class=\"muted\">timeline: {} syncs, {} pin windows ({} refused), {} vmstat samples{}.</p>\n",
      t.syncs.size(), t.pins.size() - refused, refused, t.vmstat.size(),
      std::isnan(t.crash_ms) ? std::string() : fmt::format(", crash at {:.0f} ms", t.crash_ms));
}

std::string RunSection(const json& run) {
  std::string verdict = TextAt(run, "verdict", "unknown");
  std::string out =
      fmt::format("<div class=\"verdict {}\">verdict: <b>{}</b>", VerdictClass(verdict), Esc(verdict));
  const json& reasons = Member(run, "reasons");
  if (reasons.is_array() && !reasons.empty()) {
    out += "<ul>";
    for (const auto& r : reasons) out += "<li>" + Esc(Text(r, Dump(r))) + "</li>";
    out += "</ul>";
  }
  out += "</div>\n";
  // What the kernel did wrong leads: totals over every crash cycle and race attempt, the first examples, and
  // the command that reproduces them.
  const json& findings = Member(run, "findings");
  if (findings.is_object() &&
      (CountAt(findings, "kernel_violations") || CountAt(findings, "strict_misses") || CountAt(findings, "kernel_alarms"))) {
    out += fmt::format("<div class=\"verdict fail\">findings: <b>{} kernel-contract violation(s), {} strict miss(es), "
                       "{} kernel alarm(s)</b>",
                       CountAt(findings, "kernel_violations"), CountAt(findings, "strict_misses"),
                       CountAt(findings, "kernel_alarms"));
    if (CountAt(findings, "attempts")) out += fmt::format(" in {} race attempt(s)", CountAt(findings, "attempts"));
    out += "<ul>";
    const json& examples = Member(Member(run, "race"), "examples");
    if (examples.is_array())
      for (size_t i = 0; i < examples.size() && i < 5; ++i) {
        const json& e = examples[i];
        out += "<li>" + Esc(fmt::format("attempt {}: {} block {} (offset {}) expected gen >= {} ({}), found {}, promised by {}",
                                         CountAt(e, "attempt"), TextAt(e, "contract", "?"), CountAt(e, "block"),
                                         CountAt(e, "offset"), CountAt(e, "expected_generation"),
                                         TextAt(e, "writer", "?"), TextAt(e, "found", "?"),
                                         TextAt(e, "promised_by", "?"))) +
               "</li>";
      }
    if (!TextAt(findings, "reproduce", "").empty())
      out += "<li>reproduce: <code>" + Esc(TextAt(findings, "reproduce", "")) + "</code></li>";
    out += "</ul></div>\n";
  }
  const json& cmp = Member(run, "comparison");
  if (cmp.is_object()) {
    auto q = [&](const char* k) {
      const json& x = Member(cmp, k);
      const json& ci = Member(x, "ci95");
      const bool ok = ci.is_array() && ci.size() == 2 && ci[0].is_number() && ci[1].is_number();
      return fmt::format("{} {:.2f} [{:.2f}, {:.2f}]", k, NumberAt(x, "ratio"), ok ? ci[0].get<double>() : 0.0,
                         ok ? ci[1].get<double>() : 0.0);
    };
    const bool detectable = Member(cmp, "detectable").is_boolean() && Member(cmp, "detectable").get<bool>();
    out += "<p>" + Esc(fmt::format("{} pinned/baseline: {}, {}, {} (95% CI): {}", TextAt(cmp, "op", "sync"), q("p50"),
                                   q("p99"), q("p999"),
                                   detectable ? "pins change sync latency" : "no difference detectable")) +
           "</p>\n";
  }
  const json& notes = Member(run, "notes");
  if (notes.is_array() && !notes.empty()) {
    out += "<ul class=\"notes\">";
    for (const auto& n : notes) out += "<li>note: " + Esc(Text(n, Dump(n))) + "</li>";
    out += "</ul>\n";
  }
  Timeline t = ParseTimeline(run);
  std::vector<std::string> phases = PhaseNames(run);
  out += "<section class=\"charts\">\n";
  out += LatencyOverTimeChart(run, t, phases);
  out += t.syncs.empty() ? HistogramFromPercentiles(run) : HistogramFromTimeline(run, t, phases);
  out += VmstatChart(t);
  out += WritebackChart(run);
  out += TimelineSummary(t);
  out += "</section>\n";
  out += "<h3>environment</h3>\n" + KeyValueTable(Member(run, "environment"), "environment");
  out += "<h3>run</h3>\n" + KeyValueTable(Member(run, "run"), "run");
  out += "<h3>phases</h3>\n" + PhasesTable(run);
  out += "<h3>verification</h3>\n" + VerificationSection(run);
  std::string kernel = KernelSection(run);
  if (!kernel.empty()) out += "<h3>kernel, hangs and errors</h3>\n" + kernel;
  const json& crash = Member(run, "crash");
  if (crash.is_object()) out += "<h3>crash</h3>\n" + KeyValueTable(crash, "crash");
  const json& balance = Member(run, "pin_balance");
  if (balance.is_object()) out += "<h3>pin balance</h3>\n" + KeyValueTable(balance, "pin-balance");
  const json& planted = Member(run, "planted");
  if (planted.is_array() && !planted.empty())
    out += "<h3>planted faults</h3>\n" + ObjectListTable(planted, "planted");
  return out;
}

std::string OutcomeClass(std::string_view outcome) {
  auto starts = [&](std::string_view prefix) { return outcome.substr(0, prefix.size()) == prefix; };
  if (starts("pass")) return "pass";
  if (starts("skip") || starts("refused")) return "skip";
  if (starts("fail") || starts("kernel event") || starts("hang")) return "fail";
  return "error";
}

// A matrix cell's colour: what its kernel's rule says wins over the bare outcome (an expected refusal is a pass,
// an unexpected grant a fail).
std::string CellClass(const json& cell) {
  const json& expected = Member(cell, "as_expected");
  const std::string outcome = TextAt(cell, "outcome", TextAt(Member(cell, "report"), "verdict", "no outcome"));
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

std::string MatrixSection(const json& doc) {
  const json& cells = Member(doc, "cells");
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

constexpr const char* kStyle = R"css(
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; max-width: 1000px; }
h1 { font-size: 1.5em; } h3 { margin-top: 1.5em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: 0.5em 0; }
th, td { border: 1px solid #ccc; padding: 3px 7px; text-align: left; vertical-align: top; }
th { background: #f3f3f3; } caption { text-align: left; font-weight: bold; padding: 4px 0; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
code, pre { font: 12px/1.3 ui-monospace, monospace; white-space: pre-wrap; word-break: break-all; margin: 0; }
.pass { background: #c8e6c9; } .fail { background: #ffcdd2; } .skip { background: #e0e0e0; }
.error { background: #ffe0b2; } .warn { background: #fff9c4; } .muted { color: #666; }
.verdict { padding: 8px 12px; border-radius: 4px; font-size: 1.1em; }
.verdict ul { margin: 4px 0 0; font-size: 0.9em; }
figure.chart { margin: 1em 0; } figcaption { font-weight: bold; margin-bottom: 4px; }
svg { max-width: 100%; height: auto; background: #fff; font: 11px sans-serif; }
svg .frame { fill: none; stroke: #999; } svg .grid { stroke: #e5e5e5; } svg .tick { stroke: #999; }
svg .axis-label { font-size: 12px; fill: #444; }
table.matrix td.cells { padding: 2px; } table.matrix td.absent { background: #fafafa; }
a.cell, span.cell { display: block; padding: 4px 6px; margin: 1px; color: #222; text-decoration: none;
  border-radius: 3px; } span.cell { display: inline-block; }
a.cell.pass { background: #66bb6a; } a.cell.fail { background: #ef5350; color: #fff; }
a.cell.skip { background: #bdbdbd; } a.cell.error { background: #ffa726; }
details.cell-report { margin: 0.5em 0; border: 1px solid #ddd; padding: 4px 10px; }
summary { cursor: pointer; }
)css";

}  // namespace

std::string RenderHtml(const nlohmann::json& doc) {
  std::string title, body;
  if (report_detail::IsMatrix(doc)) {
    title = fmt::format("longpin matrix: {} cells", Member(doc, "cells").size());
    body = "<h1>" + Esc(title) + "</h1>\n" + MatrixSection(doc);
  } else {
    title = fmt::format("longpin run {}: {}", TextAt(Member(doc, "run"), "run_id", "?"),
                        TextAt(doc, "verdict", "unknown"));
    const json& env = Member(doc, "environment");
    body = "<h1>" + Esc(title) + "</h1>\n<p>" +
           Esc(fmt::format("kernel {} · {} · pinner {} · {}", TextAt(env, "kernel", "?"),
                           TextAt(env, "fs_detail", TextAt(env, "fs", "?")),
                           TextAt(Member(doc, "run"), "pinner", "?"), SyncOpName(doc))) +
           "</p>\n" + RunSection(doc);
  }
  body += fmt::format("<p class=\"muted\">rendered by longpin from a report of schema version {}</p>\n",
                      Esc(TextAt(doc, "schema_version", "unknown")));
  return fmt::format(
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
      "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src "
      "'unsafe-inline'\">\n"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
      "<title>{}</title>\n<style>{}</style>\n</head>\n<body>\n{}</body>\n</html>\n",
      Esc(title), kStyle, body);
}

}  // namespace longpin
