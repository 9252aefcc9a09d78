// The matrix across kernels as a reader sees it: one row per cell, one column per kernel, each outcome marked
// by its kernel's rule; an UNEXPECTED cell fails the matrix and is spelled out; reports of several machines
// merge into one table without one machine's "host" hiding another's.
#include <gtest/gtest.h>

#include "workloads/matrix.h"

namespace longpin {
namespace {

using nlohmann::json;

json Cell(std::string pinner, std::string kernel, std::string release, std::string outcome, json rule,
          json as_expected, std::string judgement) {
  return {{"pinner", pinner},           {"fs", "ext4"},           {"mapping", "shared"}, {"sync", "fsync"},
          {"kernel_name", kernel},      {"kernel", release},      {"outcome", outcome},  {"rule", rule},
          {"as_expected", as_expected}, {"judgement", judgement}, {"comparison", "-"}};
}

json Doc(json cells, json kernels) {
  return {{"schema_version", 1}, {"kind", "matrix"}, {"kernels", kernels}, {"cells", cells}};
}

json TwoKernels() {
  return Doc(
      json::array({Cell("io_uring", "host", "6.18.44", "refused EFAULT", "io_uring-file-efault", true,
                        "as expected (rule io_uring-file-efault)"),
                   Cell("io_uring", "debian-6.1", "6.1.0-57-amd64", "refused EOPNOTSUPP",
                        "io_uring-file-eopnotsupp", true, "as expected (rule io_uring-file-eopnotsupp)"),
                   Cell("vmsplice", "host", "6.18.44", "pass", nullptr, nullptr,
                        "no rule: outcome recorded, not judged")}),
      json::array({{{"name", "host"}, {"release", "6.18.44"}},
                   {{"name", "debian-6.1"}, {"release", "6.1.0-57-amd64"}}}));
}

TEST(MatrixTable, OneColumnPerKernelEachOutcomeMarkedByItsRule) {
  const std::string table = MatrixTable(TwoKernels());
  const std::string head = table.substr(0, table.find('\n'));
  EXPECT_NE(head.find("host 6.18.44"), std::string::npos) << table;
  EXPECT_NE(head.find("debian-6.1 6.1.0-57-amd64"), std::string::npos) << table;
  EXPECT_LT(head.find("host"), head.find("debian-6.1")) << "columns in the order given";
  // io_uring's row holds both kernels' outcomes side by side.
  const size_t row = table.find("\nio_uring");
  ASSERT_NE(row, std::string::npos) << table;
  const std::string line = table.substr(row + 1, table.find('\n', row + 1) - row - 1);
  EXPECT_NE(line.find("refused EFAULT [ok]"), std::string::npos) << line;
  EXPECT_NE(line.find("refused EOPNOTSUPP [ok]"), std::string::npos) << line;
  // vmsplice ran on the host only: its debian-6.1 column says so.
  EXPECT_NE(table.find("pass [no rule]"), std::string::npos) << table;
  EXPECT_NE(table.find("3 cells: 2 as expected, 0 UNEXPECTED, 1 no rule"), std::string::npos) << table;
  EXPECT_EQ(MatrixExitCode(TwoKernels()), kExitPass);
}

TEST(MatrixTable, AnUnexpectedCellFailsTheMatrixAndIsSpelledOut) {
  json doc = TwoKernels();
  doc["cells"][1]["outcome"] = "pass";
  doc["cells"][1]["as_expected"] = false;
  doc["cells"][1]["judgement"] =
      "UNEXPECTED: granted, rule io_uring-file-eopnotsupp (5.1..6.5) says refused EOPNOTSUPP";
  const std::string table = MatrixTable(doc);
  EXPECT_NE(table.find("pass [UNEXPECTED]"), std::string::npos) << table;
  EXPECT_NE(
      table.find("UNEXPECTED on debian-6.1 (6.1.0-57-amd64) io_uring/ext4/shared/fsync: UNEXPECTED: granted"),
      std::string::npos)
      << table;
  EXPECT_EQ(MatrixExitCode(doc), kExitFail);
}

TEST(MatrixTable, AFailingOrErroredCellSetsTheExitCode) {
  json doc = TwoKernels();
  doc["cells"][2]["outcome"] = "error: mkfs failed";
  EXPECT_EQ(MatrixExitCode(doc), kExitError);
  doc["cells"][0]["outcome"] = "fail: 3 violations";
  EXPECT_EQ(MatrixExitCode(doc), kExitFail) << "a fail outranks an error";
}

TEST(MatrixMerge, TwoMachinesHostsStayApartByRelease) {
  json a = Doc(json::array({Cell("io_uring", "host", "6.18.44", "refused EFAULT", "io_uring-file-efault",
                                 true, "ok")}),
               json::array({{{"name", "host"}, {"release", "6.18.44"}}}));
  json b = Doc(
      json::array({Cell("io_uring", "host", "6.6.30", "refused EFAULT", "io_uring-file-efault", true, "ok")}),
      json::array({{{"name", "host"}, {"release", "6.6.30"}}}));
  std::string error;
  auto merged = MergeMatrixDocuments({a, b}, {"a.json", "b.json"}, &error);
  ASSERT_TRUE(merged.has_value()) << error;
  ASSERT_EQ((*merged)["cells"].size(), 2u);
  EXPECT_EQ((*merged)["cells"][0]["kernel_name"], "host@6.18.44");
  EXPECT_EQ((*merged)["cells"][1]["kernel_name"], "host@6.6.30");
  const std::string table = MatrixTable(*merged);
  EXPECT_NE(table.find("host@6.18.44"), std::string::npos) << table;
  EXPECT_NE(table.find("host@6.6.30"), std::string::npos) << table;
}

TEST(MatrixMerge, ARunReportIsNoMatrixAndSaysWhich) {
  std::string error;
  auto merged =
      MergeMatrixDocuments({TwoKernels(), json{{"verdict", "pass"}}}, {"m.json", "run.json"}, &error);
  EXPECT_FALSE(merged.has_value());
  EXPECT_NE(error.find("run.json: not a matrix report"), std::string::npos) << error;
}

TEST(MatrixKernels, NamesAndImagesAreCheckedBeforeAnythingRuns) {
  EXPECT_FALSE(CheckKernelName("host").has_value());
  EXPECT_FALSE(CheckKernelName("debian-6.1").has_value());
  EXPECT_FALSE(CheckKernelName("debian-6.12").has_value());
  auto unknown = CheckKernelName("debian-5.10");
  ASSERT_TRUE(unknown.has_value());
  EXPECT_NE(unknown->find("unknown kernel 'debian-5.10'"), std::string::npos) << *unknown;
  auto missing = CheckKernelName("/nonexistent/bzImage");
  ASSERT_TRUE(missing.has_value());
  EXPECT_NE(missing->find("no such kernel image"), std::string::npos) << *missing;
  EXPECT_FALSE(CheckKernelName("/proc/self/exe").has_value()) << "any readable file is tried as a kernel";
}

}  // namespace
}  // namespace longpin
