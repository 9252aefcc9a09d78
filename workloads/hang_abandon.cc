// A phase whose threads stay in the kernel past --hang-threshold: the stuck threads may still use the
// mapping, the log and the filesystem, so nothing is cleaned up or verified. The report (every stuck thread's
// kernel stack, kernel events) is written out, then the process ends and leaves them to the kernel.
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <thread>

#include "core/mount_table.h"
#include "workloads/run_session.h"

namespace longpin {

namespace {

AbandonHook g_abandon_hook;

// An in-process FUSE daemon (the fuse pinner) dies with the process, and a request it never answers keeps its
// caller in an uninterruptible wait: the process could never be reaped. Aborting the connections of the FUSE
// mounts under the run directory makes those requests fail at once (a connection is named by the minor
// number of its mount's device).
void AbortOwnFuseConnections(const std::string& run_dir) {
  if (run_dir.empty()) return;
  bool mounted_fusectl = false;
  for (const MountEntry& e : MountTable()) {
    if (e.fstype.rfind("fuse", 0) != 0 || e.point.rfind(run_dir + "/", 0) != 0) continue;
    const std::string abort_file = "/sys/fs/fuse/connections/" + std::to_string(e.minor) + "/abort";
    struct stat st {};
    if (::stat(abort_file.c_str(), &st) != 0 && !mounted_fusectl)
      mounted_fusectl = ::mount("fusectl", "/sys/fs/fuse/connections", "fusectl", 0, nullptr) == 0;
    std::ofstream(abort_file) << "1";
  }
  if (mounted_fusectl) ::umount("/sys/fs/fuse/connections");
}

bool Reported(const std::vector<HangReport>& hangs, pid_t tid) {
  return std::any_of(hangs.begin(), hangs.end(), [tid](const HangReport& h) { return h.tid == tid; });
}

// A thread stuck outside a watched op never shows in the watchdog: it is described from /proc.
HangReport DescribeFromProc(pid_t tid, const std::string& phase, double threshold_s) {
  HangReport h;
  h.role = "thread " + std::to_string(tid);
  h.op = "end of phase " + phase;
  h.tid = tid;
  h.seconds = threshold_s;
  const std::string task = "/proc/self/task/" + std::to_string(tid);
  std::ifstream wchan(task + "/wchan"), stack(task + "/stack");
  std::getline(wchan, h.wchan);
  std::ostringstream text;
  text << stack.rdbuf();
  h.kernel_stack = text.str();
  if (h.kernel_stack.empty()) h.kernel_stack = "(kernel stack not readable: needs root)";
  return h;
}

}  // namespace

void SetAbandonHook(AbandonHook hook) {
  g_abandon_hook = std::move(hook);
}

[[noreturn]] void AbandonRun(RunReport& report, HangWatchdog& watchdog, KernelLogMonitor& kmsg,
                             const std::vector<pid_t>& stuck, const std::string& phase, double threshold_s) {
  // The watchdog catches a stuck op within one scan (100 ms).
  std::vector<HangReport> hangs;
  for (int i = 0; i < 20; ++i) {
    hangs = watchdog.Reports();
    if (std::all_of(stuck.begin(), stuck.end(), [&](pid_t t) { return Reported(hangs, t); })) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  for (pid_t tid : stuck)
    if (!Reported(hangs, tid)) hangs.push_back(DescribeFromProc(tid, phase, threshold_s));
  report.hangs = std::move(hangs);
  kmsg.Stop();
  report.kernel_events = kmsg.Events();
  ConcludeVerdict(report);
  char waited[32];
  std::snprintf(waited, sizeof waited, "%g s", threshold_s);
  RaiseVerdict(
      report, Verdict::kFail,
      std::to_string(stuck.size()) + " thread(s) still in the kernel " + waited + " after phase " + phase +
          " ended: left to the kernel; no verification, no cleanup (`longpin cleanup` removes what is "
          "left once they return)");
  if (g_abandon_hook) g_abandon_hook(report);
  else std::fputs(RenderSummary(report).c_str(), stdout);
  std::fflush(stdout);
  std::fflush(stderr);
  AbortOwnFuseConnections(report.run_dir);
  ::_exit(report.exit_code());
}

}  // namespace longpin
