// Crash verification end to end: shutdown crash cycles on ext4 and xfs, the self-test (planted faults caught,
// clean cycles clean), a simulated power cut verified from a fresh process, and the refusal paths.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <thread>

#include "core/scratch_fs.h"
#include "tests/integration/test_helpers.h"

namespace longpin::it {
namespace {

class CrashCycle : public ::testing::TestWithParam<std::string> {};

TEST_P(CrashCycle, ShutdownRemountVerifyPasses) {
  if (auto why = NeedFs(GetParam())) GTEST_SKIP() << *why;
  TempDir dir;
  const std::string json = dir.File("r.json");
  Outcome o =
      RunLongpin({"run", "--fs", GetParam(), "--crash", "shutdown", "--crash-iterations", "2", "--size",
                  "32M", "--duration", "1s", "--workdir", dir.File("work"), "--json", json});
  ASSERT_EQ(o.exit_code, 0) << o.Describe();
  auto doc = ReadJson(json);
  ASSERT_TRUE(doc) << o.Describe();
  EXPECT_EQ((*doc)["verdict"], "pass");
  ASSERT_EQ((*doc)["crash_cycles"].size(), 2u);
  EXPECT_EQ((*doc)["crash"]["model"], "shutdown");
  EXPECT_EQ((*doc)["crash"]["shutdown_result"], "ok");
  EXPECT_EQ((*doc)["verification"]["mode"], "crash");
  EXPECT_EQ((*doc)["verification"]["kernel_contract"]["violations"], 0);
  EXPECT_GT((*doc)["verification"]["strict_contract"]["by_writer"]["cpu"]["promised"].get<int>(), 0);
  EXPECT_TRUE(Leftovers(dir.path(), true).empty()) << Join(Leftovers(dir.path(), true));
}

TEST_P(CrashCycle, SelftestCatchesEveryPlantedFault) {
  if (auto why = NeedFs(GetParam())) GTEST_SKIP() << *why;
  TempDir dir;
  const std::string json = dir.File("st.json");
  Outcome o = RunLongpin(
      {"selftest", "--fs", GetParam(), "--clean-runs", "2", "--workdir", dir.File("work"), "--json", json},
      std::chrono::seconds(300));
  auto doc = ReadJson(json);
  ASSERT_TRUE(doc) << o.Describe();
  ASSERT_EQ((*doc)["planted"].size(), 6u) << o.Describe();
  for (const auto& f : (*doc)["planted"])
    EXPECT_TRUE(f["detected"].get<bool>()) << f.dump() << "\n" << o.Describe();
  EXPECT_EQ((*doc)["clean_runs"][GetParam()]["runs"], 2);
  EXPECT_EQ((*doc)["clean_runs"][GetParam()]["violations"], 0) << o.Describe();
  EXPECT_EQ(o.exit_code, 0) << o.Describe();
  // The planted cycle fails on purpose; a self-test that went as planted leaves no run directory behind.
  EXPECT_EQ(Join(Leftovers(dir.path())), "") << o.Describe();
}

INSTANTIATE_TEST_SUITE_P(Filesystems, CrashCycle, ::testing::Values("ext4", "xfs"));

TEST(Crash, BtrfsWithoutShutdownIsCannotRun) {
  if (auto why = NeedFs("btrfs")) GTEST_SKIP() << *why;
  TempDir dir;
  Outcome o = RunLongpin({"run", "--fs", "btrfs", "--crash", "shutdown", "--size", "32M", "--duration", "1s",
                          "--workdir", dir.File("work")});
  // Where btrfs does support FS_IOC_SHUTDOWN (experimental config), the cycle must pass instead.
  EXPECT_TRUE(o.exit_code == 77 || o.exit_code == 0) << o.Describe();
  if (o.exit_code == 77) {
    EXPECT_NE(o.err.find("FS_IOC_SHUTDOWN"), std::string::npos) << o.Describe();
  }
}

// A user's filesystem made by the test in its own mount namespace (a child process), so the run below is a
// process like any other and its SIGKILL does not unmount anything.
TEST(Crash, SimulatedPowerCutIsVerifiedFromAFreshProcess) {
  if (auto why = NeedFs("ext4")) GTEST_SKIP() << *why;
  TempDir dir;
  const std::string img = dir.File("user.img"), mnt = dir.File("mnt"),
                    state = "/var/tmp/longpin-it-state-" + std::to_string(::getpid());
  const std::string json = dir.File("verify.json");
  pid_t child = ::fork();
  if (child == 0) {
    auto fail = [](const char* what) {
      std::fprintf(stderr, "child: %s: %s\n", what, std::strerror(errno));
      ::_exit(10);
    };
    if (EnterPrivateMountNamespace().ok() == false) fail("namespace");
    if (::truncate(img.c_str(), 0) != 0) {
      int fd = ::open(img.c_str(), O_CREAT | O_RDWR, 0600);
      if (fd < 0) fail("image");
      ::close(fd);
    }
    if (::truncate(img.c_str(), 1ll << 30) != 0) fail("truncate");
    if (std::system(("mkfs.ext4 -q -F " + img).c_str()) != 0) fail("mkfs");
    ::mkdir(mnt.c_str(), 0755);
    auto loop = AttachLoop(img, false);
    if (!loop.ok()) fail("loop");
    if (::mount(loop->second.c_str(), mnt.c_str(), "ext4", 0, nullptr) != 0) fail("mount");
    Process run({"run", "--target", mnt + "/t", "--size", "32M", "--crash", "power-cut", "--state-dir", state,
                 "--duration", "20s", "--workdir", dir.File("work"), "-q"});
    std::this_thread::sleep_for(std::chrono::milliseconds(2500 + (::getpid() % 2000)));
    run.Signal(SIGKILL);
    run.Wait(std::chrono::seconds(30));
    int fd = ::open(mnt.c_str(), O_RDONLY | O_DIRECTORY);
    uint32_t flags = 2;  // FS_SHUTDOWN_FLAGS_NOLOGFLUSH: the cut
    if (::ioctl(fd, _IOR('X', 125, uint32_t), &flags) != 0) fail("shutdown");
    ::close(fd);
    if (::umount2(mnt.c_str(), 0) != 0) fail("umount");
    if (::mount(loop->second.c_str(), mnt.c_str(), "ext4", 0, nullptr) != 0) fail("remount");
    Outcome v = RunLongpin({"verify", "--state-dir", state, "--json", json});
    std::fprintf(stderr, "%s", v.Describe().c_str());
    ::umount2(mnt.c_str(), 0);
    ::close(loop->first);
    ::_exit(v.exit_code == 0 ? 0 : 20 + (v.exit_code & 0xf));
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  std::system(("rm -rf " + state).c_str());
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  auto doc = ReadJson(json);
  ASSERT_TRUE(doc);
  EXPECT_EQ((*doc)["verdict"], "pass");
  EXPECT_EQ((*doc)["verification"]["mode"], "crash");
  // A cut run's log has no end record; the writes promised before the cut are still checked.
  EXPECT_GT((*doc)["verification"]["strict_contract"]["by_writer"]["cpu"]["promised"].get<int>(), 0);
  EXPECT_TRUE(MountsUnder(dir.path()).empty());
}

TEST(Crash, RefusalsExitTwoWithOneLine) {
  if (auto why = NeedRoot()) GTEST_SKIP() << *why;
  TempDir dir;
  // The state directory on the target's own filesystem.
  Outcome same = RunLongpin({"run", "--fs", "dir:" + dir.path(), "--crash", "power-cut", "--state-dir",
                             dir.File("state"), "--duration", "1s", "--size", "8M"});
  EXPECT_EQ(same.exit_code, 2) << same.Describe();
  EXPECT_EQ(CountLines(same.err), 1u) << same.Describe();
  EXPECT_NE(same.err.find("same filesystem"), std::string::npos) << same.Describe();
  // A shutdown of a filesystem longpin did not make.
  Outcome user = RunLongpin(
      {"run", "--fs", "dir:" + dir.path(), "--crash", "shutdown", "--duration", "1s", "--size", "8M"});
  EXPECT_EQ(user.exit_code, 2) << user.Describe();
  EXPECT_EQ(CountLines(user.err), 1u) << user.Describe();
  Outcome root = RunLongpin({"run", "--fs", "dir:" + dir.path(), "--crash", "shutdown", "--allow-shutdown-of",
                             "/", "--state-dir", "/var/tmp/x", "--duration", "1s", "--size", "8M"});
  EXPECT_EQ(root.exit_code, 2) << root.Describe();
  EXPECT_NE(root.err.find("root filesystem"), std::string::npos) << root.Describe();
  // Power cut on a scratch image (it would not survive the reboot).
  Outcome scratch = RunLongpin(
      {"run", "--fs", "ext4", "--crash", "power-cut", "--state-dir", dir.File("s2"), "--duration", "1s"});
  EXPECT_EQ(scratch.exit_code, 2) << scratch.Describe();
  EXPECT_TRUE(ListDir(dir.path()).size() <= 1u);  // nothing but what the refusals may have left: no run dirs
}

}  // namespace
}  // namespace longpin::it
