#include "core/run_directory.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/loop.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "core/mount_table.h"

namespace longpin {
namespace {

constexpr const char* kOwnerFile = "owner";

bool MkdirP(const std::string& path) {
  std::string cur;
  std::stringstream ss(path);
  std::string part;
  if (!path.empty() && path[0] == '/') cur = "";
  while (std::getline(ss, part, '/')) {
    if (part.empty()) continue;
    cur += "/" + part;
    if (::mkdir(cur.c_str(), 0755) != 0 && errno != EEXIST) return false;
  }
  return true;
}

// Whether a mount under run directory dir is one longpin made: its scratch filesystem (a loop device backed
// by an image in dir) or its own tmpfs/hugetlbfs (source "longpin-..."). Anything else was mounted there by
// someone else and is left alone.
bool IsOwnMount(const MountEntry& m, const std::string& dir) {
  if (m.source.rfind("longpin-", 0) == 0) return true;
  if (m.source.rfind("/dev/loop", 0) != 0) return false;
  std::ifstream bf("/sys/block/" + m.source.substr(5) + "/loop/backing_file");
  std::string backing;
  return std::getline(bf, backing) && backing.rfind(dir + "/", 0) == 0;
}

// Removes path and everything below it on the same device: a directory on another device is a mount
// (someone else's, or ours that failed to unmount) and is never descended into.
void RemoveTree(const std::string& path, std::vector<CleanupAction>* actions, bool dry_run, dev_t dev = 0) {
  struct stat self {};
  if (::lstat(path.c_str(), &self) != 0) return;
  if (dev == 0) dev = self.st_dev;
  if (self.st_dev != dev) {
    if (actions) actions->push_back({"left " + path + " alone: another filesystem is mounted there", false});
    return;
  }
  DIR* d = ::opendir(path.c_str());
  if (d) {
    while (dirent* e = ::readdir(d)) {
      std::string name = e->d_name;
      if (name == "." || name == "..") continue;
      std::string child = path + "/" + name;
      struct stat st {};
      if (::lstat(child.c_str(), &st) != 0) continue;
      if (S_ISDIR(st.st_mode)) {
        RemoveTree(child, actions, dry_run, dev);
      } else if (!dry_run && ::unlink(child.c_str()) != 0 && actions) {
        actions->push_back({"remove " + child + " failed: " + std::to_string(errno), false});
      }
    }
    ::closedir(d);
  }
  if (!dry_run) ::rmdir(path.c_str());
}

}  // namespace

std::string DefaultWorkBase() {
  if (const char* env = std::getenv("LONGPIN_WORKDIR"); env && *env) return env;
  if (::geteuid() == 0) return "/var/tmp/longpin";
  const char* tmp = std::getenv("TMPDIR");
  return std::string(tmp && *tmp ? tmp : "/tmp") + "/longpin-" + std::to_string(::geteuid());
}

unsigned long long ProcessStartTime(int pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string s;
  if (!std::getline(f, s)) return 0;
  auto close = s.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream is(s.substr(close + 2));
  std::string field;
  // Fields after the command: state is field 3; start time is field 22.
  for (int i = 3; i <= 22; ++i) {
    if (!(is >> field)) return 0;
  }
  return std::strtoull(field.c_str(), nullptr, 10);
}

Result<RunDirectory> RunDirectory::Create(const std::string& base, uint64_t run_id) {
  if (!MkdirP(base)) return Status::FromErrno("create work directory " + base);
  char name[40];
  std::snprintf(name, sizeof name, "run-%016llx", static_cast<unsigned long long>(run_id));
  RunDirectory rd;
  rd.path_ = base + "/" + name;
  // A repeated seed repeats the run id; the directory of an earlier run with it may still hold evidence.
  for (int i = 1; ::mkdir(rd.path_.c_str(), 0755) != 0; ++i) {
    if (errno != EEXIST || i > 1000) return Status::FromErrno("create run directory " + rd.path_);
    rd.path_ = base + "/" + name + "." + std::to_string(i);
  }
  std::ofstream owner(rd.File(kOwnerFile));
  owner << "longpin pid=" << ::getpid() << " start=" << ProcessStartTime(::getpid()) << "\n";
  if (!owner) return Status::FromErrno("write " + rd.File(kOwnerFile));
  return rd;
}

Result<RunDirectory> RunDirectory::OpenOwn(const std::string& path) {
  std::ifstream owner(path + "/" + kOwnerFile);
  std::string line;
  std::getline(owner, line);
  const std::string mine =
      "longpin pid=" + std::to_string(::getpid()) + " start=" + std::to_string(ProcessStartTime(::getpid()));
  if (line != mine) return Status(EPERM, path + " is not a run directory of this process");
  RunDirectory rd;
  rd.path_ = path;
  return rd;
}

Status RunDirectory::Remove() const {
  for (const auto& mp : MountPoints())
    if (mp.rfind(path_ + "/", 0) == 0)
      return Status(EBUSY, "remove " + path_ + ": " + mp + " is still mounted");
  RemoveTree(path_, nullptr, false);
  if (::access(path_.c_str(), F_OK) == 0) return Status(ENOTEMPTY, "remove " + path_);
  return {};
}

std::vector<CleanupAction> CleanupStaleRuns(const std::string& base, bool dry_run,
                                            const StaleDeviceRemover& remove_devices) {
  std::vector<CleanupAction> actions;
  DIR* d = ::opendir(base.c_str());
  if (!d) return actions;
  std::vector<std::string> runs;
  while (dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name.rfind("run-", 0) == 0) runs.push_back(base + "/" + name);
  }
  ::closedir(d);
  for (const auto& dir : runs) {
    std::ifstream owner(dir + "/" + kOwnerFile);
    std::string line;
    if (!std::getline(owner, line) || line.rfind("longpin pid=", 0) != 0) continue;  // not ours
    int pid = 0;
    unsigned long long start = 0;
    if (std::sscanf(line.c_str(), "longpin pid=%d start=%llu", &pid, &start) != 2) continue;
    if (pid > 0 && ProcessStartTime(pid) == start && start != 0) continue;  // still running
    // Mounts under the run directory (a run without a private namespace, or --keep): unmount longpin's own;
    // another mount there is left alone, and RemoveTree does not descend into it.
    for (const auto& m : MountTable()) {
      const std::string& mp = m.point;
      if (mp.rfind(dir + "/", 0) != 0) continue;
      if (!IsOwnMount(m, dir)) {
        actions.push_back({"left " + mp + " mounted: " + m.source + " was not mounted by longpin", false});
      } else if (dry_run) {
        actions.push_back({"would unmount " + mp});
      } else if (::umount2(mp.c_str(), 0) == 0 || ::umount2(mp.c_str(), MNT_DETACH) == 0) {
        actions.push_back({"unmounted " + mp});
      } else {
        actions.push_back({"unmount " + mp + " failed: " + std::to_string(errno), false});
      }
    }
    if (remove_devices) remove_devices(dir, dry_run, &actions);
    // Loop devices whose backing file is an image in this run directory.
    if (DIR* sys = ::opendir("/sys/block")) {
      while (dirent* e = ::readdir(sys)) {
        std::string dev = e->d_name;
        if (dev.rfind("loop", 0) != 0) continue;
        std::ifstream bf("/sys/block/" + dev + "/loop/backing_file");
        std::string backing;
        if (!std::getline(bf, backing) || backing.rfind(dir + "/", 0) != 0) continue;
        if (dry_run) {
          actions.push_back({"would detach /dev/" + dev + " (" + backing + ")"});
          continue;
        }
        int fd = ::open(("/dev/" + dev).c_str(), O_RDWR | O_CLOEXEC);
        bool ok = fd >= 0 && ::ioctl(fd, LOOP_CLR_FD, 0) == 0;
        if (fd >= 0) ::close(fd);
        actions.push_back({(ok ? "detached /dev/" : "detach failed /dev/") + dev + " (" + backing + ")", ok});
      }
      ::closedir(sys);
    }
    if (dry_run) {
      actions.push_back({"would remove " + dir});
    } else {
      RemoveTree(dir, &actions, false);
      bool gone = ::access(dir.c_str(), F_OK) != 0;
      actions.push_back({(gone ? "removed " : "could not remove ") + dir, gone});
    }
  }
  return actions;
}

}  // namespace longpin
