// What the report model works out from what a run recorded: medians of its sync calls, the reference kind
// its counters show, and what the kernel did wrong over every crash cycle and race attempt.
#include "report/run_report.h"

#include <algorithm>

namespace longpin {
namespace {

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  auto mid = v.begin() + std::ptrdiff_t(v.size() / 2);
  std::nth_element(v.begin(), mid, v.end());
  if (v.size() % 2) return *mid;
  return (*mid + *std::max_element(v.begin(), mid)) / 2;
}

uint64_t AlarmsOf(const RunReport& r) {
  return uint64_t(std::count_if(r.kernel_events.begin(), r.kernel_events.end(),
                                [](const KernelEvent& e) { return e.alarm(); }));
}

}  // namespace

Findings OneRunFindings(const RunReport& r) {
  Findings f;
  if (r.verification) {
    f.kernel_violations = r.verification->kernel_violations;
    f.strict_misses = r.verification->strict_misses;
  }
  if (r.race) {
    f.kernel_violations += r.race->kernel_violations;
    f.strict_misses += r.race->strict_misses;
    f.attempts = r.race->attempts;
  }
  f.kernel_alarms = AlarmsOf(r);
  return f;
}

WritebackMedians MediansOf(const std::vector<const SyncCallRecord*>& syncs) {
  WritebackMedians m;
  std::vector<double> pages, per_page, off_cpu;
  for (const SyncCallRecord* r : syncs) {
    ++m.syncs;
    m.pinned_syncs += r->pinned;
    m.pages_waited += r->pages_waited;
    pages.push_back(double(r->pages_written));
    off_cpu.push_back(double(r->off_cpu_ns));
    if (r->pages_written) per_page.push_back(double(r->duration_ns) / double(r->pages_written));
  }
  m.pages_written = Median(pages);
  m.ns_per_page = Median(per_page);
  m.off_cpu_ns = Median(off_cpu);
  return m;
}

std::string MeasuredReference(const PinStats& p) {
  const uint64_t held = p.per_io ? p.io_pages : p.granted_pages;
  if (!p.after.available || !p.before.available || held == 0) return "unmeasured";
  const uint64_t acquired = p.after.acquired - p.before.acquired;
  if (acquired >= held) return "FOLL_PIN";
  if (acquired == 0 && p.after.refreshed) return "FOLL_GET/none";
  return "unclear";
}

Findings FindingsOf(const RunReport& r) {
  if (r.cycles.empty()) return OneRunFindings(r);
  Findings total;
  for (const auto& c : r.cycles) {
    Findings f = OneRunFindings(c);
    total.kernel_violations += f.kernel_violations;
    total.strict_misses += f.strict_misses;
    total.kernel_alarms += f.kernel_alarms;
    total.attempts += f.attempts;
  }
  return total;
}

}  // namespace longpin
