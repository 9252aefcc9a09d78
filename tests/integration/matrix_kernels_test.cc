// The matrix judged by the kernel's rules and run across kernels: a rule the kernel breaks fails the matrix
// and is named; a rules file, kernel name or kernel image that is wrong is one line and exit 2 before any
// cell ran, and no qemu is left behind.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "tests/integration/test_helpers.h"

namespace longpin::it {
namespace {

std::string WriteFile(const TempDir& dir, const std::string& name, const std::string& text) {
  const std::string path = dir.File(name);
  std::ofstream(path) << text;
  return path;
}

int QemuProcesses() {
  FILE* p = ::popen("pgrep -c qemu-system", "r");
  if (!p) return -1;
  int n = 0;
  if (std::fscanf(p, "%d", &n) != 1) n = 0;
  ::pclose(p);
  return n;
}

// A rule that says the opposite of what every kernel since 5.14 does: memfd buffers refused.
constexpr const char* kWrongRule = R"(schema = 1
[[rule]]
id = "memfd-refused-on-purpose"
summary = "a rule this kernel must break, for the test"
source = "tests/integration/matrix_kernels_test.cc"
pinners = ["io_uring"]
backings = ["shmem"]
since = "5.1"
outcome = "refused EPERM"
)";

TEST(MatrixRules, AnOutcomeTheRuleForbidsFailsTheMatrixAndNamesTheRule) {
  if (auto why = NeedRoot()) GTEST_SKIP() << *why;
  if (auto why = NeedPinner("io_uring")) GTEST_SKIP() << *why;
  TempDir work;
  const std::string rules = WriteFile(work, "rules.toml", kWrongRule);
  const std::string json = work.File("m.json");
  Outcome o = RunLongpin(
      {"matrix", "--pinners", "io_uring", "--mappings", "memfd", "--rules", rules, "--duration", "1s",
       "--rounds", "1", "--size", "16M", "--workdir", work.path(), "--json", json, "--quiet"},
      std::chrono::seconds(120));
  EXPECT_EQ(o.exit_code, 1) << o.Describe();
  EXPECT_NE(o.out.find("pass [UNEXPECTED]"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("memfd-refused-on-purpose"), std::string::npos) << o.out;
  auto doc = ReadJson(json);
  ASSERT_TRUE(doc) << o.Describe();
  ASSERT_EQ((*doc)["cells"].size(), 1u);
  const auto& cell = (*doc)["cells"][0];
  EXPECT_EQ(cell["as_expected"], false);
  EXPECT_EQ(cell["rule"], "memfd-refused-on-purpose");
  EXPECT_EQ(cell["pin_outcome"], "granted");
  EXPECT_EQ(cell["fs"], "-") << "a memory mapping lives on no filesystem";
  auto left = Leftovers(work.path());
  EXPECT_TRUE(left.empty()) << left.front();
}

TEST(MatrixRules, ARulesFileWithAnErrorIsFileLineAndExit2BeforeAnyCell) {
  TempDir work;
  const std::string rules = WriteFile(work, "rules.toml", "schema = 1\n[[rule]]\nid = \"x\"\nsince = [\n");
  Outcome o = RunLongpin({"matrix", "--pinners", "vmsplice", "--fs", "dir:" + work.path(), "--rules", rules,
                          "--workdir", work.path()});
  EXPECT_EQ(o.exit_code, 2) << o.Describe();
  EXPECT_NE(o.err.find(rules + ":"), std::string::npos) << o.err;
  EXPECT_EQ(std::count(o.err.begin(), o.err.end(), '\n'), 1) << o.err;
  EXPECT_TRUE(o.out.empty()) << "no cell ran: " << o.out;
}

// A kernel named twice would be two columns of one kernel.
TEST(MatrixKernels, AnUnknownKernelAMissingImageOrATwiceNamedOneIsOneLineExit2) {
  TempDir work;
  for (const std::string kernel : {"debian-5.10", "/nonexistent/bzImage", "host"}) {
    Outcome o = RunLongpin({"matrix", "--kernels", "host," + kernel, "--pinners", "vmsplice", "--fs",
                            "dir:" + work.path(), "--workdir", work.path()});
    EXPECT_EQ(o.exit_code, 2) << kernel << ": " << o.Describe();
    EXPECT_NE(o.err.find("--kernels"), std::string::npos) << o.err;
    EXPECT_EQ(std::count(o.err.begin(), o.err.end(), '\n'), 1) << o.err;
    EXPECT_TRUE(o.out.empty()) << "no cell ran: " << o.out;
  }
}

TEST(MatrixKernels, AnImageThatDoesNotBootIsOneLineExit2AndNoQemuLeft) {
  if (auto why = NeedRoot()) GTEST_SKIP() << *why;
  if (::access("/usr/bin/qemu-system-x86_64", X_OK) != 0)
    GTEST_SKIP() << "qemu-system-x86_64 is not installed";
  TempDir work;
  std::string junk(1 << 20, '\0');
  for (size_t i = 0; i < junk.size(); ++i) junk[i] = char((i * 2654435761u) >> 13);
  const std::string image = WriteFile(work, "bzImage", junk);
  const int qemu_before = QemuProcesses();
  Outcome o = RunLongpin({"matrix", "--kernels", image, "--pinners", "vmsplice", "--fs", "dir:" + work.path(),
                          "--workdir", work.path(), "--quiet"},
                         std::chrono::seconds(120));
  EXPECT_EQ(o.exit_code, 2) << o.Describe();
  const size_t line = o.err.find("longpin: matrix --kernels " + image + ": the guest did not boot");
  ASSERT_NE(line, std::string::npos) << o.err;
  EXPECT_EQ(o.err.find('\n', line), o.err.size() - 1) << "one line, the last: " << o.err;
  EXPECT_EQ(QemuProcesses(), qemu_before) << "no qemu left behind";
  // The console log is kept as the evidence, at the place the line names; the test removes it.
  const size_t kept = o.err.find("(log kept in ", line);
  ASSERT_NE(kept, std::string::npos) << o.err;
  const size_t from = kept + std::string("(log kept in ").size();
  const std::string log_dir = o.err.substr(from, o.err.find(')', from) - from);
  EXPECT_EQ(::access((log_dir + "/vm-console.log").c_str(), F_OK), 0) << log_dir;
  std::error_code ignored;
  std::filesystem::remove_all(log_dir, ignored);
}

}  // namespace
}  // namespace longpin::it
