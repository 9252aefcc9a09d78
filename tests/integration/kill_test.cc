// A SIGKILL in the pinned phase of every pinner (and while the kernel holds pages for the in-process FUSE
// daemon, where a watchdog child aborts the FUSE connection): the process must be reaped within seconds and
// leave no mount, loop device or process behind; `longpin cleanup` then removes the run directory.
#include <gtest/gtest.h>
#include <signal.h>

#include "pinners/pinner.h"
#include "tests/integration/test_helpers.h"

namespace longpin::it {
namespace {

using namespace std::chrono_literals;

// Processes other than the test's whose command line names dir (a run given --workdir dir, and any child it
// forked: the FUSE watchdog, longpin-fuse-wd), zombies excluded (they hold nothing). Not by name: other runs
// of longpin on this machine have watchdogs of their own.
std::vector<std::string> ProcessesNaming(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& pid : ListDir("/proc")) {
    if (pid.find_first_not_of("0123456789") != std::string::npos || pid == std::to_string(::getpid()))
      continue;
    std::ifstream cmdline("/proc/" + pid + "/cmdline");
    std::string args((std::istreambuf_iterator<char>(cmdline)), std::istreambuf_iterator<char>());
    if (args.find(dir) == std::string::npos) continue;
    std::ifstream stat("/proc/" + pid + "/stat");
    std::string line;
    std::getline(stat, line);
    const auto paren = line.rfind(')');
    if (paren != std::string::npos && paren + 2 < line.size() && line[paren + 2] == 'Z') continue;
    out.push_back(pid);
  }
  return out;
}

struct KillCase {
  std::string name;    // the test's name
  std::string pinner;  // skips when this pinner cannot run here
  std::string fs;      // skips when this filesystem cannot be tested here; "" for a memory mapping
  std::vector<std::string> args;
};

// gtest prints a parameter by its name, not its bytes.
void PrintTo(const KillCase& c, std::ostream* os) {
  *os << c.name;
}

class KillNine : public ::testing::TestWithParam<KillCase> {};

// SIGKILL inside the pinned phase (--phases pinned: it starts once the target is set up): the process is
// reaped within seconds, and nothing it made outlives it but its run directory, which `longpin cleanup`
// removes.
TEST_P(KillNine, DuringThePinnedPhaseIsReapedAndLeavesNothing) {
  const KillCase& c = GetParam();
  if (auto why = c.fs.empty() ? NeedRoot() : NeedFs(c.fs)) GTEST_SKIP() << *why;
  if (auto why = NeedPinner(c.pinner)) GTEST_SKIP() << *why;
  TempDir work;
  std::vector<std::string> args = {"run", "--workdir", work.path(), "--quiet"};
  for (const auto& a : c.args) args.push_back(a);
  Process p(args);
  ASSERT_TRUE(p.started());
  std::this_thread::sleep_for(4s);  // setup takes about a second; then the pinned phase holds its windows
  const auto t0 = std::chrono::steady_clock::now();
  p.Signal(SIGKILL);
  Outcome o = p.Wait(30s);
  const double reaped_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_FALSE(o.timed_out) << "not reaped in 30 s: " << o.Describe();
  ASSERT_EQ(o.signal, SIGKILL) << "the run ended before the kill, so it was not killed in its pinned phase\n"
                               << o.Describe();
  EXPECT_LT(reaped_s, 10.0);
  std::vector<std::string> left;
  for (int i = 0; i < 50; ++i) {  // the FUSE watchdog exits right after its abort
    left = ProcessesNaming(work.path());
    if (left.empty()) break;
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_TRUE(left.empty()) << "processes left: " << Join(left);
  EXPECT_EQ(Join(Leftovers(work.path(), false)), "");
  Outcome cleanup = RunLongpin({"cleanup", "--workdir", work.path()});
  EXPECT_EQ(cleanup.exit_code, 0) << cleanup.Describe();
  EXPECT_EQ(Join(Leftovers(work.path())), "") << cleanup.out;
}

std::vector<std::string> PinnedPhase(const std::string& pinner, std::vector<std::string> more) {
  std::vector<std::string> args = {"--phases",   "pinned", "--pinner", pinner,
                                   "--duration", "20s",    "--size",   "16M"};
  args.insert(args.end(), more.begin(), more.end());
  return args;
}

INSTANTIATE_TEST_SUITE_P(
    Pinners, KillNine,
    ::testing::Values(
        KillCase{"Vmsplice", "vmsplice", "ext4", PinnedPhase("vmsplice", {})},
        KillCase{"Odirect", "odirect", "ext4", PinnedPhase("odirect", {"--writers", "cpu:1,dma:1"})},
        KillCase{"ProcessVm", "process-vm", "ext4", PinnedPhase("process-vm", {"--writers", "cpu:1,dma:1"})},
        KillCase{"IoUringMemfd", "io_uring", "",
                 PinnedPhase("io_uring", {"--mapping", "memfd", "--writers", "cpu:1,dma:1"})},
        KillCase{"Fuse", "fuse", "ext4", PinnedPhase("fuse", {"--writers", "cpu:1,dma:1"})},
        KillCase{"FuseHeldRead", "fuse", "ext4",
                 PinnedPhase("fuse", {"--writers", "cpu:1,dma:1", "--pin-hold", "2s"})},
        KillCase{"FuseRaceScript",
                 "fuse",
                 "ext4",
                 {"--pinner", "fuse", "--race", "pin,store,sync,dma-start,wait:30s,dma-finish,sync,verify",
                  "--size", "16M", "--duration", "20s"}}),
    [](const auto& param) { return param.param.name; });

}  // namespace
}  // namespace longpin::it
