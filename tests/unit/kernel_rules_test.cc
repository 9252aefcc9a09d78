// The kernel's rules as data: one test per rule of pinners/kernel-rules.toml (a cell inside its versions as
// expected, the other outcome UNEXPECTED, its boundary versions), version parsing, and the file's checks.
#include "pinners/kernel_rules.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <fstream>
#include <set>

#include "tests/temp_dir.h"

namespace longpin {
namespace {

KernelVersion V(const char* text) {
  auto v = ParseKernelRelease(text);
  EXPECT_TRUE(v) << text;
  return v.value_or(KernelVersion{});
}

PinCell Cell(const std::string& pinner, const std::string& backing, const std::string& mapping,
             const char* kernel, const std::string& access = "rw") {
  PinCell c;
  c.pinner = pinner;
  c.backing = backing;
  c.mapping = mapping;
  c.access = access;
  c.kernel = V(kernel);
  return c;
}

PinCell WithKernel(PinCell c, const char* kernel) {
  c.kernel = V(kernel);
  return c;
}

class KernelRulesTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    // The source tree's file, whatever the environment says.
    const char* saved = std::getenv("LONGPIN_RULES");
    const std::string restore = saved ? saved : "";
    ::unsetenv("LONGPIN_RULES");
    auto path = FindKernelRulesFile();
    if (!restore.empty()) ::setenv("LONGPIN_RULES", restore.c_str(), 1);
    ASSERT_TRUE(path) << "no kernel-rules.toml found";
    std::string error;
    auto loaded = LoadKernelRules(*path, &error);
    ASSERT_TRUE(loaded) << error;
    shipped_ = new KernelRules(std::move(*loaded));
  }
  static void TearDownTestSuite() {
    delete shipped_;
    shipped_ = nullptr;
  }
  void SetUp() override { ASSERT_NE(shipped_, nullptr); }

  static std::string DecidedBy(const PinCell& c) {
    const KernelRule* r = DecidingRule(*shipped_, c);
    return r ? r->id : "(none)";
  }

  // `id` decides the cell; `outcome` with `measured` is as expected and `other` is UNEXPECTED, naming the
  // rule.
  static void ExpectRule(const PinCell& c, const std::string& id, const std::string& outcome,
                         const std::string& measured, const std::string& other) {
    RuleJudgement good = JudgeCell(*shipped_, c, outcome, measured);
    ASSERT_NE(good.rule, nullptr) << "no rule for " << c.pinner << "/" << c.backing << "/" << c.mapping << " "
                                  << ToString(c.kernel);
    EXPECT_EQ(good.rule->id, id);
    EXPECT_EQ(good.as_expected, std::optional<bool>(true)) << good.text;
    EXPECT_EQ(good.text, "as expected (rule " + id + ")");
    RuleJudgement bad = JudgeCell(*shipped_, c, other, "");
    ASSERT_NE(bad.rule, nullptr);
    EXPECT_EQ(bad.as_expected, std::optional<bool>(false)) << bad.text;
    EXPECT_EQ(bad.text.rfind("UNEXPECTED: " + other + ", rule " + id + " (", 0), 0u) << bad.text;
  }

  static KernelRules* shipped_;
};
KernelRules* KernelRulesTest::shipped_ = nullptr;

// ---- io_uring ----

TEST_F(KernelRulesTest, IoUringFileEopnotsupp) {
  const PinCell shared = Cell("io_uring", "file", "shared", "6.1.0-57-amd64");
  ExpectRule(shared, "io_uring-file-eopnotsupp", "refused EOPNOTSUPP", "", "refused EFAULT");
  EXPECT_EQ(JudgeCell(*shipped_, shared, "refused EFAULT", "").text,
            "UNEXPECTED: refused EFAULT, rule io_uring-file-eopnotsupp (5.1..6.5) says refused EOPNOTSUPP");
  ExpectRule(Cell("io_uring", "file", "private", "6.1.0"), "io_uring-file-eopnotsupp", "refused EOPNOTSUPP",
             "", "granted");
  EXPECT_EQ(DecidedBy(WithKernel(shared, "5.1")), "io_uring-file-eopnotsupp");
  EXPECT_EQ(DecidedBy(WithKernel(shared, "6.4.999")), "io_uring-file-eopnotsupp");
  EXPECT_EQ(DecidedBy(WithKernel(shared, "5.0.21")), "(none)");
  EXPECT_EQ(DecidedBy(WithKernel(shared, "6.5")), "io_uring-file-shared-efault");
}

TEST_F(KernelRulesTest, IoUringFileSharedEfault) {
  const PinCell cell = Cell("io_uring", "file", "shared", "6.18.44");
  ExpectRule(cell, "io_uring-file-shared-efault", "refused EFAULT", "", "granted");
  EXPECT_EQ(DecidedBy(WithKernel(cell, "6.5.0")), "io_uring-file-shared-efault");
  EXPECT_EQ(DecidedBy(WithKernel(cell, "6.4.16")), "io_uring-file-eopnotsupp");
}

TEST_F(KernelRulesTest, IoUringFilePrivateGranted) {
  const PinCell cell = Cell("io_uring", "file", "private", "6.12.118+deb13-amd64");
  ExpectRule(cell, "io_uring-file-private-granted", "granted", "FOLL_PIN", "refused EOPNOTSUPP");
  RuleJudgement wrong_kind = JudgeCell(*shipped_, cell, "granted", "FOLL_GET/none");
  EXPECT_EQ(wrong_kind.as_expected, std::optional<bool>(false));
  EXPECT_EQ(wrong_kind.text,
            "UNEXPECTED: granted with FOLL_GET/none, rule io_uring-file-private-granted (6.5..) "
            "says granted with FOLL_PIN");
  EXPECT_EQ(DecidedBy(WithKernel(cell, "6.5")), "io_uring-file-private-granted");
  EXPECT_EQ(DecidedBy(WithKernel(cell, "6.4.999")), "io_uring-file-eopnotsupp");
}

TEST_F(KernelRulesTest, IoUringShmemEopnotsupp) {
  const PinCell cell = Cell("io_uring", "shmem", "memfd", "5.10.200");
  ExpectRule(cell, "io_uring-shmem-eopnotsupp", "refused EOPNOTSUPP", "", "granted");
  EXPECT_EQ(DecidedBy(WithKernel(cell, "5.1")), "io_uring-shmem-eopnotsupp");
  EXPECT_EQ(DecidedBy(WithKernel(cell, "5.13.19")), "io_uring-shmem-eopnotsupp");
  EXPECT_EQ(DecidedBy(WithKernel(cell, "5.14")), "io_uring-shmem-granted");
}

TEST_F(KernelRulesTest, IoUringShmemGranted) {
  ExpectRule(Cell("io_uring", "shmem", "memfd", "6.18.44"), "io_uring-shmem-granted", "granted", "FOLL_PIN",
             "refused EFAULT");
  // A shared mapping of a file on tmpfs (--fs dir:/dev/shm) is shmem: granted.
  ExpectRule(Cell("io_uring", "shmem", "shared", "6.18.44"), "io_uring-shmem-granted", "granted", "FOLL_PIN",
             "refused EFAULT");
  EXPECT_EQ(DecidedBy(Cell("io_uring", "shmem", "thp", "5.14")), "io_uring-shmem-granted");
}

TEST_F(KernelRulesTest, IoUringMemoryGranted) {
  ExpectRule(Cell("io_uring", "hugetlb", "hugetlb", "6.1.0"), "io_uring-memory-granted", "granted",
             "FOLL_PIN", "refused EFAULT");
  ExpectRule(Cell("io_uring", "anon", "private", "6.18"), "io_uring-memory-granted", "granted", "FOLL_PIN",
             "refused ENOMEM");
  EXPECT_EQ(DecidedBy(Cell("io_uring", "hugetlb", "hugetlb", "5.6")), "io_uring-memory-granted");
  EXPECT_EQ(DecidedBy(Cell("io_uring", "hugetlb", "hugetlb", "5.5.19")), "(none)");
}

// ---- RDMA ----

TEST_F(KernelRulesTest, RdmaFileWriteGranted) {
  const PinCell cell = Cell("rdma", "file", "shared", "6.1.0-57-amd64");
  ExpectRule(cell, "rdma-file-write-granted", "granted", "FOLL_PIN", "refused EFAULT");
  EXPECT_EQ(DecidedBy(WithKernel(cell, "5.6")), "rdma-file-write-granted");
  EXPECT_EQ(DecidedBy(WithKernel(cell, "6.4.999")), "rdma-file-write-granted");
  EXPECT_EQ(DecidedBy(WithKernel(cell, "5.5")), "(none)");
}

TEST_F(KernelRulesTest, RdmaFileWriteEfault) {
  const PinCell cell = Cell("rdma", "file", "shared", "6.12.118+deb13-amd64");
  ExpectRule(cell, "rdma-file-write-efault", "refused EFAULT", "", "granted");
  EXPECT_EQ(DecidedBy(WithKernel(cell, "6.5")), "rdma-file-write-efault");
}

TEST_F(KernelRulesTest, RdmaPrivateWriteGranted) {
  const PinCell cell = Cell("rdma", "file", "private", "6.12.118");
  ExpectRule(cell, "rdma-private-write-granted", "granted", "FOLL_PIN", "refused EFAULT");
  EXPECT_EQ(DecidedBy(WithKernel(cell, "6.1.0")), "rdma-private-write-granted");
  EXPECT_EQ(DecidedBy(WithKernel(cell, "5.5.9")), "(none)");
}

TEST_F(KernelRulesTest, RdmaReadonlyGranted) {
  const PinCell cell = Cell("rdma", "file", "shared", "6.12.118", "ro");
  ExpectRule(cell, "rdma-readonly-granted", "granted", "FOLL_PIN", "refused EFAULT");
  EXPECT_EQ(DecidedBy(WithKernel(cell, "6.1.0")), "rdma-readonly-granted");
  EXPECT_EQ(DecidedBy(WithKernel(cell, "5.6")), "rdma-readonly-granted");
  EXPECT_EQ(DecidedBy(WithKernel(cell, "5.5")), "(none)");
}

TEST_F(KernelRulesTest, RdmaMemoryGranted) {
  ExpectRule(Cell("rdma", "shmem", "memfd", "6.12.118"), "rdma-memory-granted", "granted", "FOLL_PIN",
             "refused EFAULT");
  ExpectRule(Cell("rdma", "hugetlb", "hugetlb", "6.1.0"), "rdma-memory-granted", "granted", "FOLL_PIN",
             "refused EFAULT");
  EXPECT_EQ(DecidedBy(Cell("rdma", "shmem", "memfd", "5.5")), "(none)");
}

TEST_F(KernelRulesTest, RdmaOdpNoPin) {
  const PinCell cell = Cell("rdma-odp", "file", "shared", "6.12.118");
  ExpectRule(cell, "rdma-odp-no-pin", "granted", "FOLL_GET/none", "refused EFAULT");
  EXPECT_FALSE(*JudgeCell(*shipped_, cell, "granted", "FOLL_PIN").as_expected);
  EXPECT_EQ(DecidedBy(WithKernel(cell, "5.6")), "rdma-odp-no-pin");
  EXPECT_EQ(DecidedBy(WithKernel(cell, "5.5")), "(none)");
}

// ---- Pinners that no kernel refuses ----

TEST_F(KernelRulesTest, VmspliceFollGet) {
  for (const char* kernel : {"6.1.0-57-amd64", "6.12.118+deb13-amd64", "6.18.44"}) {
    ExpectRule(Cell("vmsplice", "file", "shared", kernel), "vmsplice-foll-get", "granted", "FOLL_GET/none",
               "refused EFAULT");
    ExpectRule(Cell("vmsplice", "shmem", "memfd", kernel), "vmsplice-foll-get", "granted", "FOLL_GET/none",
               "refused EFAULT");
  }
  const PinCell cell = Cell("vmsplice", "file", "shared", "6.18.44");
  EXPECT_FALSE(*JudgeCell(*shipped_, cell, "granted", "FOLL_PIN").as_expected);
  EXPECT_EQ(DecidedBy(WithKernel(cell, "5.0")), "vmsplice-foll-get");
  EXPECT_EQ(DecidedBy(WithKernel(cell, "4.19.300")), "(none)");
}

TEST_F(KernelRulesTest, FuseFollGet) {
  const PinCell cell = Cell("fuse", "file", "shared", "6.1.0-57-amd64");
  ExpectRule(cell, "fuse-foll-get", "granted", "FOLL_GET/none", "refused EFAULT");
  EXPECT_EQ(
      JudgeCell(*shipped_, cell, "granted", "FOLL_PIN").text,
      "UNEXPECTED: granted with FOLL_PIN, rule fuse-foll-get (5.0..6.9) says granted with FOLL_GET/none");
  EXPECT_EQ(DecidedBy(WithKernel(cell, "5.0")), "fuse-foll-get");
  EXPECT_EQ(DecidedBy(WithKernel(cell, "6.8.12")), "fuse-foll-get");
  EXPECT_EQ(DecidedBy(WithKernel(cell, "6.9")), "fuse-foll-pin");
}

TEST_F(KernelRulesTest, FuseFollPin) {
  for (const char* kernel : {"6.12.118+deb13-amd64", "6.18.44"})
    ExpectRule(Cell("fuse", "file", "shared", kernel), "fuse-foll-pin", "granted", "FOLL_PIN",
               "refused EFAULT");
  EXPECT_FALSE(*JudgeCell(*shipped_, Cell("fuse", "file", "shared", "6.12.0"), "granted", "FOLL_GET/none")
                    .as_expected);
}

TEST_F(KernelRulesTest, OdirectGranted) {
  // Where its source file sits is not known: the outcome alone is judged.
  const PinCell cell = Cell("odirect", "file", "shared", "6.12.118");
  ExpectRule(cell, "odirect-granted", "granted", "FOLL_GET/none", "refused EINVAL");
  EXPECT_TRUE(*JudgeCell(*shipped_, cell, "granted", "FOLL_PIN").as_expected);
  PinCell tmpfs = cell;
  tmpfs.io_fs = "tmpfs";
  EXPECT_EQ(DecidedBy(tmpfs), "odirect-granted");
  EXPECT_EQ(DecidedBy(WithKernel(cell, "4.19")), "(none)");
}

TEST_F(KernelRulesTest, OdirectBlockFollGet) {
  PinCell cell = Cell("odirect", "file", "shared", "6.1.0");
  cell.io_fs = "block";
  ExpectRule(cell, "odirect-block-foll-get", "granted", "FOLL_GET/none", "refused EINVAL");
  EXPECT_FALSE(*JudgeCell(*shipped_, cell, "granted", "FOLL_PIN").as_expected);
  EXPECT_EQ(DecidedBy(WithKernel(cell, "6.4.999")), "odirect-block-foll-get");
  EXPECT_EQ(DecidedBy(WithKernel(cell, "6.5")), "odirect-block-foll-pin");
}

TEST_F(KernelRulesTest, OdirectBlockFollPin) {
  PinCell cell = Cell("odirect", "file", "shared", "6.18.44");
  cell.io_fs = "block";
  ExpectRule(cell, "odirect-block-foll-pin", "granted", "FOLL_PIN", "refused EINVAL");
  EXPECT_FALSE(*JudgeCell(*shipped_, cell, "granted", "FOLL_GET/none").as_expected);
  EXPECT_EQ(DecidedBy(WithKernel(cell, "6.5")), "odirect-block-foll-pin");
}

TEST_F(KernelRulesTest, ProcessVmFollPin) {
  const PinCell cell = Cell("process-vm", "file", "shared", "6.18.44");
  ExpectRule(cell, "process-vm-foll-pin", "granted", "FOLL_PIN", "refused EFAULT");
  EXPECT_FALSE(*JudgeCell(*shipped_, cell, "granted", "FOLL_GET/none").as_expected);
  EXPECT_EQ(DecidedBy(WithKernel(cell, "5.6")), "process-vm-foll-pin");
  EXPECT_EQ(DecidedBy(WithKernel(cell, "5.5.19")), "(none)");
}

// ---- NVIDIA cudaHostRegister ----

PinCell CudaCell(const char* driver, const std::string& backing, const std::string& mapping,
                 const char* kernel, const std::string& access = "rw") {
  PinCell c = Cell("cuda", backing, mapping, kernel, access);
  c.driver_version = driver;
  return c;
}

TEST_F(KernelRulesTest, CudaGetUserPages) {
  const PinCell cell = CudaCell("515.65.01", "file", "shared", "6.12.118");
  ExpectRule(cell, "cuda-get-user-pages", "granted", "FOLL_GET/none", "refused EFAULT");
  EXPECT_FALSE(*JudgeCell(*shipped_, cell, "granted", "FOLL_PIN").as_expected);
  EXPECT_EQ(DecidedBy(CudaCell("524.99", "shmem", "memfd", "6.1.0")), "cuda-get-user-pages");
  EXPECT_EQ(DecidedBy(CudaCell("525", "shmem", "memfd", "6.1.0")), "cuda-pin");
  // Without the driver's version nothing can be said.
  EXPECT_EQ(DecidedBy(CudaCell("", "shmem", "memfd", "6.1.0")), "(none)");
}

TEST_F(KernelRulesTest, CudaPin) {
  // Not long-term: even a writable shared file mapping is granted on 6.5+.
  ExpectRule(CudaCell("535.104.05", "file", "shared", "6.12.118"), "cuda-pin", "granted", "FOLL_PIN",
             "refused EFAULT");
  EXPECT_EQ(DecidedBy(CudaCell("550.54.14", "shmem", "memfd", "6.1.0")), "cuda-pin");
  EXPECT_EQ(DecidedBy(CudaCell("550.67", "shmem", "memfd", "6.1.0")), "cuda-longterm");
}

TEST_F(KernelRulesTest, CudaLongterm) {
  ExpectRule(CudaCell("550.67", "shmem", "memfd", "6.12.118"), "cuda-longterm", "granted", "FOLL_PIN",
             "refused EFAULT");
  // Before 6.5 a writable shared file mapping is granted to a long-term pin too; a read-only one always is.
  ExpectRule(CudaCell("570.86.10", "file", "shared", "6.1.0"), "cuda-longterm", "granted", "FOLL_PIN",
             "refused EFAULT");
  ExpectRule(CudaCell("570.86.10", "file", "shared", "6.18.44", "ro"), "cuda-longterm", "granted", "FOLL_PIN",
             "refused EFAULT");
}

TEST_F(KernelRulesTest, CudaLongtermFileEfault) {
  const PinCell cell = CudaCell("560.35.03", "file", "shared", "6.12.118");
  ExpectRule(cell, "cuda-longterm-file-efault", "refused EFAULT", "", "granted");
  EXPECT_EQ(DecidedBy(CudaCell("550.67", "file", "shared", "6.5")), "cuda-longterm-file-efault");
  EXPECT_EQ(DecidedBy(CudaCell("550.67", "file", "shared", "6.4.999")), "cuda-longterm");
  EXPECT_EQ(DecidedBy(CudaCell("550.67", "file", "private", "6.12.118")), "cuda-longterm");
}

// ---- Reclaim ----

PinCell ReclaimCell(const std::string& pinner, const char* kernel) {
  PinCell c = Cell(pinner, "file", "shared", kernel);
  c.aspect = "reclaim";
  return c;
}

TEST_F(KernelRulesTest, ReclaimKeepsFollPin) {
  ExpectRule(ReclaimCell("io_uring", "6.12.118"), "reclaim-keeps-foll-pin", "kept", "", "stripped");
  ExpectRule(ReclaimCell("rdma", "6.1.28"), "reclaim-keeps-foll-pin", "kept", "", "stripped");
  // The mainline fix and its stable copies, each boundary.
  EXPECT_EQ(DecidedBy(ReclaimCell("rdma", "6.1.27")), "reclaim-strips-foll-pin-before-fix");
  EXPECT_EQ(DecidedBy(ReclaimCell("rdma", "6.1.158")), "reclaim-keeps-foll-pin");
  EXPECT_EQ(DecidedBy(ReclaimCell("rdma", "6.2")), "reclaim-strips-foll-pin-before-fix");
  EXPECT_EQ(DecidedBy(ReclaimCell("rdma", "6.2.15")), "reclaim-keeps-foll-pin");
  EXPECT_EQ(DecidedBy(ReclaimCell("rdma", "6.3.1")), "reclaim-strips-foll-pin-before-fix");
  EXPECT_EQ(DecidedBy(ReclaimCell("rdma", "6.3.2")), "reclaim-keeps-foll-pin");
  EXPECT_EQ(DecidedBy(ReclaimCell("rdma", "6.4")), "reclaim-keeps-foll-pin");
  EXPECT_EQ(DecidedBy(ReclaimCell("rdma", "6.15.11")), "reclaim-keeps-foll-pin");
  EXPECT_EQ(DecidedBy(ReclaimCell("rdma", "6.16")), "reclaim-pageout-split-strips-foll-pin");
  // The pin aspect's rules never decide a reclaim cell, nor the other way round.
  EXPECT_EQ(DecidedBy(Cell("rdma", "file", "shared", "6.4")), "rdma-file-write-granted");
}

TEST_F(KernelRulesTest, ReclaimStripsFollPinBeforeFix) {
  const PinCell cell = ReclaimCell("process-vm", "6.1.27");
  ExpectRule(cell, "reclaim-strips-foll-pin-before-fix", "stripped", "", "granted");
  EXPECT_TRUE(*JudgeCell(*shipped_, cell, "kept", "").as_expected);
  EXPECT_EQ(DecidedBy(ReclaimCell("process-vm", "5.6")), "reclaim-strips-foll-pin-before-fix");
  EXPECT_EQ(DecidedBy(ReclaimCell("process-vm", "5.5")), "(none)");
}

TEST_F(KernelRulesTest, ReclaimStripsFollGet) {
  const PinCell cell = ReclaimCell("vmsplice", "6.18.44");
  ExpectRule(cell, "reclaim-strips-foll-get", "stripped", "", "refused EFAULT");
  EXPECT_TRUE(*JudgeCell(*shipped_, cell, "kept", "").as_expected);
  EXPECT_EQ(DecidedBy(ReclaimCell("vmsplice", "5.0")), "reclaim-strips-foll-get");
}

TEST_F(KernelRulesTest, ReclaimFuseFollGet) {
  ExpectRule(ReclaimCell("fuse", "6.1.158"), "reclaim-fuse-foll-get", "stripped", "", "granted");
  EXPECT_EQ(DecidedBy(ReclaimCell("fuse", "6.8.12")), "reclaim-fuse-foll-get");
  EXPECT_EQ(DecidedBy(ReclaimCell("fuse", "6.9")), "reclaim-fuse-foll-pin");
}

TEST_F(KernelRulesTest, ReclaimFuseFollPin) {
  ExpectRule(ReclaimCell("fuse", "6.12.118"), "reclaim-fuse-foll-pin", "kept", "", "stripped");
  EXPECT_EQ(DecidedBy(ReclaimCell("fuse", "6.9")), "reclaim-fuse-foll-pin");
  EXPECT_EQ(DecidedBy(ReclaimCell("fuse", "6.15.11")), "reclaim-fuse-foll-pin");
}

// The host finding (docs/kernels.md): from 6.16 MADV_PAGEOUT's split of a large ext4 folio may strip a
// FOLL_PIN-pinned page's buffers, so neither outcome is a surprise there.
TEST_F(KernelRulesTest, ReclaimPageoutSplitStripsFollPin) {
  for (const char* pinner : {"fuse", "io_uring", "rdma", "process-vm"}) {
    const PinCell cell = ReclaimCell(pinner, "6.18.44");
    EXPECT_EQ(DecidedBy(cell), "reclaim-pageout-split-strips-foll-pin") << pinner;
    EXPECT_EQ(JudgeCell(*shipped_, cell, "stripped", "").as_expected, std::optional<bool>(true)) << pinner;
    EXPECT_EQ(JudgeCell(*shipped_, cell, "kept", "").as_expected, std::optional<bool>(true)) << pinner;
  }
  EXPECT_EQ(DecidedBy(ReclaimCell("fuse", "6.16")), "reclaim-pageout-split-strips-foll-pin");
  EXPECT_EQ(DecidedBy(ReclaimCell("vmsplice", "6.18.44")), "reclaim-strips-foll-get")
      << "FOLL_GET: its own rule";
}

// A rule added to the file without a test above fails here.
TEST_F(KernelRulesTest, EveryShippedRuleHasATest) {
  const std::set<std::string> tested = {"io_uring-file-eopnotsupp",
                                        "io_uring-file-shared-efault",
                                        "io_uring-file-private-granted",
                                        "io_uring-shmem-eopnotsupp",
                                        "io_uring-shmem-granted",
                                        "io_uring-memory-granted",
                                        "rdma-file-write-granted",
                                        "rdma-file-write-efault",
                                        "rdma-private-write-granted",
                                        "rdma-readonly-granted",
                                        "rdma-memory-granted",
                                        "rdma-odp-no-pin",
                                        "vmsplice-foll-get",
                                        "fuse-foll-get",
                                        "fuse-foll-pin",
                                        "odirect-granted",
                                        "odirect-block-foll-get",
                                        "odirect-block-foll-pin",
                                        "process-vm-foll-pin",
                                        "cuda-get-user-pages",
                                        "cuda-pin",
                                        "cuda-longterm",
                                        "cuda-longterm-file-efault",
                                        "reclaim-keeps-foll-pin",
                                        "reclaim-strips-foll-pin-before-fix",
                                        "reclaim-strips-foll-get",
                                        "reclaim-fuse-foll-get",
                                        "reclaim-fuse-foll-pin",
                                        "reclaim-pageout-split-strips-foll-pin"};
  std::set<std::string> shipped;
  for (const auto& r : shipped_->rules) {
    shipped.insert(r.id);
    EXPECT_FALSE(r.source.empty()) << r.id;
    EXPECT_GT(r.line, 0) << r.id;
  }
  EXPECT_EQ(shipped, tested);
}

TEST_F(KernelRulesTest, NoRuleApplies) {
  for (const PinCell& cell :
       {Cell("io_uring", "file", "shared", "4.19.0"), Cell("none", "file", "shared", "6.18"),
        CudaCell("", "file", "shared", "6.12.118")}) {
    RuleJudgement j = JudgeCell(*shipped_, cell, "granted", "FOLL_PIN");
    EXPECT_EQ(j.rule, nullptr);
    EXPECT_FALSE(j.as_expected.has_value());
    EXPECT_EQ(j.text, "no rule: outcome recorded, not judged");
  }
}

TEST_F(KernelRulesTest, UnmeasuredReferenceJudgesTheOutcomeAlone) {
  const PinCell cell = Cell("fuse", "file", "shared", "6.18.44");
  for (const char* measured : {"", "unmeasured", "unclear"})
    EXPECT_TRUE(*JudgeCell(*shipped_, cell, "granted", measured).as_expected) << measured;
  EXPECT_TRUE(*JudgeCell(*shipped_, cell, "granted", "FOLL_PIN, long-term").as_expected);
  const RuleJudgement j = JudgeCell(*shipped_, cell, "granted", "FOLL_PIN");
  EXPECT_EQ(j.expected, "granted with FOLL_PIN");
}

// ---- Versions ----

TEST(KernelVersionTest, ParsesReleaseStrings) {
  EXPECT_EQ(ParseKernelRelease("6.1.0-57-amd64"), (KernelVersion{6, 1, 0}));
  EXPECT_EQ(ParseKernelRelease("6.18.44"), (KernelVersion{6, 18, 44}));
  EXPECT_EQ(ParseKernelRelease("6.12.118+deb13-amd64"), (KernelVersion{6, 12, 118}));
  EXPECT_EQ(ParseKernelRelease("5.15.0-91-generic"), (KernelVersion{5, 15, 0}));
  EXPECT_EQ(ParseKernelRelease("6.5"), (KernelVersion{6, 5, 0}));
  EXPECT_EQ(ParseKernelRelease("6.10-rc3"), (KernelVersion{6, 10, 0}));
  EXPECT_LT(*ParseKernelRelease("6.9"), *ParseKernelRelease("6.10"));
}

TEST(KernelVersionTest, RefusesGarbage) {
  for (const char* garbage :
       {"", "abc", "6", "6.", ".1", "-6.1", "linux-6.1", "v6.1", "6.x", "99999999999.1"})
    EXPECT_FALSE(ParseKernelRelease(garbage)) << garbage;
}

TEST(KernelVersionTest, ProcVersionGivesDebiansUpstreamVersion) {
  EXPECT_EQ(ParseProcVersion("Linux version 6.1.0-57-amd64 (debian-kernel@lists.debian.org) (gcc-12 (Debian "
                             "12.2.0-14+deb12u1) 12.2.0, GNU ld (GNU Binutils for Debian) 2.40) #1 SMP "
                             "PREEMPT_DYNAMIC Debian 6.1.158-1 (2025-11-09)"),
            (KernelVersion{6, 1, 158}));
  EXPECT_EQ(ParseProcVersion("Linux version 6.18.44 (root@host) (gcc (GCC) 14.2.0) #1 SMP"),
            (KernelVersion{6, 18, 44}));
  EXPECT_FALSE(ParseProcVersion("nonsense"));
}

TEST(KernelVersionTest, ToStringDropsAZeroPatch) {
  EXPECT_EQ(ToString(KernelVersion{6, 5, 0}), "6.5");
  EXPECT_EQ(ToString(KernelVersion{6, 1, 28}), "6.1.28");
  EXPECT_EQ(ToString(VersionRange{{5, 1, 0}, KernelVersion{6, 5, 0}}), "5.1..6.5");
  EXPECT_EQ(ToString(VersionRange{{6, 5, 0}, std::nullopt}), "6.5..");
}

// ---- The file's checks ----

class KernelRulesFileTest : public ::testing::Test {
 protected:
  // Writes `text` as a rules file and loads it; the error, or "" when it loaded.
  std::string Load(const std::string& text, KernelRules* out = nullptr) {
    path_ = dir_.File("rules.toml");
    std::ofstream(path_) << text;
    std::string error;
    auto rules = LoadKernelRules(path_, &error);
    if (rules && out) *out = *rules;
    return rules ? "" : error;
  }
  std::string At(int line) const { return path_ + ":" + std::to_string(line) + ": "; }

  test::TempDir dir_{"longpin-rules"};
  std::string path_;
};

constexpr const char* kOneRule = R"(schema = 1
[[rule]]
id = "a"
summary = "s"
source = "x"
pinners = ["io_uring"]
since = "6.5"
outcome = "refused EFAULT"
)";

TEST_F(KernelRulesFileTest, LoadsAMinimalFile) {
  KernelRules rules;
  ASSERT_EQ(Load(kOneRule, &rules), "");
  ASSERT_EQ(rules.rules.size(), 1u);
  EXPECT_EQ(rules.path, path_);
  EXPECT_EQ(rules.rules[0].line, 2);
  EXPECT_EQ(rules.rules[0].since, (KernelVersion{6, 5, 0}));
  EXPECT_FALSE(rules.rules[0].until);
}

TEST_F(KernelRulesFileTest, SyntaxErrorNamesFileAndLine) {
  const std::string error = Load("schema = 1\n[[rule]]\nid = \"a\"\nsummary = \"unterminated\n");
  EXPECT_EQ(error.rfind(At(4), 0), 0u) << error;
}

TEST_F(KernelRulesFileTest, UnknownKeyNamesItsLine) {
  std::string text = kOneRule;
  text.insert(text.find("outcome"), "outcom = \"granted\"\n");
  const std::string error = Load(text);
  EXPECT_EQ(error.rfind(At(8) + "rule a: unknown key 'outcom'", 0), 0u) << error;
  EXPECT_EQ(Load("scheme = 1\n").rfind(At(1) + "unknown key 'scheme'", 0), 0u);
}

TEST_F(KernelRulesFileTest, MissingFieldNamesTheRule) {
  std::string text = kOneRule;
  text.erase(text.find("source"), std::string("source = \"x\"\n").size());
  std::string error = Load(text);
  EXPECT_EQ(error, At(2) + "rule a: missing key 'source'");
  text = kOneRule;
  text.erase(text.find("since"), std::string("since = \"6.5\"\n").size());
  error = Load(text);
  EXPECT_EQ(error, At(2) + "rule a: missing key 'since'");
}

TEST_F(KernelRulesFileTest, BadValuesNameTheirLine) {
  auto with = [](const std::string& from, const std::string& to) {
    std::string text = kOneRule;
    text.replace(text.find(from), from.size(), to);
    return text;
  };
  EXPECT_EQ(Load(with("since = \"6.5\"", "since = \"6.5-rc1\"")).rfind(At(7) + "rule a: since: '6.5-rc1'", 0),
            0u);
  EXPECT_EQ(Load(with("since = \"6.5\"", "since = \"6.5\"\nuntil = \"6.5\""))
                .rfind(At(7) + "rule a: since/until: empty", 0),
            0u);
  EXPECT_EQ(Load(with("io_uring", "io-uring")).rfind(At(6) + "rule a: pinners: unknown pinner 'io-uring'", 0),
            0u);
  EXPECT_EQ(Load(with("refused EFAULT", "refused")).rfind(At(8) + "rule a: outcome: 'refused'", 0), 0u);
  EXPECT_EQ(Load(with("refused EFAULT\"", "refused EFAULT\"\nreference = \"FOLL_PIN\""))
                .rfind(At(9) + "rule a: reference: only a granted pin", 0),
            0u);
  EXPECT_EQ(
      Load(std::string(kOneRule) + "[[rule]]\nid = \"a\"\nsummary = \"s\"\nsource = \"x\"\nsince = \"5.0\"\n"
                                   "outcome = \"granted\"\n")
          .rfind(At(9) + "rule a: a second rule with this id", 0),
      0u);
}

TEST_F(KernelRulesFileTest, EquallySpecificRulesThatDisagreeAreAnError) {
  const std::string text = std::string(kOneRule) + R"([[rule]]
id = "b"
summary = "s"
source = "x"
backings = ["file"]
since = "6.1"
until = "6.6"
outcome = "granted"
)";
  const std::string error = Load(text);
  EXPECT_EQ(
      error.rfind(At(9) + "rule b and rule a (line 2) are equally specific and both match pinner=io_uring "
                          "backing=file kernel=6.5 with different outcomes (granted vs refused EFAULT)",
                  0),
      0u)
      << error;
}

TEST_F(KernelRulesFileTest, AMoreSpecificRuleSettlesADisagreement) {
  const std::string text = std::string(kOneRule) + R"([[rule]]
id = "b"
summary = "s"
source = "x"
backings = ["file"]
since = "6.1"
until = "6.6"
outcome = "granted"

[[rule]]
id = "c"
summary = "the cells a and b share"
source = "x"
pinners = ["io_uring"]
backings = ["file"]
since = "6.5"
until = "6.6"
outcome = "refused EFAULT"
)";
  KernelRules rules;
  ASSERT_EQ(Load(text, &rules), "");
  PinCell cell = Cell("io_uring", "file", "shared", "6.5.3");
  EXPECT_EQ(DecidingRule(rules, cell)->id, "c");
  cell.kernel = V("6.7");
  EXPECT_EQ(DecidingRule(rules, cell)->id, "a");
  cell.pinner = "rdma";
  cell.kernel = V("6.5");
  EXPECT_EQ(DecidingRule(rules, cell)->id, "b");
}

TEST_F(KernelRulesFileTest, KernelRangesWithBackports) {
  KernelRules rules;
  ASSERT_EQ(Load(R"(schema = 1
[[rule]]
id = "fix"
summary = "s"
source = "x"
kernels = [{ since = "6.3.2" }, { since = "6.1.28", until = "6.2" }]
outcome = "granted"
)",
                 &rules),
            "");
  const KernelRule& r = rules.rules.at(0);
  EXPECT_EQ(r.KernelsText(), "6.1.28..6.2, 6.3.2..");
  EXPECT_EQ(r.since, (KernelVersion{6, 1, 28}));
  EXPECT_FALSE(r.until);
  EXPECT_TRUE(r.Matches(Cell("vmsplice", "file", "shared", "6.1.28")));
  EXPECT_FALSE(r.Matches(Cell("vmsplice", "file", "shared", "6.2.1")));
  EXPECT_TRUE(r.Matches(Cell("vmsplice", "file", "shared", "6.10")));
}

TEST_F(KernelRulesFileTest, FindHonoursTheEnvironment) {
  const char* saved = std::getenv("LONGPIN_RULES");
  const std::string restore = saved ? saved : "";
  ::setenv("LONGPIN_RULES", "/nonexistent/rules.toml", 1);
  EXPECT_EQ(FindKernelRulesFile(), std::optional<std::string>("/nonexistent/rules.toml"));
  std::string error;
  EXPECT_FALSE(LoadKernelRules("/nonexistent/rules.toml", &error));
  EXPECT_EQ(error.rfind("/nonexistent/rules.toml: ", 0), 0u) << error;
  if (restore.empty()) ::unsetenv("LONGPIN_RULES");
  else ::setenv("LONGPIN_RULES", restore.c_str(), 1);
}

}  // namespace
}  // namespace longpin
