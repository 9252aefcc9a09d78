// The presets (workloads/presets/*.toml), job files through the binary, the hang exit and the matrix: each
// runs the real longpin on loop filesystems, briefly, and asserts what this kernel shows.
#include <gtest/gtest.h>
#include <sys/utsname.h>

#include <map>

#include "pinners/pinner.h"
#include "tests/integration/test_helpers.h"

namespace longpin::it {
namespace {

uint64_t Counter(const nlohmann::json& report, const std::string& phase, const std::string& key) {
  for (const auto& p : report["phases"])
    if (p.value("name", "") == phase && p.contains("scenario") && p["scenario"].contains(key))
      return p["scenario"][key].get<uint64_t>();
  return 0;
}

uint64_t Writes(const nlohmann::json& report, const std::string& phase, const std::string& kind) {
  for (const auto& p : report["phases"])
    if (p.value("name", "") == phase && p["writes"].contains(kind)) return p["writes"][kind].get<uint64_t>();
  return 0;
}

class Preset : public ::testing::Test {
 protected:
  // Runs `longpin run --workload NAME` briefly; the JSON report, or a failure.
  nlohmann::json RunPreset(const std::string& name, std::vector<std::string> extra = {}) {
    const std::string json = work_.File("report.json");
    std::vector<std::string> args = {"run", "--workload", name,         "--duration", "1s", "--size",
                                     "32M", "--workdir",  work_.path(), "--json",     json, "--quiet"};
    args.insert(args.end(), extra.begin(), extra.end());
    Outcome o = RunLongpin(args, std::chrono::seconds(180));
    EXPECT_EQ(o.exit_code, 0) << o.Describe();
    auto doc = ReadJson(json);
    EXPECT_TRUE(doc) << o.Describe();
    if (doc) {
      EXPECT_EQ((*doc)["verdict"], "pass") << doc->dump(2).substr(0, 4000);
    }
    return doc.value_or(nlohmann::json::object());
  }
  void TearDown() override {
    auto left = Leftovers(work_.path());
    EXPECT_TRUE(left.empty()) << left.front();
  }
  TempDir work_;
};

TEST_F(Preset, PinnedRedirtyKeepsBothContractsOnExt4) {
  if (auto why = NeedFs("ext4")) GTEST_SKIP() << *why;
  if (auto why = NeedPinner("fuse")) GTEST_SKIP() << *why;
  auto r = RunPreset("pinned-redirty");
  ASSERT_TRUE(r.contains("verification"));
  EXPECT_EQ(r["verification"]["kernel_contract"]["violations"], 0);
  EXPECT_EQ(r["verification"]["strict_contract"]["misses"], 0);
  EXPECT_GT(Writes(r, "pinned", "dma"), 0u);
}

TEST_F(Preset, SplitPageInterleavesPwriteAndDmaInOnePage) {
  if (auto why = NeedFs("ext4")) GTEST_SKIP() << *why;
  if (auto why = NeedPinner("fuse")) GTEST_SKIP() << *why;
  auto r = RunPreset("split-page");
  EXPECT_EQ(r["environment"]["block_size"], 1024);
  EXPECT_GT(Writes(r, "pinned", "pwrite"), 0u);
  EXPECT_GT(Writes(r, "pinned", "dma"), 0u);
  EXPECT_EQ(r["verification"]["kernel_contract"]["violations"], 0);
  EXPECT_EQ(r["verification"]["classes"]["torn"], 0);
}

TEST_F(Preset, DioJournalWritesFromThePinnedMappingWithoutHanging) {
  if (auto why = NeedFs("ext4")) GTEST_SKIP() << *why;
  auto r = RunPreset("dio-journal");
  EXPECT_GT(Counter(r, "pinned", "dio_writes_b"), 0u);
  EXPECT_GT(Counter(r, "pinned", "dio_writes_a"), 0u);  // the self-referential variant ran too
  EXPECT_TRUE(r["hangs"].empty());
}

TEST_F(Preset, TruncateUnderPinBringsNothingBack) {
  if (auto why = NeedFs("ext4")) GTEST_SKIP() << *why;
  if (auto why = NeedPinner("fuse")) GTEST_SKIP() << *why;
  auto r = RunPreset("truncate-under-pin");
  EXPECT_GT(Counter(r, "pinned", "punch_done"), 0u);
  EXPECT_EQ(r["verification"]["kernel_contract"]["violations"], 0);
  // Punched ranges read back as zeros: with dozens of punches over a 32 MiB file some blocks are zero.
  EXPECT_GT(r["verification"]["classes"]["zero"].get<uint64_t>(), 0u);
}

TEST_F(Preset, ForkUnderPinKeepsTheChildsWritesOutOfTheParent) {
  if (auto why = NeedFs("ext4")) GTEST_SKIP() << *why;
  if (auto why = NeedPinner("io_uring")) GTEST_SKIP() << *why;
  auto r = RunPreset("fork-under-pin");
  EXPECT_GT(Counter(r, "pinned", "forks"), 0u);
  EXPECT_EQ(Counter(r, "pinned", "child_blocks_in_parent"), 0u);
  EXPECT_GT(Counter(r, "pinned", "blocks_checked"), 0u);
}

TEST_F(Preset, ReclaimUnderPinKeepsDmaWritesVisibleInTheMapping) {
  if (auto why = NeedFs("ext4")) GTEST_SKIP() << *why;
  if (auto why = NeedPinner("fuse")) GTEST_SKIP() << *why;
  auto r = RunPreset("reclaim-under-pin");
  EXPECT_GT(Counter(r, "pinned", "compactions"), 0u);
  EXPECT_GT(Counter(r, "pinned", "pageout_pages"), 0u);
  EXPECT_EQ(Counter(r, "pinned", "coherence_failures"), 0u);
}

TEST(Workloads, ListShowsEveryPreset) {
  Outcome o = RunLongpin({"list", "workloads"});
  ASSERT_EQ(o.exit_code, 0) << o.Describe();
  for (const char* name : {"pinned-redirty", "split-page", "dio-journal", "truncate-under-pin",
                           "fork-under-pin", "reclaim-under-pin"})
    EXPECT_NE(o.out.find(name), std::string::npos) << name << "\n" << o.out;
}

TEST(Workloads, BadJobFileIsFileLineAndExit2) {
  TempDir dir;
  const std::string path = dir.File("bad.toml");
  std::ofstream(path) << "size = \"32M\"\nsyncers = \"many\"\n";
  Outcome o = RunLongpin({"run", path});
  EXPECT_EQ(o.exit_code, 2) << o.Describe();
  EXPECT_NE(o.err.find(path + ":2: syncers: expected an integer"), std::string::npos) << o.Describe();
}

// A phase whose thread stays in the kernel past --hang-threshold ends the run with exit 1 and its report: the
// fuse pinner's read waits for a reply held back for 30 s, far beyond the 1 s threshold.
TEST(Workloads, StuckPhaseEndsTheRunWithExit1AndAReport) {
  if (auto why = NeedFs("ext4")) GTEST_SKIP() << *why;
  if (auto why = NeedPinner("fuse")) GTEST_SKIP() << *why;
  TempDir work;
  const std::string json = work.File("report.json");
  const auto t0 = std::chrono::steady_clock::now();
  Outcome o = RunLongpin({"run", "--pinner", "fuse", "--writers", "cpu:1,pwrite:1,dma:1", "--pin-hold", "30s",
                          "--hang-threshold", "1s", "--duration", "1s", "--size", "32M", "--workdir",
                          work.path(), "--json", json, "--quiet"},
                         std::chrono::seconds(60));
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(o.exit_code, 1) << o.Describe();
  EXPECT_LT(seconds, 25.0) << "the run waited for the stuck thread";
  auto doc = ReadJson(json);
  ASSERT_TRUE(doc) << o.Describe();
  EXPECT_EQ((*doc)["verdict"], "fail");
  ASSERT_FALSE((*doc)["hangs"].empty());
  EXPECT_EQ((*doc)["hangs"][0]["role"], "pinner fuse");
  // What the stuck run left (its run directory) is longpin cleanup's to remove.
  Outcome c = RunLongpin({"cleanup", "--workdir", work.path()});
  EXPECT_EQ(c.exit_code, 0) << c.Describe();
  auto left = Leftovers(work.path());
  EXPECT_TRUE(left.empty()) << left.front();
}

TEST(Workloads, MatrixOfFourCellsWritesFourCells) {
  if (auto why = NeedFs("ext4")) GTEST_SKIP() << *why;
  if (auto why = NeedPinner("io_uring")) GTEST_SKIP() << *why;
  TempDir work;
  const std::string json = work.File("matrix.json");
  Outcome o = RunLongpin(
      {"matrix", "--pinners", "vmsplice,io_uring", "--fs", "ext4", "--mappings", "shared,memfd", "--sync",
       "fsync", "--duration", "1s", "--size", "32M", "--workdir", work.path(), "--json", json, "--quiet"},
      std::chrono::seconds(300));
  EXPECT_EQ(o.exit_code, 0) << o.Describe();
  auto doc = ReadJson(json);
  ASSERT_TRUE(doc) << o.Describe();
  EXPECT_EQ((*doc)["schema_version"], 1);
  ASSERT_EQ((*doc)["cells"].size(), 4u);
  std::map<std::string, std::string> outcome;
  for (const auto& c : (*doc)["cells"]) {
    EXPECT_TRUE(c["report"].is_object());
    outcome[c["pinner"].get<std::string>() + "/" + c["mapping"].get<std::string>()] = c["outcome"];
  }
  // This kernel (6.5+): a long-term pin of a shared ext4 mapping is refused with EFAULT; memfd is pinned.
  EXPECT_EQ(outcome["io_uring/shared"], "refused EFAULT");
  EXPECT_EQ(outcome["io_uring/memfd"], "pass");
  EXPECT_EQ(outcome["vmsplice/shared"], "pass");
  EXPECT_NE(o.out.find("refused EFAULT [ok]"), std::string::npos) << o.out;  // the table, judged by the rules
  // Each io_uring cell is judged by a rule of this kernel, and says which.
  utsname u{};
  ::uname(&u);
  for (const auto& c : (*doc)["cells"]) {
    EXPECT_EQ(c["kernel"], u.release);
    EXPECT_EQ(c["kernel_name"], "host");
    if (c["pinner"] != "io_uring") continue;
    EXPECT_EQ(c["as_expected"], true) << c["judgement"];
    EXPECT_TRUE(c["rule"].is_string()) << c["judgement"];
  }
  auto left = Leftovers(work.path());
  EXPECT_TRUE(left.empty()) << left.front();
}

}  // namespace
}  // namespace longpin::it
