// The live progress line of `longpin run`: drawn on a terminal (a pseudo-terminal here), erased before the
// summary, and absent when stdout is a pipe or --quiet is given, so logs and CI output stay plain text.
#include <gtest/gtest.h>
#include <pty.h>
#include <termios.h>

#include <regex>

#include "tests/integration/test_helpers.h"

namespace longpin::it {
namespace {

// Runs longpin with stdout on a raw pseudo-terminal (no \n -> \r\n translation, so every \r seen is
// longpin's) and stderr on a pipe.
Outcome RunOnTerminal(const std::vector<std::string>& args, std::chrono::seconds timeout) {
  Outcome o;
  int master = -1, slave = -1;
  winsize ws{};
  ws.ws_col = 200;
  ws.ws_row = 50;
  if (::openpty(&master, &slave, nullptr, nullptr, &ws) != 0) {
    o.err = std::string("openpty: ") + std::strerror(errno);
    return o;
  }
  termios t{};
  ::tcgetattr(slave, &t);
  ::cfmakeraw(&t);
  ::tcsetattr(slave, TCSANOW, &t);
  int err[2];
  if (::pipe2(err, O_CLOEXEC) != 0) return o;
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(slave, 1);
    ::dup2(err[1], 2);
    std::vector<char*> argv{const_cast<char*>(LongpinBinary())};
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execv(LongpinBinary(), argv.data());
    ::_exit(127);
  }
  ::close(slave);
  ::close(err[1]);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  int fds[2] = {master, err[0]};
  std::string* into[2] = {&o.out, &o.err};
  while (fds[0] >= 0 || fds[1] >= 0) {
    if (std::chrono::steady_clock::now() > deadline && !o.timed_out) {
      ::kill(pid, SIGKILL);
      o.timed_out = true;
    }
    pollfd p[2] = {{fds[0], POLLIN, 0}, {fds[1], POLLIN, 0}};
    ::poll(p, 2, 200);
    for (int i = 0; i < 2; ++i) {
      if (fds[i] < 0 || !(p[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      char buf[4096];
      const ssize_t n = ::read(fds[i], buf, sizeof buf);
      if (n > 0) {
        into[i]->append(buf, size_t(n));
      } else if (n == 0 || errno != EINTR) {  // a pty master reads EIO once the child closed its side
        ::close(fds[i]);
        fds[i] = -1;
      }
    }
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status)) o.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) o.signal = WTERMSIG(status);
  return o;
}

std::vector<std::string> ShortRunArgs(const TempDir& tmp) {
  return {"run",    "--fs", "dir:" + tmp.path(), "--duration",    "1s",
          "--size", "8M",   "--workdir",         tmp.File("work")};
}

TEST(RunProgress, DrawnOnATerminalAndErasedBeforeTheSummary) {
  TempDir tmp;
  ASSERT_FALSE(tmp.path().empty());
  Outcome o = RunOnTerminal(ShortRunArgs(tmp), std::chrono::seconds(120));
  ASSERT_EQ(o.exit_code, 0) << o.Describe();
  for (const char* want : {" baseline 1/2 | writes ", " pinned 2/2 | writes ", "| fsync ", " p99 ",
                           "| kernel events 0 ", "| violations 0"})
    EXPECT_NE(o.out.find(want), std::string::npos) << "no '" << want << "' on the terminal:\n" << o.out;
  EXPECT_TRUE(std::regex_search(
      o.out, std::regex(R"(pinned 2/2 \| writes [0-9.]+[kM]?/s .*\| pinned [1-9][0-9]* pages)")))
      << "no pinned phase line with a write rate and pages held:\n"
      << o.out;
  // The summary starts on an erased line: the progress line never mixes into it.
  const size_t summary = o.out.find("longpin run ");
  ASSERT_NE(summary, std::string::npos) << o.out;
  ASSERT_GE(summary, 4u);
  EXPECT_EQ(o.out.substr(summary - 4, 4), "\r\033[K") << o.out;
  EXPECT_EQ(o.out.find('\r', summary), std::string::npos) << "no progress after the summary began";
  EXPECT_NE(o.out.find("verdict: pass"), std::string::npos);
}

TEST(RunProgress, QuietOnATerminalDrawsNothing) {
  TempDir tmp;
  ASSERT_FALSE(tmp.path().empty());
  std::vector<std::string> args = ShortRunArgs(tmp);
  args.push_back("--quiet");
  Outcome o = RunOnTerminal(args, std::chrono::seconds(120));
  ASSERT_EQ(o.exit_code, 0) << o.Describe();
  EXPECT_EQ(o.out, "verdict: pass\n");
}

TEST(RunProgress, NotDrawnIntoAPipe) {
  TempDir tmp;
  ASSERT_FALSE(tmp.path().empty());
  Outcome o = RunLongpin(ShortRunArgs(tmp));
  ASSERT_EQ(o.exit_code, 0) << o.Describe();
  EXPECT_EQ(o.out.find('\r'), std::string::npos) << o.out;
  EXPECT_EQ(o.out.find('\033'), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("verdict: pass"), std::string::npos) << o.out;
}

}  // namespace
}  // namespace longpin::it
