// The charts of a run's HTML page, drawn from its timeline and phases: sync latency over time with the pin
// windows shaded, the latency distribution by phase, dirty and writeback pages over time, and latency against
// pages written per sync call. Every chart explains itself when the report has nothing for it.
#include "report/svg_charts.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <string>
#include <type_traits>
#include <vector>

#include "report/report_html.h"
#include "report/svg_plot.h"

namespace longpin::html {
namespace {

using nlohmann::json;
using report_detail::CountAt;
using report_detail::Member;
using report_detail::NumberAt;
using report_detail::TextAt;

// Above this many points a chart keeps the lowest and highest point of each pixel column per series: the
// outliers a reader looks for survive and the page stays small.
constexpr size_t kMaxChartPoints = 4000;
constexpr const char* kDirtyColour = "#d62728";
constexpr const char* kWritebackColour = "#1f77b4";

// ---- the timeline, parsed leniently: a malformed entry is skipped, never fatal ----

struct SyncPoint {
  double t_ms;
  double ns;
  size_t phase;
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
  chart.PinsAndCrash(t.pins, t.crash_ms);
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
  chart.PinsAndCrash(t.pins, t.crash_ms);
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

struct WritebackPoint {
  double pages, ns;
  bool pinned;
};
// Each phase kind's sync calls (the phases of one name pooled), kinds in first-seen order.
struct WritebackSeries {
  std::vector<std::string> kinds;
  std::map<std::string, std::vector<WritebackPoint>> by_kind;
  std::string source;  // how pages written were counted
};

WritebackSeries WritebackSeriesOf(const json& run) {
  WritebackSeries s;
  const json& phases = Member(run, "phases");
  if (phases.is_array())
    for (const auto& ph : phases) {
      const json& wb = Member(ph, "writeback");
      const json& records = Member(wb, "records");
      if (!records.is_array() || records.empty()) continue;
      s.source = TextAt(wb, "source", s.source);
      const std::string kind = TextAt(ph, "name", "phase");
      if (!s.by_kind.count(kind)) s.kinds.push_back(kind);
      auto& points = s.by_kind[kind];
      for (const auto& row : records) {
        double ns = 0, pages = 0, pinned = 0;
        if (!NumberInArray(row, 0, &ns) || !NumberInArray(row, 1, &pages)) continue;
        NumberInArray(row, 4, &pinned);
        points.push_back({std::max(pages, 0.0), std::max(ns, 1.0), pinned != 0});
      }
    }
  return s;
}

// Latency against pages written per sync call, one panel per phase kind (baseline, pinned) on shared axes: a
// slow sync that wrote many pages is writeback volume; a slow sync that wrote few is something else.
std::string WritebackChart(const json& run) {
  const std::string title = SyncOpName(run) + " latency against pages written per sync";
  const WritebackSeries series = WritebackSeriesOf(run);
  const auto& kinds = series.kinds;
  const auto& by_kind = series.by_kind;
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
    const auto& points = by_kind.at(kinds[k]);
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
                      Esc("pages written by the sync call (" + series.source + ")"));
  const std::string caption = fmt::format("{} ({} syncs)", title, total);
  return fmt::format(
      "<figure class=\"chart writeback\"><figcaption>{0}</figcaption>"
      "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"writeback\" width=\"{1}\" height=\"{2}\" "
      "viewBox=\"0 0 "
      "{1} {2}\" role=\"img\"><title>{0}</title>{3}</svg></figure>\n",
      Esc(caption), kWidth, kHeight, body);
}

std::string TimelineSummary(const Timeline& t) {
  size_t refused = 0;
  for (const auto& p : t.pins) refused += p.refused;
  return fmt::format(
      "<p class=\"muted\">timeline: {} syncs, {} pin windows ({} refused), {} vmstat samples{}.</p>\n",
      t.syncs.size(), t.pins.size() - refused, refused, t.vmstat.size(),
      std::isnan(t.crash_ms) ? std::string() : fmt::format(", crash at {:.0f} ms", t.crash_ms));
}

}  // namespace

std::string ChartsSection(const json& run) {
  Timeline t = ParseTimeline(run);
  std::vector<std::string> phases = PhaseNames(run);
  std::string out = "<section class=\"charts\">\n";
  out += LatencyOverTimeChart(run, t, phases);
  out += t.syncs.empty() ? HistogramFromPercentiles(run) : HistogramFromTimeline(run, t, phases);
  out += VmstatChart(t);
  out += WritebackChart(run);
  out += TimelineSummary(t);
  out += "</section>\n";
  return out;
}

}  // namespace longpin::html
