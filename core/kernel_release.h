// The running kernel's release ("6.1.0-57-amd64"): reports name it, the kernel's rules and the measured pin
// kinds are keyed by it.
#pragma once

#include <string>

namespace longpin {

// "" when uname fails.
std::string KernelRelease();

}  // namespace longpin
