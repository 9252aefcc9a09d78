// Helpers of the integration tests: run the longpin binary (fork/exec, captured stdout/stderr, exit code,
// timeout), read its --json report, make temporary work directories, and look for leftovers (mounts, loop
// devices, run directories) under a directory.
#pragma once

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "core/mount_table.h"
#include "core/scratch_fs.h"
#include "pinners/pinner.h"
#include "tests/temp_dir.h"

namespace longpin::it {

inline const char* LongpinBinary() {
  return LONGPIN_BINARY;
}

inline std::optional<std::string> NeedRoot() {
  if (::geteuid() != 0) return std::string("needs root (loop devices and mounts)");
  return std::nullopt;
}

// Why filesystem `name` cannot be tested here (not root, no mkfs, not in the kernel); nullopt = usable.
inline std::optional<std::string> NeedFs(const std::string& name) {
  if (auto why = NeedRoot()) return why;
  auto type = ParseFsType(name);
  if (!type) return "unknown filesystem " + name;
  if (auto why = FsUnavailableReason(*type)) return name + ": " + *why;
  return std::nullopt;
}

using test::TempDir;

// Why a pinner cannot run here (compiled out, no device, not root); nullopt when it can.
inline std::optional<std::string> NeedPinner(const std::string& name) {
  const PinnerInfo* p = FindPinner(name);
  if (!p) return "no pinner " + name;
  auto why = p->unavailable();
  if (why) return "pinner " + name + ": " + *why;
  return std::nullopt;
}

struct Outcome {
  int exit_code = -1;  // -1 when killed by a signal
  int signal = 0;      // the signal that ended it, 0 if it exited
  bool timed_out = false;
  std::string out, err;
  std::string Describe() const {
    std::ostringstream s;
    s << "exit " << exit_code;
    if (signal) s << " signal " << signal;
    if (timed_out) s << " (timed out, killed)";
    s << "\n--- stdout ---\n" << out << "--- stderr ---\n" << err;
    return s.str();
  }
};

// Where a started longpin's stdout goes: a pipe, or a raw pseudo-terminal (no \n -> \r\n translation, so
// every \r seen is longpin's) for what it draws only on a terminal.
enum class StdoutTo { kPipe, kTerminal };

// A longpin process started in the background: its output is collected by Wait().
class Process {
 public:
  explicit Process(const std::vector<std::string>& args, StdoutTo to = StdoutTo::kPipe) {
    int out[2], err[2];
    if (to == StdoutTo::kTerminal) {
      winsize ws{};
      ws.ws_col = 200;
      ws.ws_row = 50;
      if (::openpty(&out[0], &out[1], nullptr, nullptr, &ws) != 0) return;
      termios t{};
      ::tcgetattr(out[1], &t);
      ::cfmakeraw(&t);
      ::tcsetattr(out[1], TCSANOW, &t);
      ::fcntl(out[0], F_SETFD, FD_CLOEXEC);
      ::fcntl(out[1], F_SETFD, FD_CLOEXEC);
    } else if (::pipe2(out, O_CLOEXEC) != 0) {
      return;
    }
    if (::pipe2(err, O_CLOEXEC) != 0) return;
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(out[1], 1);
      ::dup2(err[1], 2);
      std::vector<char*> argv;
      argv.push_back(const_cast<char*>(LongpinBinary()));
      for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
      argv.push_back(nullptr);
      ::execv(LongpinBinary(), argv.data());
      ::_exit(127);
    }
    ::close(out[1]);
    ::close(err[1]);
    out_fd_ = out[0];
    err_fd_ = err[0];
  }
  ~Process() {
    if (pid_ > 0 && !reaped_) Wait(std::chrono::seconds(0));
  }
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const { return pid_; }
  bool started() const { return pid_ > 0; }
  void Signal(int sig) const {
    if (pid_ > 0 && !reaped_) ::kill(pid_, sig);
  }

  // Collects output until the process exits; after `timeout` it is killed (SIGKILL) and timed_out set.
  Outcome Wait(std::chrono::milliseconds timeout) {
    Outcome o;
    if (pid_ <= 0) {
      o.err = "fork/pipe failed";
      return o;
    }
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    bool killed = false;
    while (out_fd_ >= 0 || err_fd_ >= 0) {
      auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0 && !killed) {
        ::kill(pid_, SIGKILL);
        killed = true;
        o.timed_out = true;
      }
      pollfd fds[2] = {{out_fd_, POLLIN, 0}, {err_fd_, POLLIN, 0}};
      ::poll(fds, 2, killed ? 1000 : int(std::min<int64_t>(left.count(), 200)));
      Drain(out_fd_, fds[0].revents, o.out);
      Drain(err_fd_, fds[1].revents, o.err);
    }
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    reaped_ = true;
    if (WIFEXITED(status)) o.exit_code = WEXITSTATUS(status);
    if (WIFSIGNALED(status)) o.signal = WTERMSIG(status);
    return o;
  }

 private:
  static void Drain(int& fd, short revents, std::string& into) {
    if (fd < 0 || !(revents & (POLLIN | POLLHUP | POLLERR))) return;
    char buf[4096];
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n > 0) {
      into.append(buf, size_t(n));
    } else if (n == 0 ||
               (n < 0 && errno != EINTR && errno != EAGAIN)) {  // a pty reads EIO once the child is gone
      ::close(fd);
      fd = -1;
    }
  }
  pid_t pid_ = -1;
  int out_fd_ = -1, err_fd_ = -1;
  bool reaped_ = false;
};

// Runs `longpin ARGS` to the end (at most `timeout`).
inline Outcome RunLongpin(const std::vector<std::string>& args,
                          std::chrono::milliseconds timeout = std::chrono::seconds(120),
                          StdoutTo to = StdoutTo::kPipe) {
  Process p(args, to);
  return p.Wait(timeout);
}

inline std::optional<nlohmann::json> ReadJson(const std::string& path) {
  std::ifstream f(path);
  if (!f) return std::nullopt;
  try {
    return nlohmann::json::parse(f);
  } catch (const nlohmann::json::exception&) {
    return std::nullopt;
  }
}

inline size_t CountLines(const std::string& text) {
  size_t n = 0;
  for (char c : text) n += c == '\n';
  if (!text.empty() && text.back() != '\n') ++n;
  return n;
}

inline std::vector<std::string> ListDir(const std::string& dir) {
  std::vector<std::string> out;
  if (DIR* d = ::opendir(dir.c_str())) {
    while (dirent* e = ::readdir(d)) {
      std::string name = e->d_name;
      if (name != "." && name != "..") out.push_back(name);
    }
    ::closedir(d);
  }
  return out;
}

inline std::vector<std::string> RunDirsUnder(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& name : ListDir(dir))
    if (name.rfind("run-", 0) == 0) out.push_back(dir + "/" + name);
  return out;
}

// Mount points at or below dir, as this process sees them.
inline std::vector<std::string> MountsUnder(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& mp : longpin::MountPoints())
    if (mp == dir || mp.rfind(dir + "/", 0) == 0) out.push_back(mp);
  return out;
}

// Loop devices whose backing file lies below dir ("loop3 -> /tmp/x/run-1/fs.img").
inline std::vector<std::string> LoopsBackedUnder(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& dev : ListDir("/sys/block")) {
    if (dev.rfind("loop", 0) != 0) continue;
    std::ifstream bf("/sys/block/" + dev + "/loop/backing_file");
    std::string backing;
    if (std::getline(bf, backing) && backing.rfind(dir + "/", 0) == 0) out.push_back(dev + " -> " + backing);
  }
  return out;
}

// Everything a run may leave behind under dir, one line each; empty = clean. Loop devices detach by
// themselves (autoclear) once their last user is gone, which may lag a process's death a little: wait for it.
inline std::vector<std::string> Leftovers(const std::string& dir, bool run_dirs_too = true) {
  std::vector<std::string> out;
  for (int attempt = 0; attempt < 50; ++attempt) {
    out.clear();
    for (const auto& m : MountsUnder(dir)) out.push_back("mounted: " + m);
    for (const auto& l : LoopsBackedUnder(dir)) out.push_back("loop device: " + l);
    if (out.empty()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  if (run_dirs_too)
    for (const auto& r : RunDirsUnder(dir)) out.push_back("run directory: " + r);
  return out;
}

inline std::string Join(const std::vector<std::string>& lines) {
  std::string s;
  for (const auto& l : lines) s += l + "\n";
  return s;
}

}  // namespace longpin::it
