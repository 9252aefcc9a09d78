// Race scripts on real loop filesystems: each step runs against the kernel here, and what the steps promised
// is read back from the disk. The findings themselves (Debian 6.1) are asserted by vm/ci-6.1.sh.
#include <glob.h>
#include <gtest/gtest.h>
#include <sys/utsname.h>

#include "pinners/pinner.h"
#include "tests/integration/test_helpers.h"

namespace longpin::it {
namespace {

std::vector<std::string> RaceCgroups() {
  glob_t g{};
  std::vector<std::string> out;
  if (::glob("/sys/fs/cgroup/longpin-race-*", 0, nullptr, &g) == 0)
    for (size_t i = 0; i < g.gl_pathc; ++i) out.push_back(g.gl_pathv[i]);
  ::globfree(&g);
  return out;
}

class Race : public ::testing::Test {
 protected:
  // Runs a race script with the fuse pinner (or `pinner`) on a scratch filesystem; the JSON report.
  nlohmann::json RunScript(const std::string& script, int expect_exit, const std::string& fs = "ext4",
                           const std::string& pinner = "fuse", std::vector<std::string> extra = {}) {
    const std::string json = work_.File("race.json");
    std::vector<std::string> args = {"run",        "--pinner",        pinner, "--fs",   fs,   "--race",
                                     script,       "--race-attempts", "12",   "--size", "8M", "--workdir",
                                     work_.path(), "--json",          json,   "--quiet"};
    args.insert(args.end(), extra.begin(), extra.end());
    Outcome o = RunLongpin(args, std::chrono::seconds(120));
    EXPECT_EQ(o.exit_code, expect_exit) << o.Describe();
    auto doc = ReadJson(json);
    EXPECT_TRUE(doc.has_value()) << o.Describe();
    EXPECT_TRUE(Leftovers(work_.path()).empty()) << Leftovers(work_.path()).front();
    return doc.value_or(nlohmann::json::object());
  }
  void SetUp() override {
    if (auto why = NeedFs("ext4")) GTEST_SKIP() << *why;
    if (auto why = NeedPinner("fuse")) GTEST_SKIP() << *why;
  }
  TempDir work_;
};

TEST_F(Race, StoresASyncPromisedAreOnDisk) {
  auto doc = RunScript("pin,store,sync,verify", 0);
  EXPECT_EQ(doc["race"]["attempts"], 12);
  EXPECT_EQ(doc["findings"]["kernel_violations"], 0);
  EXPECT_EQ(doc["findings"]["strict_misses"], 0);
  EXPECT_EQ(doc["race"]["sync_results"]["fsync ok"], 12);
  EXPECT_EQ(doc["findings"]["attempts"], 12);
  EXPECT_NE(doc["findings"]["reproduce"].get<std::string>().find("--seed"), std::string::npos);
}

TEST_F(Race, DmaThroughTheFuseReadIsPromisedFromTheNextSync) {
  auto doc = RunScript("pin,store,sync,dma,sync,verify", 0, "xfs");
  EXPECT_EQ(doc["race"]["dma_writes"], 12);
  EXPECT_EQ(doc["findings"]["kernel_violations"], 0);
  // Every DMA block was acknowledged before the second sync, and every one is on disk.
  EXPECT_EQ(doc["race"]["dma_blocks_strict_promised"], 12 * 16);
  EXPECT_EQ(doc["race"]["dma_blocks_strict_found"], 12 * 16);
}

TEST_F(Race, AHeldDmaHoldsTheWindowAcrossASyncAndIsMeasured) {
  auto doc = RunScript("pin,store,sync,dma-start,sync,dma-finish,sync,verify", 0);
  EXPECT_EQ(doc["race"]["pages_held_max"], 16);
  EXPECT_GT(doc["race"]["pin_page_seconds"].get<double>(), 0.0);
  const std::string measured = doc["race"]["pin_reference"]["measured"];
  utsname u{};
  ::uname(&u);
  int major = 0, minor = 0;
  std::sscanf(u.release, "%d.%d", &major, &minor);
  // FUSE direct IO pins with FOLL_PIN from 6.9 (738adade96b2): the counters move by the window's pages.
  if (major > 6 || (major == 6 && minor >= 9)) {
    EXPECT_EQ(measured, "FOLL_PIN") << doc["race"]["pin_reference"].dump();
  }
  EXPECT_NE(doc["race"]["pin_reference"]["detail"].get<std::string>().find("nr_foll_pin_acquired"),
            std::string::npos);
}

TEST_F(Race, PageoutTakesTheWindowOffThePageTables) {
  auto doc = RunScript("pin,store,sync,reclaim,verify", 0);
  EXPECT_GT(doc["race"]["reclaimed_pages"].get<uint64_t>(), 0u) << doc["race"].dump();
  EXPECT_EQ(doc["findings"]["kernel_violations"], 0);
}

TEST_F(Race, ACrashKeepsWhatASyncPromisedAndPromisesNothingElse) {
  // The second store is never synced: after the shutdown either generation may be on disk, and neither is a
  // finding; the first was synced and must be there at least.
  for (const char* fs : {"ext4", "xfs"}) {
    if (auto why = NeedFs(fs)) continue;
    auto doc = RunScript("pin,store,sync,store,crash,verify", 0, fs);
    EXPECT_EQ(doc["race"]["attempts"], 12) << fs;
    EXPECT_EQ(doc["findings"]["kernel_violations"], 0) << fs;
    EXPECT_EQ(doc["findings"]["strict_misses"], 0) << fs;
  }
}

TEST_F(Race, CgroupReclaimRunsOrSaysWhyNot) {
  const std::string controllers = [] {
    std::ifstream f("/sys/fs/cgroup/cgroup.controllers");
    std::string line;
    std::getline(f, line);
    return line;
  }();
  if (controllers.find("memory") == std::string::npos) {
    auto doc = RunScript("pin,store,sync,reclaim:cgroup,verify", 77);
    EXPECT_NE(doc["reasons"][0].get<std::string>().find("cgroup v2"), std::string::npos)
        << doc["reasons"].dump();
  } else {
    auto doc = RunScript("pin,store,sync,reclaim:cgroup,verify", 0);
    EXPECT_EQ(doc["findings"]["kernel_violations"], 0);
  }
  EXPECT_TRUE(RaceCgroups().empty()) << RaceCgroups().front();
}

TEST_F(Race, AScriptThatMakesNoSenseExits2BeforeAnythingIsMade) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--pinner", "fuse", "--race", "dma,pin,verify"}, "step dma: a DMA needs a pinned window"},
      {{"--pinner", "odirect", "--race", "pin,dma-start,dma-finish,verify"}, "step dma-start"},
      {{"--pinner", "vmsplice", "--race", "pin,dma,verify"}, "cannot write through its pin"},
      {{"--pinner", "fuse", "--race", "pin,store,sync"}, "ends with verify"},
      {{"--pinner", "fuse", "--race", "pin,store,verify", "--crash", "shutdown"}, "crash step"},
      {{"--pinner", "fuse", "--race", "pin,verify", "--contract", "loose"}, "--contract loose"},
      {{"--pinner", "fuse", "--race", "pin,store,sync,verify", "--mapping", "private"},
       "private stores never reach"},
  };
  for (const auto& [args, says] : cases) {
    std::vector<std::string> all = {"run", "--workdir", work_.path()};
    all.insert(all.end(), args.begin(), args.end());
    Outcome o = RunLongpin(all, std::chrono::seconds(30));
    EXPECT_EQ(o.exit_code, 2) << o.Describe();
    EXPECT_NE(o.err.find(says), std::string::npos) << o.err;
    EXPECT_EQ(std::count(o.err.begin(), o.err.end(), '\n'), 1) << o.err;
    EXPECT_TRUE(Leftovers(work_.path()).empty());
  }
}

TEST_F(Race, ARefusedLongTermPinIsTheOutcome) {
  if (auto why = NeedPinner("io_uring")) GTEST_SKIP() << *why;
  utsname u{};
  ::uname(&u);
  int major = 0, minor = 0;
  std::sscanf(u.release, "%d.%d", &major, &minor);
  if (major < 6 || (major == 6 && minor < 5))
    GTEST_SKIP() << "kernel " << u.release << " grants or refuses differently";
  auto doc = RunScript("pin,store,sync,dma,sync,verify", 77, "ext4", "io_uring");
  EXPECT_EQ(doc["verdict"], "refused");
  EXPECT_NE(doc["race"]["refused"].get<std::string>().find("EFAULT"), std::string::npos)
      << doc["race"].dump();
  EXPECT_EQ(doc["findings"]["kernel_violations"], 0);
}

}  // namespace
}  // namespace longpin::it
