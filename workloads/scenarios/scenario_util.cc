#include "workloads/scenarios/scenario_util.h"

#include <limits.h>
#include <unistd.h>

namespace longpin::scenario {

std::optional<std::string> TargetPath(int fd) {
  char buf[PATH_MAX];
  const std::string link = "/proc/self/fd/" + std::to_string(fd);
  const ssize_t n = ::readlink(link.c_str(), buf, sizeof buf - 1);
  if (n <= 0) return std::nullopt;
  std::string path(buf, size_t(n));
  // "/memfd:name (deleted)" and other anonymous files have no directory to work in.
  if (path.empty() || path[0] != '/' || path.rfind("/memfd:", 0) == 0 ||
      path.find(" (deleted)") != std::string::npos)
    return std::nullopt;
  return path;
}

std::string DirectoryOf(const std::string& path) {
  const auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

}  // namespace longpin::scenario
