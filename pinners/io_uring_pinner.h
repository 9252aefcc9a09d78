// io_uring: each window is one registered fixed buffer (FOLL_PIN|FOLL_LONGTERM, always writable). The kernel
// refuses file-backed shared mappings that need dirty tracking (EFAULT on 6.5+) and grants memfd/shmem. When
// granted, IORING_OP_READ_FIXED from a source file into the registered buffer writes through the pin.
#pragma once

#include <optional>
#include <string>

#include "pinners/pinner.h"

namespace longpin {
std::optional<std::string> IoUringPinnerUnavailable();
Result<std::unique_ptr<Pinner>> CreateIoUringPinner(const PinTarget& target, const PinnerOptions& options);
}  // namespace longpin
