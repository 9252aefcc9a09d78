// The live progress line of `longpin run`: drawn on a terminal (a pseudo-terminal here), erased before the
// summary, and absent when stdout is a pipe or --quiet is given, so logs and CI output stay plain text.
#include <gtest/gtest.h>

#include <regex>

#include "tests/integration/test_helpers.h"

namespace longpin::it {
namespace {

std::vector<std::string> ShortRunArgs(const TempDir& tmp) {
  // One round: the line's phase numbers are those of the phase list (baseline 1/2, pinned 2/2).
  return {"run",    "--fs", "dir:" + tmp.path(), "--duration",    "1s", "--rounds", "1",
          "--size", "8M",   "--workdir",         tmp.File("work")};
}

TEST(RunProgress, DrawnOnATerminalAndErasedBeforeTheSummary) {
  TempDir tmp;
  ASSERT_FALSE(tmp.path().empty());
  Outcome o = RunLongpin(ShortRunArgs(tmp), std::chrono::seconds(120), StdoutTo::kTerminal);
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
  Outcome o = RunLongpin(args, std::chrono::seconds(120), StdoutTo::kTerminal);
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
