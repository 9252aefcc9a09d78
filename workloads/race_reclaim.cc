// Reclaim of a race window and the memory cgroup of reclaim:cgroup (see race_reclaim.h).
#include "workloads/race_reclaim.h"

#include <dirent.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <vector>

#include "core/status.h"

namespace longpin {
namespace race {
namespace {

bool WriteFile(const std::string& path, const std::string& text, int* err = nullptr) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) {
    if (err) *err = errno;
    return false;
  }
  const ssize_t n = ::write(fd, text.data(), text.size());
  const int e = errno;
  ::close(fd);
  if (n != ssize_t(text.size())) {
    if (err) *err = n < 0 ? e : EIO;
    return false;
  }
  return true;
}

std::string ReadFirstLine(const std::string& path) {
  std::ifstream f(path);
  std::string line;
  std::getline(f, line);
  return line;
}

constexpr const char* kCgroupRoot = "/sys/fs/cgroup";
constexpr const char* kCgroupPrefix = "longpin-race-";

}  // namespace

std::optional<std::string> RaceCgroup::Create() {
  const std::string controllers = ReadFirstLine(std::string(kCgroupRoot) + "/cgroup.controllers");
  if (controllers.find("memory") == std::string::npos)
    return std::string("no cgroup v2 memory controller at ") + kCgroupRoot +
           " (cgroup v1 or not mounted): use reclaim:pageout";
  std::ifstream self("/proc/self/cgroup");
  for (std::string line; std::getline(self, line);)
    if (line.rfind("0::", 0) == 0) origin_ = line.substr(3);
  if (origin_.empty()) return std::string("this process is in no cgroup v2 group: use reclaim:pageout");
  const std::string subtree = std::string(kCgroupRoot) + "/cgroup.subtree_control";
  if (ReadFirstLine(subtree).find("memory") == std::string::npos) {
    int err = 0;
    if (!WriteFile(subtree, "+memory", &err))
      return fmt::format("cannot enable the memory controller in {} ({})", subtree, ErrnoName(err));
    enabled_controller_ = true;
  }
  dir_ = std::string(kCgroupRoot) + "/" + kCgroupPrefix + std::to_string(::getpid());
  if (::mkdir(dir_.c_str(), 0755) != 0) {
    std::string why = fmt::format("mkdir {}: {}", dir_, ErrnoName(errno));
    dir_.clear();
    return why;
  }
  int err = 0;
  if (!WriteFile(dir_ + "/cgroup.procs", std::to_string(::getpid()), &err))
    return fmt::format("cannot move longpin into {} ({})", dir_, ErrnoName(err));
  moved_ = true;
  return std::nullopt;
}

int RaceCgroup::Reclaim() {
  const std::string current = ReadFirstLine(dir_ + "/memory.current");
  int err = 0;
  if (!WriteFile(dir_ + "/memory.reclaim", current.empty() ? std::string("64M") : current, &err)) return err;
  return 0;
}

void RaceCgroup::Remove() {
  if (moved_) WriteFile(std::string(kCgroupRoot) + origin_ + "/cgroup.procs", std::to_string(::getpid()));
  moved_ = false;
  if (!dir_.empty()) ::rmdir(dir_.c_str());
  dir_.clear();
  if (enabled_controller_) WriteFile(std::string(kCgroupRoot) + "/cgroup.subtree_control", "-memory");
  enabled_controller_ = false;
}

bool PageoutSupported() {
  void* p = ::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return false;
  const bool ok = ::madvise(p, 4096, MADV_PAGEOUT) == 0;
  ::munmap(p, 4096);
  return ok;
}

int64_t PresentPages(const std::byte* addr, size_t len, size_t page) {
  int fd = ::open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  const size_t n = len / page;
  std::vector<uint64_t> entries(n);
  const off_t at = off_t(reinterpret_cast<uintptr_t>(addr) / page * sizeof(uint64_t));
  const ssize_t got = ::pread(fd, entries.data(), n * sizeof(uint64_t), at);
  ::close(fd);
  if (got != ssize_t(n * sizeof(uint64_t))) return -1;
  return std::count_if(entries.begin(), entries.end(), [](uint64_t e) { return (e >> 63) & 1; });
}

int ReclaimWindow(ReclaimMethod method, std::byte* map, int fd, uint64_t offset, uint64_t len,
                  RaceCgroup* cgroup) {
  switch (method) {
    case ReclaimMethod::kPageout: return ::madvise(map + offset, len, MADV_PAGEOUT) != 0 ? errno : 0;
    case ReclaimMethod::kFadvise: return ::posix_fadvise(fd, off_t(offset), off_t(len), POSIX_FADV_DONTNEED);
    case ReclaimMethod::kCgroup: return cgroup->Reclaim();
  }
  return EINVAL;
}

std::string ReclaimDetail(ReclaimMethod method, const RaceCgroup* cgroup) {
  switch (method) {
    case ReclaimMethod::kCgroup: return "memory.reclaim of " + cgroup->dir();
    case ReclaimMethod::kPageout: return "madvise(MADV_PAGEOUT) of the window";
    case ReclaimMethod::kFadvise: return "posix_fadvise(POSIX_FADV_DONTNEED) of the window";
  }
  return "";
}

}  // namespace race

std::vector<std::string> CleanupStaleRaceCgroups(bool dry_run) {
  using race::kCgroupPrefix;
  using race::kCgroupRoot;
  std::vector<std::string> done;
  DIR* d = ::opendir(kCgroupRoot);
  if (!d) return done;
  while (dirent* e = ::readdir(d)) {
    const std::string name = e->d_name;
    if (name.rfind(kCgroupPrefix, 0) != 0) continue;
    const std::string pid_text = name.substr(std::strlen(kCgroupPrefix));
    if (pid_text.empty() || pid_text.find_first_not_of("0123456789") != std::string::npos) continue;
    const std::string path = std::string(kCgroupRoot) + "/" + name;
    if (::access(("/proc/" + pid_text).c_str(), F_OK) == 0) {
      done.push_back("skipped " + path + ": process " + pid_text + " is still running");
      continue;
    }
    if (dry_run) {
      done.push_back("would remove " + path);
    } else if (::rmdir(path.c_str()) == 0) {
      done.push_back("removed " + path);
    } else {
      done.push_back("skipped " + path + ": " + std::string(ErrnoName(errno)) + " (processes still in it?)");
    }
  }
  ::closedir(d);
  return done;
}

}  // namespace longpin
