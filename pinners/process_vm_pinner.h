// process-vm: a helper child process writes blocks into the parent's target mapping with process_vm_writev.
// The kernel pins the parent's pages (pin_user_pages_remote: FOLL_PIN, short-term), copies, and unpins them
// dirty: a write behind the page tables, the path of the ext4 "page without buffers" reports on old kernels.
#pragma once

#include <optional>
#include <string>

#include "pinners/pinner.h"

namespace longpin {
std::optional<std::string> ProcessVmPinnerUnavailable();
Result<std::unique_ptr<Pinner>> CreateProcessVmPinner(const PinTarget& target, const PinnerOptions& options);
}  // namespace longpin
