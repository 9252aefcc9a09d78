// The pins of a run, judged from the kernel's nr_foll_pin_acquired/released counters: the balance over the
// whole run (a leak fails it) and the kind of reference each pinned phase took (FOLL_PIN or not).
#include <thread>

#include "core/measured_pin_kinds.h"
#include "pinners/pinner.h"
#include "workloads/run_session.h"

namespace longpin {

namespace {

// Which pinner takes FOLL_PIN is measured per phase (MeasuredReference), not taken from its label: FUSE
// direct IO, for one, took FOLL_GET references before 6.9. A measured kind other than the notes expect is
// said once, for the first phase that measured one.
bool TakesFollPin(RunSession& s) {
  RunReport& report = s.report;
  bool takes_foll_pin = false;
  bool compared = false;
  for (const auto& ph : report.phases) {
    if (ph.pins.pinner == "none") continue;
    const std::string measured = MeasuredReference(ph.pins);
    if (measured == "FOLL_PIN") takes_foll_pin = true;
    if (compared || (measured != "FOLL_PIN" && measured != "FOLL_GET/none")) continue;
    compared = true;
    const std::string expected = ExpectedPinReference(s.cfg.pinner, report.kernel);
    if (expected.rfind(measured == "FOLL_GET/none" ? "FOLL_GET" : measured, 0) != 0)
      report.notes.push_back("pin kind: measured " + measured + " (nr_foll_pin_* of phase " + ph.name +
                             ", system-wide), but ../shared/KERNEL_NOTES.md expects " + expected + " on " +
                             report.kernel);
  }
  return takes_foll_pin;
}

}  // namespace

// The kernel's counters are system-wide and per-cpu batched, so a gap is re-read for a second before it
// counts, and only a pinner that takes FOLL_PIN pins can leak them: with any other, a gap is another
// process's IO (a negative gap always is).
void CheckPinBalance(RunSession& s) {
  RunReport& report = s.report;
  const PinCounterSnapshot& before = s.run_pins_before;
  if (!TakesFollPin(s)) return;
  PinCounterSnapshot after = ReadPinCounters();
  if (!before.available || !before.refreshed || !after.refreshed) return;
  report.pin_balance_checked = true;
  // Other processes' pins in flight (O_DIRECT of a qemu, another test) show as a gap too: while the counters
  // keep moving, a gap is only a leak if it outlasts a moment of balance, looked for over 3 s. A gap that
  // never settles on a busy machine is reported as unclear, never as the kernel's leak.
  bool others_pinning = false;
  for (int i = 0; i < 30; ++i) {
    report.pin_leak_pages =
        int64_t(after.acquired - before.acquired) - int64_t(after.released - before.released);
    if (report.pin_leak_pages <= 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    PinCounterSnapshot next = ReadPinCounters();
    if (next.acquired != after.acquired) others_pinning = true;
    after = next;
    if (i >= 9 && !others_pinning) break;  // a quiet second: the gap is ours
  }
  if (report.pin_leak_pages > 0 && others_pinning) {
    report.notes.push_back(
        "pin balance unclear: " + std::to_string(report.pin_leak_pages) +
        " pages of the system-wide nr_foll_pin counters outstanding while other processes kept "
        "pinning pages; not judged as a leak");
    report.pin_leak_pages = 0;
    report.pin_balance_checked = false;
  }
}

// `longpin list` shows the pin kind this kernel gave the pinner, kept when every pinned phase agrees.
void RecordPinKind(RunSession& s) {
  std::string kind;
  for (const auto& ph : s.report.phases)
    if (ph.pins.pinner != "none")
      kind = kind.empty() || kind == MeasuredReference(ph.pins) ? MeasuredReference(ph.pins) : "unclear";
  RecordMeasuredPinKind(s.cfg.pinner, kind, s.report.kernel);
}

}  // namespace longpin
