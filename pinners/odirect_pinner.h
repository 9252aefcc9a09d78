// odirect: an O_DIRECT read from a source file (in the scratch directory) into the target mapping. The kernel
// pins the destination pages (FOLL_PIN, short-term) for the IO, the device DMAs into them, and completion
// dirties them: a write through a pin, behind the page tables. Pin only remembers the window; the pin itself
// lasts as long as each DmaWrite.
#pragma once

#include <optional>
#include <string>

#include "pinners/pinner.h"

namespace longpin {
Result<std::unique_ptr<Pinner>> CreateOdirectPinner(const PinTarget& target, const PinnerOptions& options);
}  // namespace longpin
