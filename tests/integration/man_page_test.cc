// docs/longpin.1 stays true to the binary: every option that `longpin SUBCOMMAND --help` prints is described
// in the man page, every subcommand has its entry, and groff renders the page without a warning.
#include <gtest/gtest.h>

#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "tests/integration/test_helpers.h"

namespace longpin::it {
namespace {

std::string ManPage() {
  std::ifstream f(std::string(LONGPIN_SOURCE_DIR) + "/docs/longpin.1");
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

// Long options of the option lines of a --help text ("  -q,--quiet   ..." or "  --fs TEXT  ...").
std::set<std::string> HelpOptions(const std::string& help) {
  std::set<std::string> out;
  std::istringstream in(help);
  const std::regex option_line(R"(^\s+(-\w,)?(--[a-z][a-z0-9-]*))");
  for (std::string line; std::getline(in, line);) {
    std::smatch m;
    if (std::regex_search(line, m, option_line) && m[2] != "--help" && m[2] != "--help-all") out.insert(m[2]);
  }
  return out;
}

std::string RoffEscaped(const std::string& s) {
  std::string out;
  for (char c : s) out += c == '-' ? std::string("\\-") : std::string(1, c);
  return out;
}

TEST(ManPage, DescribesEveryOptionOfEverySubcommand) {
  const std::string man = ManPage();
  ASSERT_FALSE(man.empty()) << "docs/longpin.1 not found";
  for (const char* sub : {"run", "matrix", "verify", "selftest", "report", "list", "cleanup"}) {
    Outcome o = RunLongpin({sub, "--help"});
    ASSERT_EQ(o.exit_code, 0) << o.Describe();
    const auto options = HelpOptions(o.out);
    if (std::string(sub) == "run") {
      EXPECT_GT(options.size(), 30u) << "the option parser of this test broke";
    }
    for (const auto& opt : options)
      EXPECT_NE(man.find(RoffEscaped(opt)), std::string::npos)
          << "longpin " << sub << " " << opt << " is not in docs/longpin.1";
    EXPECT_NE(man.find("\n.B " + std::string(sub) + "\n"), std::string::npos) << "no entry for " << sub;
  }
}

TEST(ManPage, RendersWithoutWarnings) {
  if (::access("/usr/bin/groff", X_OK) != 0)
    GTEST_SKIP() << "groff is not installed (Debian package groff-base)";
  const std::string page = std::string(LONGPIN_SOURCE_DIR) + "/docs/longpin.1";
  const std::string cmd = "groff -man -Tutf8 -ww -z " + page + " 2>&1";
  FILE* p = ::popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string out;
  char buf[512];
  while (size_t n = std::fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  EXPECT_EQ(::pclose(p), 0) << out;
  EXPECT_EQ(out, "") << "groff warnings";
}

}  // namespace
}  // namespace longpin::it
