// A SIGKILL while the kernel holds pages for the in-process FUSE daemon: the process must be reaped within
// seconds (a watchdog child aborts the FUSE connection) and leave no mount, loop device or process behind;
// `longpin cleanup` then removes the run directory.
#include <signal.h>

#include <gtest/gtest.h>

#include "pinners/pinner.h"
#include "tests/integration/test_helpers.h"

namespace longpin::it {
namespace {

using namespace std::chrono_literals;

// Whether a FUSE watchdog child of longpin still runs.
bool WatchdogAlive() {
  DIR* d = ::opendir("/proc");
  bool alive = false;
  while (dirent* e = d ? ::readdir(d) : nullptr) {
    std::ifstream comm(std::string("/proc/") + e->d_name + "/comm");
    std::string name;
    if (!std::getline(comm, name) || name != "longpin-fuse-wd") continue;
    // A zombie holds nothing (no mount namespace, no file): reaping it is init's job, however slow.
    std::ifstream stat(std::string("/proc/") + e->d_name + "/stat");
    std::string line;
    std::getline(stat, line);
    const auto paren = line.rfind(')');
    if (paren != std::string::npos && paren + 2 < line.size() && line[paren + 2] != 'Z') alive = true;
  }
  if (d) ::closedir(d);
  return alive;
}

class KillNine : public ::testing::TestWithParam<std::vector<std::string>> {};

TEST_P(KillNine, DuringAHeldFuseReadIsReapedAndLeavesNothing) {
  if (auto why = NeedFs("ext4")) GTEST_SKIP() << *why;
  const PinnerInfo* fuse = FindPinner("fuse");
  if (!fuse || !fuse->create || fuse->unavailable()) GTEST_SKIP() << "fuse pinner unavailable here";
  TempDir work;
  std::vector<std::string> args = {"run", "--workdir", work.path(), "--quiet"};
  for (const auto& a : GetParam()) args.push_back(a);
  Process p(args);
  ASSERT_TRUE(p.started());
  std::this_thread::sleep_for(4s);  // inside the pinned phase, a read held by the daemon
  const auto t0 = std::chrono::steady_clock::now();
  p.Signal(SIGKILL);
  Outcome o = p.Wait(30s);
  const double reaped_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_FALSE(o.timed_out) << "not reaped in 30 s: " << o.Describe();
  EXPECT_EQ(o.signal, SIGKILL) << o.Describe();
  EXPECT_LT(reaped_s, 10.0);
  std::this_thread::sleep_for(1s);  // the watchdog exits right after its abort
  EXPECT_FALSE(WatchdogAlive());
  EXPECT_TRUE(MountsUnder(work.path()).empty()) << Join(MountsUnder(work.path()));
  Outcome c = RunLongpin({"cleanup", "--workdir", work.path()});
  EXPECT_EQ(c.exit_code, 0) << c.Describe();
  EXPECT_EQ(Join(Leftovers(work.path())), "") << c.out;
}

INSTANTIATE_TEST_SUITE_P(
    Fuse, KillNine,
    ::testing::Values(std::vector<std::string>{"--phases", "pinned", "--pinner", "fuse", "--writers", "cpu:1,dma:1",
                                               "--pin-hold", "2s", "--duration", "20s", "--size", "16M"},
                      std::vector<std::string>{"--pinner", "fuse", "--race", "pin,store,sync,dma-start,wait:30s,dma-finish,sync,verify",
                                               "--size", "16M", "--duration", "20s"}),
    [](const auto& param) { return param.index == 0 ? std::string("PinnedPhase") : std::string("RaceScript"); });

}  // namespace
}  // namespace longpin::it
