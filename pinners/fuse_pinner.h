// fuse: a one-file FUSE filesystem served by a thread of this process (libfuse3 low level). The file is
// opened with direct_io, so a read of it into the target mapping makes the kernel hold the target pages for
// the whole request; the read handler waits --pin-hold, then replies with the block the pinner queued, and
// the kernel copies the reply into the held pages: a DMA-like write behind the page tables, completed when
// the read returns. The daemon is built only with libfuse3 (LONGPIN_HAVE_FUSE); the registry lists the pinner
// either way.
#pragma once

#include <optional>
#include <string>

#include "pinners/pinner.h"

namespace longpin {

inline constexpr const char* kFusePinnerDescription =
    "read of a FUSE direct_io file into the window; the daemon waits --pin-hold, then its reply is the DMA "
    "write";
// Measured on 6.18: FUSE direct IO takes FOLL_PIN pins (nr_foll_pin_* move by the pages read); see
// docs/pinners.md.
inline constexpr PinReference kFusePinnerReference = PinReference::kFollPin;
inline constexpr const char* kFuseCompiledOut = "built without libfuse3 (LONGPIN_WITH_FUSE)";

// Option: hold=DURATION (--pin-hold), how long the daemon holds each read. Compiled out, the factory refuses
// with kFuseCompiledOut, which FusePinnerUnavailable gives too.
std::optional<std::string> FusePinnerUnavailable();
Result<std::unique_ptr<Pinner>> CreateFusePinner(const PinTarget& target, const PinnerOptions& options);

}  // namespace longpin
