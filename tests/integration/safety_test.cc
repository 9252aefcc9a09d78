// Safety: longpin never removes, unmounts or detaches what it did not create. Cleanup touches only run
// directories with longpin's owner marker whose owner is gone, never descends into a mount point under one;
// a dir:PATH run leaves every other file in PATH alone.
#include <gtest/gtest.h>
#include <sched.h>
#include <sys/mount.h>

#include <functional>
#include <map>

#include "core/run_directory.h"
#include "tests/integration/test_helpers.h"

namespace longpin {
namespace {

using namespace longpin::it;
using namespace std::chrono_literals;

void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream f(path);
  f << text;
}

std::string ReadFile(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

bool Exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

// A pid that was just used and is gone (a child that exited and was reaped).
pid_t DeadPid() {
  pid_t pid = ::fork();
  if (pid == 0) ::_exit(0);
  int status = 0;
  ::waitpid(pid, &status, 0);
  return pid;
}

void MakeRunDir(const std::string& dir, const std::string& owner_line) {
  ASSERT_EQ(::mkdir(dir.c_str(), 0755), 0) << dir;
  if (!owner_line.empty()) WriteFile(dir + "/owner", owner_line + "\n");
  WriteFile(dir + "/precious", "data\n");
}

TEST(Safety, CleanupTouchesOnlyDirectoriesOfDeadLongpinRuns) {
  TempDir tmp;
  ASSERT_FALSE(tmp.path().empty());
  const std::string base = tmp.path();
  const pid_t me = ::getpid();
  const std::string no_marker = base + "/run-0000000000000001";
  const std::string live_owner = base + "/run-0000000000000002";
  const std::string dead_owner = base + "/run-0000000000000003";
  const std::string foreign_marker = base + "/run-0000000000000004";
  const std::string not_a_run = base + "/other";
  MakeRunDir(no_marker, "");
  MakeRunDir(live_owner,
             "longpin pid=" + std::to_string(me) + " start=" + std::to_string(ProcessStartTime(me)));
  MakeRunDir(dead_owner, "longpin pid=" + std::to_string(DeadPid()) + " start=12345");
  MakeRunDir(foreign_marker, "somebody else's pid=1");
  MakeRunDir(not_a_run, "longpin pid=" + std::to_string(DeadPid()) + " start=12345");
  ASSERT_FALSE(HasFatalFailure());

  Outcome o = RunLongpin({"cleanup", "--workdir", base}, 30s);
  EXPECT_EQ(o.exit_code, 0) << o.Describe();
  EXPECT_TRUE(Exists(no_marker + "/precious")) << "removed a directory without longpin's marker\n"
                                               << o.Describe();
  EXPECT_TRUE(Exists(live_owner + "/precious")) << "removed the directory of a live owner\n" << o.Describe();
  EXPECT_TRUE(Exists(foreign_marker + "/precious")) << "removed a directory with another marker\n"
                                                    << o.Describe();
  EXPECT_TRUE(Exists(not_a_run + "/precious")) << "removed a directory not named run-*\n" << o.Describe();
  EXPECT_FALSE(Exists(dead_owner)) << "left the directory of a dead run\n" << o.Describe();
}

TEST(Safety, RecycledPidDoesNotKeepAStaleRunAlive) {
  TempDir tmp;
  ASSERT_FALSE(tmp.path().empty());
  // Our own pid with another start time: the pid was reused by someone else, the run is gone.
  const std::string dir = tmp.File("run-00000000000000aa");
  MakeRunDir(dir, "longpin pid=" + std::to_string(::getpid()) +
                      " start=" + std::to_string(ProcessStartTime(::getpid()) + 1));
  ASSERT_FALSE(HasFatalFailure());
  Outcome o = RunLongpin({"cleanup", "--workdir", tmp.path()}, 30s);
  EXPECT_EQ(o.exit_code, 0) << o.Describe();
  EXPECT_FALSE(Exists(dir)) << o.Describe();
}

// Runs body in a forked child inside its own mount namespace (private propagation, so nothing it mounts is
// seen outside and everything goes when it exits). The child's verdict comes back through a pipe: "" = ok.
std::string InPrivateMountNamespace(const std::function<std::string()>& body) {
  int fds[2];
  if (::pipe(fds) != 0) return "pipe failed";
  pid_t pid = ::fork();
  if (pid == 0) {
    ::close(fds[0]);
    std::string verdict;
    if (::unshare(CLONE_NEWNS) != 0 || ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0)
      verdict = std::string("private mount namespace: ") + std::strerror(errno);
    else verdict = body();
    if (!verdict.empty() && ::write(fds[1], verdict.data(), verdict.size()) < 0) ::_exit(2);
    ::_exit(0);
  }
  ::close(fds[1]);
  std::string verdict;
  char buf[4096];
  for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;) verdict.append(buf, size_t(n));
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    verdict += " (child died: status " + std::to_string(status) + ")";
  return verdict;
}

TEST(Safety, CleanupNeverDescendsIntoAMountUnderAStaleRun) {
  if (auto why = NeedRoot()) GTEST_SKIP() << *why;
  TempDir tmp;
  ASSERT_FALSE(tmp.path().empty());
  const std::string run = tmp.File("run-00000000000000bb");
  MakeRunDir(run, "longpin pid=" + std::to_string(DeadPid()) + " start=12345");
  ASSERT_FALSE(HasFatalFailure());
  const std::string mnt = run + "/someone-elses-mount";
  ASSERT_EQ(::mkdir(mnt.c_str(), 0755), 0);

  std::string verdict = InPrivateMountNamespace([&]() -> std::string {
    if (::mount("tmpfs", mnt.c_str(), "tmpfs", 0, "size=1m") != 0)
      return std::string("mount tmpfs: ") + std::strerror(errno);
    WriteFile(mnt + "/survivor", "keep me\n");
    Outcome o = RunLongpin({"cleanup", "--workdir", tmp.path()}, 30s);
    std::string problems;
    if (ReadFile(mnt + "/survivor") != "keep me\n")
      problems += "the file in the mount under the stale run is gone\n";
    if (MountsUnder(mnt).empty()) problems += "cleanup unmounted a mount it did not create\n";
    if (o.timed_out || o.signal) problems += "cleanup did not finish\n";
    ::umount2(mnt.c_str(), MNT_DETACH);
    return problems.empty() ? "" : problems + o.Describe();
  });
  EXPECT_EQ(verdict, "");
  EXPECT_TRUE(MountsUnder(tmp.path()).empty()) << "the test's tmpfs leaked out of its namespace";
}

std::map<std::string, std::string> Snapshot(const std::string& dir) {
  std::map<std::string, std::string> out;
  std::vector<std::string> todo = {dir};
  while (!todo.empty()) {
    std::string d = todo.back();
    todo.pop_back();
    for (const auto& name : ListDir(d)) {
      const std::string p = d + "/" + name;
      struct stat st {};
      ::lstat(p.c_str(), &st);
      if (S_ISDIR(st.st_mode)) {
        out[p] = "<dir>";
        todo.push_back(p);
      } else {
        out[p] = ReadFile(p);
      }
    }
  }
  return out;
}

TEST(Safety, DirRunLeavesOtherFilesAlone) {
  TempDir tmp;
  ASSERT_FALSE(tmp.path().empty());
  const std::string data = tmp.File("data");
  ASSERT_EQ(::mkdir(data.c_str(), 0755), 0);
  ASSERT_EQ(::mkdir((data + "/sub").c_str(), 0755), 0);
  WriteFile(data + "/a.txt", "alpha\n");
  WriteFile(data + "/sub/b.txt", "beta\n");
  // Looks like another run's target: it is not this run's, so it stays.
  WriteFile(data + "/longpin-target-0000000000000000", "not yours\n");
  const auto before = Snapshot(data);

  const std::string report = tmp.File("report.json");
  Outcome o = RunLongpin({"run", "--fs", "dir:" + data, "--duration", "1s", "--size", "32M", "--json", report,
                          "--workdir", tmp.File("work")});
  EXPECT_EQ(o.exit_code, 0) << o.Describe();
  auto r = ReadJson(report);
  ASSERT_TRUE(r.has_value()) << o.Describe();
  EXPECT_EQ((*r)["verdict"], "pass");
  const std::string target = (*r)["environment"].value("target_path", "");
  EXPECT_EQ(target.rfind(data + "/", 0), 0u) << "the target lives in PATH: " << target;
  EXPECT_FALSE(Exists(target)) << "the run's own target was not removed after a pass";
  EXPECT_EQ(Snapshot(data), before) << "the run changed files it did not create\n" << o.Describe();
  EXPECT_EQ(Join(Leftovers(tmp.path())), "");
}

TEST(Safety, DirRunWithKeepKeepsItsTarget) {
  TempDir tmp;
  ASSERT_FALSE(tmp.path().empty());
  const std::string report = tmp.File("report.json");
  Outcome o = RunLongpin({"run", "--fs", "dir:" + tmp.path(), "--keep", "--duration", "1s", "--size", "8M",
                          "--json", report, "--workdir", tmp.File("work")});
  EXPECT_EQ(o.exit_code, 0) << o.Describe();
  auto r = ReadJson(report);
  ASSERT_TRUE(r.has_value()) << o.Describe();
  const std::string target = (*r)["environment"].value("target_path", "");
  ASSERT_FALSE(target.empty());
  EXPECT_TRUE(Exists(target)) << "--keep removed the target";
  EXPECT_NE(o.out.find(target), std::string::npos) << "stdout must name the kept target\n" << o.Describe();
}

}  // namespace
}  // namespace longpin
