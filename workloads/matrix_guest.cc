// --kernels: the same matrix run on another kernel. The guest boots once under vm/run (the host's root shared
// read-only, so this very binary and the rules file are there) and runs `longpin matrix` with the same
// options; its JSON comes back through vm/run's results directory. The guest's progress lines are passed
// through, prefixed with the kernel's name, so a long qualification is never silent.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>

#include "core/install_paths.h"
#include "core/units.h"
#include "workloads/matrix.h"
#include "workloads/run.h"

namespace longpin {
namespace {

bool IsExecutable(const std::string& path) {
  return !path.empty() && ::access(path.c_str(), X_OK) == 0;
}

std::string Joined(const std::vector<std::string>& list) {
  std::string out;
  for (const auto& item : list) out += (out.empty() ? "" : ",") + item;
  return out;
}

std::string NumberText(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

// The guest's own command line: the matrix of this config, on the kernel it boots, written where the guest
// can hand it back. The only place a MatrixConfig becomes options again: the guest is another process.
std::vector<std::string> GuestArgs(const MatrixConfig& o, const std::string& json) {
  const MatrixRunOptions& r = o.run;
  std::vector<std::string> a = {ExecutablePath(), "matrix",
                                "--kernels",      "host",
                                "--pinners",      Joined(o.pinners),
                                "--fs",           Joined(o.filesystems),
                                "--mappings",     Joined(o.mappings),
                                "--sync",         Joined(o.syncs),
                                "--duration",     r.duration,
                                "--size",         r.size,
                                "--json",         json};
  // The guest's /var/tmp is an overlay that refuses O_TMPFILE (io_uring's source file): its runs go to tmpfs.
  a.insert(a.end(), {"--workdir", r.workdir.empty() ? "/dev/shm" : r.workdir});
  for (const auto& [flag, value] : {std::pair<const char*, std::string>{"--writers", r.writers},
                                    {"--rate", r.rate ? NumberText(*r.rate) : ""},
                                    {"--rounds", r.rounds ? std::to_string(*r.rounds) : ""},
                                    {"--pin-access", r.pin_access},
                                    {"--block-size", r.block_size},
                                    {"--seed", r.seed ? std::to_string(*r.seed) : ""},
                                    {"--rules", o.rules},
                                    {"--workload", o.workload}})
    if (!value.empty()) a.insert(a.end(), {flag, value});
  if (o.quiet) a.push_back("--quiet");
  return a;
}

std::string LastNonEmptyLine(const std::string& path) {
  std::ifstream f(path);
  std::string line, last;
  while (std::getline(f, line)) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    if (!line.empty()) last = line;
  }
  return last;
}

// Runs argv with stdout discarded and stderr passed through line by line under `prefix`; keeps the last
// lines.
int RunStreaming(const std::vector<std::string>& argv, const std::string& prefix, bool echo,
                 std::deque<std::string>* tail) {
  int pipefd[2];
  if (::pipe2(pipefd, O_CLOEXEC) != 0) return -1;
  const pid_t pid = ::fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    ::setpgid(0, 0);
    // vm/run kills its qemu when it gets SIGTERM: a longpin killed outright must not leave a guest running.
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    const int devnull = ::open("/dev/null", O_RDWR);
    ::dup2(devnull, STDIN_FILENO);
    ::dup2(devnull, STDOUT_FILENO);
    ::dup2(pipefd[1], STDERR_FILENO);
    std::vector<char*> args;
    for (const auto& s : argv) args.push_back(const_cast<char*>(s.c_str()));
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    std::fprintf(stderr, "vm: cannot run %s\n", argv[0].c_str());
    ::_exit(127);
  }
  ::close(pipefd[1]);
  std::string pending;
  bool killed = false;
  for (;;) {
    if (g_interrupted.load() && !killed) {
      ::kill(-pid, SIGTERM);
      killed = true;
    }
    pollfd p{pipefd[0], POLLIN, 0};
    if (::poll(&p, 1, 200) <= 0) continue;
    char buf[4096];
    const ssize_t n = ::read(pipefd[0], buf, sizeof buf);
    if (n <= 0) break;
    pending.append(buf, size_t(n));
    for (size_t nl; (nl = pending.find('\n')) != std::string::npos; pending.erase(0, nl + 1)) {
      std::string line = pending.substr(0, nl);
      if (echo) std::fprintf(stderr, "%s%s\n", prefix.c_str(), line.c_str());
      tail->push_back(std::move(line));
      if (tail->size() > 20) tail->pop_front();
    }
  }
  if (!pending.empty()) tail->push_back(pending);
  ::close(pipefd[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// The harness's own complaint ("vm: ..."), else the guest's last line.
std::string WhyFrom(const std::deque<std::string>& tail) {
  for (auto it = tail.rbegin(); it != tail.rend(); ++it)
    if (it->rfind("vm: ", 0) == 0) return it->substr(4);
  for (auto it = tail.rbegin(); it != tail.rend(); ++it)
    if (!it->empty()) return *it;
  return "no output";
}

}  // namespace

std::optional<std::string> FindVmRun() {
  if (const char* env = std::getenv("LONGPIN_VM_RUN"); env && *env)
    return IsExecutable(env) ? std::optional<std::string>(env) : std::nullopt;
  // An installed binary uses the harness installed with it (core/install_paths.h).
  if (auto beside = InstalledBesideBinary("vm/run"); beside && IsExecutable(*beside)) return beside;
  const std::string source = std::string(LONGPIN_SOURCE_DIR) + "/vm/run";
  if (IsExecutable(source)) return source;
  const std::string installed = std::string(LONGPIN_INSTALLED_DATA_DIR) + "/vm/run";
  if (IsExecutable(installed)) return installed;
  return std::nullopt;
}

std::optional<std::string> CheckKernelName(const std::string& kernel) {
  if (kernel == "host" || kernel == "debian-6.1" || kernel == "debian-6.12") return std::nullopt;
  struct stat st {};
  if (kernel.find('/') != std::string::npos || ::stat(kernel.c_str(), &st) == 0) {
    if (::stat(kernel.c_str(), &st) != 0 || !S_ISREG(st.st_mode) || ::access(kernel.c_str(), R_OK) != 0)
      return kernel + ": no such kernel image (give a readable bzImage)";
    return std::nullopt;
  }
  return "unknown kernel '" + kernel + "' (host, debian-6.1, debian-6.12, or a path to a bzImage)";
}

GuestMatrix RunMatrixInGuest(const std::string& kernel, const MatrixConfig& o) {
  GuestMatrix g;
  auto vm_run = FindVmRun();
  if (!vm_run) {
    g.exit_code = kExitCannotRun;
    g.error = "vm/run not found (install longpin's share/longpin/vm, or set LONGPIN_VM_RUN)";
    return g;
  }
  char dir[] = "/tmp/longpin-matrix-vm.XXXXXX";
  if (!::mkdtemp(dir)) {
    g.exit_code = kExitError;
    g.error = std::string("mkdtemp: ") + std::strerror(errno);
    return g;
  }
  const std::string results = dir, json = results + "/matrix.json";
  // Emulated (TCG) guests are slow: room for each cell's phases, its mkfs and mount, and the boot.
  const double phase = ParseDuration(o.run.duration).value_or(2.0);
  const size_t cells = o.pinners.size() * (o.filesystems.size() + 1) * o.mappings.size() * o.syncs.size();
  const long timeout = long(180 + double(cells) * (6 * phase + 60));
  std::vector<std::string> argv = {
      *vm_run, "--kernel", kernel, "--results", results, "--timeout", std::to_string(timeout)};
  if (o.vm_rdma) argv.push_back("--rdma");
  argv.push_back("--");
  for (auto& a : GuestArgs(o, json)) argv.push_back(std::move(a));
  std::deque<std::string> tail;
  const int rc = RunStreaming(argv, "[" + kernel + "] ", !o.ktap && !o.quiet, &tail);
  std::ifstream f(json);
  nlohmann::json doc;
  bool have_doc = false;
  if (f) try {
      doc = nlohmann::json::parse(f);
      have_doc = doc.contains("cells") && doc["cells"].is_array();
    } catch (const std::exception&) {
    }
  if (have_doc) {
    g.cells = doc["cells"];
    for (const auto& k : doc.value("kernels", nlohmann::json::array()))
      if (k.value("name", "") == "host") g.release = k.value("release", "");
    if (rc == 124) g.error = "the guest ran past vm/run's timeout of " + std::to_string(timeout) + " s";
    std::error_code ignored;  // a leftover temp directory is harmless; the matrix is what matters
    std::filesystem::remove_all(results, ignored);
    return g;
  }
  const std::string why = WhyFrom(tail);
  if (rc == 125) {
    // No exit code from the guest: it did not boot (or panicked); the console says why.
    g.exit_code = kExitUsage;
    const std::string console = LastNonEmptyLine(results + "/vm-console.log");
    g.error = "the guest did not boot: " + why + (console.empty() ? "" : "; console: " + console) +
              " (log kept in " + results + ")";
  } else if (rc == kExitUsage || rc == kExitCannotRun || g_interrupted.load()) {
    // The guest said why (or the user stopped it): its console holds nothing more.
    g.exit_code = g_interrupted.load() ? kExitError : rc;
    g.error = g_interrupted.load() ? "interrupted" : why;
    std::error_code ignored;
    std::filesystem::remove_all(results, ignored);
  } else {
    // A guest that hung or died: its console is the evidence, kept like a failed run's directory.
    g.exit_code = kExitError;
    g.error = "no matrix came back from the guest (exit " + std::to_string(rc) + "): " + why +
              " (log kept in " + results + ")";
  }
  return g;
}

}  // namespace longpin
