// Where longpin's data files (presets, kernel rules, vm/run) are: an installed binary uses the ones installed
// with it, found beside itself (BIN/../share/longpin), wherever the install was moved (a staging prefix, a
// .deb's /usr), and never a source tree that happens to be on the machine: that may be another version.
#pragma once

#include <optional>
#include <string>

namespace longpin {

// The running binary (/proc/self/exe); "" when it cannot be read.
std::string ExecutablePath();
// Its directory; "." when it cannot be read.
std::string ExecutableDir();
// BIN/../share/longpin/RELATIVE when the binary is an installed one and the path exists there.
std::optional<std::string> InstalledBesideBinary(const std::string& relative);

}  // namespace longpin
