// vmsplice: the window's pages go into a pipe (vmsplice without SPLICE_F_GIFT) that nobody reads until the
// window rotates; the pipe buffers hold page references (FOLL_GET, so nr_foll_pin_* stay flat).
#pragma once

#include "pinners/pinner.h"

namespace longpin {
Result<std::unique_ptr<Pinner>> CreateVmsplicePinner(const PinTarget& target, const PinnerOptions& options);
}  // namespace longpin
