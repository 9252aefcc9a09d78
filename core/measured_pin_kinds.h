// Measured pin kinds: the reference kind each pinner's pins were measured to take on a kernel (the pinned
// phase's nr_foll_pin_* deltas), remembered per kernel release so that `longpin list` can show what this
// kernel did rather than what a table says it should do.
//
// The store is one small JSON file: $LONGPIN_STATE_DIR/pin-kinds.json when set; as root
// /var/lib/longpin/pin-kinds.json; otherwise $XDG_STATE_HOME/longpin/pin-kinds.json (~/.local/state when
// unset).
#pragma once

#include <optional>
#include <string>

namespace longpin {

struct MeasuredPinKind {
  std::string kind;  // "FOLL_PIN" or "FOLL_GET/none"
  std::string date;  // the day of the run that measured it, UTC, YYYY-MM-DD
};

// The store's path; "" when no directory can be named (no HOME for a normal user).
std::string MeasuredPinKindsPath();

// Remembers `kind` for `pinner` on `kernel_release`. Only an answer is kept: "unmeasured" and "unclear" would
// overwrite a measurement with nothing. Never fails a run: a store that cannot be read or written is left
// alone, without a word. Concurrent runs serialise on a lock of the store's directory, and the file is
// replaced by rename, so a reader never sees half of one.
void RecordMeasuredPinKind(const std::string& pinner, const std::string& kind,
                           const std::string& kernel_release);

// What was last measured for `pinner` on `kernel_release`; nullopt when nothing (or the store is unreadable).
std::optional<MeasuredPinKind> LookupMeasuredPinKind(const std::string& pinner,
                                                     const std::string& kernel_release);

}  // namespace longpin
