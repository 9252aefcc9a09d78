#include "core/install_paths.h"

#include <sys/stat.h>
#include <unistd.h>

#include <climits>

namespace longpin {

std::string ExecutablePath() {
  char buf[PATH_MAX];
  const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, size_t(n)) : std::string();
}

std::string ExecutableDir() {
  const std::string path = ExecutablePath();
  return path.empty() ? "." : path.substr(0, path.rfind('/'));
}

std::optional<std::string> InstalledBesideBinary(const std::string& relative) {
  const std::string path = ExecutableDir() + "/../share/longpin/" + relative;
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return std::nullopt;
  return path;
}

}  // namespace longpin
