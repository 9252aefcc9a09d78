// A temporary directory for a test, removed with everything in it at the end, never crossing into a mount
// point (a test that failed midway may leave one of its own mounted there).
#pragma once

#include <ftw.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <string>

namespace longpin::test {

class TempDir {
 public:
  explicit TempDir(const char* prefix = "longpin-it") {
    std::string tmpl = std::string("/tmp/") + prefix + "-XXXXXX";
    const char* made = ::mkdtemp(tmpl.data());
    path_ = made ? made : "";
  }
  ~TempDir() {
    if (path_.empty()) return;
    ::nftw(
        path_.c_str(), [](const char* p, const struct stat*, int, FTW*) { return ::remove(p); }, 32,
        FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

}  // namespace longpin::test
