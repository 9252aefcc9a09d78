// Pinners without hardware (io_uring, odirect, process-vm, fuse) on this kernel: the exact outcome of each
// pin on a shared ext4 mapping and on memfd, the pin counters, and DMA writes that must be visible through
// the mapping and, after fsync, on disk. Direct tests run in a forked child in its own mount namespace
// (nothing it mounts can outlive it); end-to-end tests run the longpin binary.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "core/pin_counters.h"
#include "core/scratch_fs.h"
#include "pinners/pinner.h"

namespace longpin {
namespace {

constexpr size_t kPage = 4096;
constexpr size_t kTargetBytes = 8 << 20;

std::optional<std::string> NeedRoot() {
  if (::geteuid() != 0) return std::string("needs root (loop devices, mounts, stat_refresh)");
  if (auto why = FsUnavailableReason(FsType::kExt4)) return "ext4: " + *why;
  return std::nullopt;
}

// Runs body in a forked child in a private mount namespace and returns what it returned: "" = pass,
// "SKIP: reason" = cannot run, anything else = the failure. A child that dies is a failure.
std::string InChild(const std::function<std::string()>& body) {
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) return "pipe2 failed";
  std::fflush(nullptr);
  pid_t pid = ::fork();
  if (pid < 0) return "fork failed";
  if (pid == 0) {
    ::close(p[0]);
    std::string msg;
    if (Status s = EnterPrivateMountNamespace(); !s.ok()) msg = "SKIP: " + s.message();
    else msg = body();
    if (msg.empty()) msg = "ok";
    (void)!::write(p[1], msg.data(), msg.size());
    std::fflush(nullptr);
    ::_exit(0);
  }
  ::close(p[1]);
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(p[0], buf, sizeof buf)) > 0) out.append(buf, size_t(n));
  ::close(p[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (!WIFEXITED(status)) return "test child died (status " + std::to_string(status) + ")";
  return out == "ok" ? "" : out.empty() ? "test child wrote nothing" : out;
}

#define EXPECT_CHILD_OK(...)                                          \
  do {                                                                \
    std::string msg_ = InChild(__VA_ARGS__);                          \
    if (msg_.rfind("SKIP: ", 0) == 0) GTEST_SKIP() << msg_.substr(6); \
    EXPECT_EQ(msg_, "");                                              \
  } while (0)

// A scratch ext4 with one preallocated target file mapped MAP_SHARED, and a helper directory for the
// pinners on /var/tmp (not the filesystem under test). Everything goes away with the object.
struct Ext4Target {
  std::string dir, helpers;
  std::unique_ptr<ScratchFs> fs;
  int fd = -1;
  std::byte* map = nullptr;
  std::string error;

  Ext4Target() {
    char tmpl[] = "/var/tmp/longpin-pinner-test-XXXXXX";
    if (!::mkdtemp(tmpl)) {
      error = "mkdtemp";
      return;
    }
    dir = tmpl;
    helpers = dir + "/helpers";
    ::mkdir(helpers.c_str(), 0700);
    auto f = ScratchFs::Create(dir, FsType::kExt4, 256 << 20, "");
    if (!f.ok()) {
      error = f.status().message();
      return;
    }
    fs = std::move(*f);
    std::string path = fs->mount_point() + "/target";
    fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0 || ::posix_fallocate(fd, 0, kTargetBytes) != 0) {
      error = "create target " + path;
      return;
    }
    void* m = ::mmap(nullptr, kTargetBytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (m == MAP_FAILED) {
      error = "mmap target";
      return;
    }
    map = static_cast<std::byte*>(m);
  }
  ~Ext4Target() {
    if (map) ::munmap(map, kTargetBytes);
    if (fd >= 0) ::close(fd);
    // A scratch filesystem left mounted would hold a loop device past the test: that is the test's failure.
    if (fs) {
      Status removed = fs->Remove();
      EXPECT_TRUE(removed.ok()) << removed.message();
    }
    std::error_code ec;
    if (!dir.empty()) std::filesystem::remove_all(dir, ec);
  }
  PinTarget target() const {
    return PinTarget{map, kTargetBytes, fd, fs->mount_point() + "/target", kPage, kPage};
  }
};

std::vector<std::byte> Pattern(size_t len, uint8_t seed) {
  std::vector<std::byte> v(len);
  for (size_t i = 0; i < len; ++i) v[i] = std::byte(uint8_t(seed + i * 7 + (i >> 12)));
  return v;
}

// What reached the disk: fsync, then an O_DIRECT read of the file (no page cache in the way).
std::string OnDiskEquals(const std::string& path, int fd, uint64_t offset,
                         const std::vector<std::byte>& want) {
  if (::fsync(fd) != 0) return "fsync target failed";
  int dfd = ::open(path.c_str(), O_RDONLY | O_DIRECT | O_CLOEXEC);
  if (dfd < 0) return "open O_DIRECT target failed";
  void* buf = nullptr;
  if (::posix_memalign(&buf, 4096, want.size()) != 0) return "posix_memalign";
  ssize_t n = ::pread(dfd, buf, want.size(), off_t(offset));
  ::close(dfd);
  bool same = n == ssize_t(want.size()) && std::memcmp(buf, want.data(), want.size()) == 0;
  std::free(buf);
  return same ? "" : "bytes written through the pin are not on disk after fsync";
}

struct CounterDelta {
  int64_t acquired = 0, released = 0;
};
CounterDelta Delta(const PinCounterSnapshot& a, const PinCounterSnapshot& b) {
  return {int64_t(b.acquired - a.acquired), int64_t(b.released - a.released)};
}

// Other processes on the machine pin too: an attempt counts when the deltas are exactly what this pinner
// explains (within a small slack); a few attempts absorb the noise.
constexpr int kAttempts = 6;
constexpr int64_t kSlack = 8;

std::string Fmt(const char* what, int64_t got, int64_t want) {
  return std::string(what) + ": got " + std::to_string(got) + ", want " + std::to_string(want);
}

// DMA writes into a shared ext4 mapping: each pinner that writes must land the bytes in the mapping (pin
// coherence) and, after fsync, on disk; the kernel's FOLL_PIN accounting must move by the pages written
// (expect_pins_per_page per page written) and return to balance.
std::string DmaIntoExt4(const std::string& pinner, double hold_s, int64_t expect_pins_per_page) {
  Ext4Target t;
  if (!t.error.empty()) return "SKIP: scratch ext4: " + t.error;
  const PinnerInfo* info = FindPinner(pinner);
  if (!info) return "no pinner " + pinner;
  if (auto why = info->unavailable()) return "SKIP: " + *why;
  PinnerOptions opts;
  opts.scratch_dir = t.helpers;
  opts.Set("hold", std::to_string(hold_s), /*from_shared_flag=*/true);  // as --pin-hold gives it
  auto created = info->create(t.target(), opts);
  if (!created.ok()) return "create " + pinner + ": " + created.status().message();
  Pinner& p = **created;
  if (!p.can_write()) return pinner + " cannot write";
  const size_t len = 16 * kPage;
  std::string last;
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    PinWindow w{1 << 20, 1 << 20, uint32_t(attempt + 1)};
    auto g = p.Pin(w);
    if (!g.ok()) return "Pin: " + g.status().message();
    if (g->bytes != w.length) return Fmt("granted bytes", int64_t(g->bytes), int64_t(w.length));
    const uint64_t offset = w.offset + 4 * kPage;
    auto src = Pattern(len, uint8_t(0x40 + attempt));
    // Fault the destination in first, so the counters see the pin and not a page-cache fill.
    std::memset(t.map + offset, 0, len);
    auto before = ReadPinCounters();
    auto t0 = std::chrono::steady_clock::now();
    if (Status s = p.DmaWrite(w, offset, src.data(), len); !s.ok()) return "DmaWrite: " + s.message();
    double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (Status s = p.Unpin(w); !s.ok()) return "Unpin: " + s.message();
    auto after = ReadPinCounters();
    if (std::memcmp(t.map + offset, src.data(), len) != 0) return "DMA bytes not visible through the mapping";
    if (std::string e = OnDiskEquals(t.target().path, t.fd, offset, src); !e.empty()) return e;
    if (took < hold_s) return "DmaWrite returned before the hold: " + std::to_string(took) + " s";
    if (!before.refreshed) return "SKIP: counters not refreshed (stat_refresh needs root)";
    CounterDelta d = Delta(before, after);
    const int64_t want = int64_t(len / kPage) * expect_pins_per_page;
    std::printf("[ measure  ] %s: %zu pages written: nr_foll_pin_acquired +%lld released +%lld, %.3f s\n",
                pinner.c_str(), len / kPage, (long long)d.acquired, (long long)d.released, took);
    if (d.acquired >= want && d.acquired <= want + kSlack && d.acquired == d.released) return "";
    last = Fmt("nr_foll_pin_acquired delta", d.acquired, want) + ", released " + std::to_string(d.released);
  }
  return last + " (after " + std::to_string(kAttempts) + " attempts)";
}

TEST(PinnerNoHw, OdirectDmaLandsInSharedExt4Mapping) {
  if (auto why = NeedRoot()) GTEST_SKIP() << *why;
  // Two pins per page: the O_DIRECT write of the source pins the bounce buffer, the O_DIRECT read the target.
  EXPECT_CHILD_OK([] { return DmaIntoExt4("odirect", 0, 2); });
}

TEST(PinnerNoHw, ProcessVmDmaLandsInSharedExt4Mapping) {
  if (auto why = NeedRoot()) GTEST_SKIP() << *why;
  EXPECT_CHILD_OK([] { return DmaIntoExt4("process-vm", 0, 1); });
}

TEST(PinnerNoHw, FuseDmaLandsInSharedExt4MappingAfterHold) {
  if (auto why = NeedRoot()) GTEST_SKIP() << *why;
  EXPECT_CHILD_OK([] { return DmaIntoExt4("fuse", 0.2, 1); });
}

// io_uring on a shared ext4 mapping: the 6.5+ rule refuses the long-term pin with EFAULT, and whatever GUP
// pinned on the way is released again.
TEST(PinnerNoHw, IoUringRefusedOnSharedExt4WithEfault) {
  if (auto why = NeedRoot()) GTEST_SKIP() << *why;
  EXPECT_CHILD_OK([]() -> std::string {
    Ext4Target t;
    if (!t.error.empty()) return "SKIP: scratch ext4: " + t.error;
    const PinnerInfo* info = FindPinner("io_uring");
    if (auto why = info->unavailable()) return "SKIP: " + *why;
    PinnerOptions opts;
    opts.scratch_dir = t.helpers;
    auto created = info->create(t.target(), opts);
    if (!created.ok()) return "create: " + created.status().message();
    std::memset(t.map, 1, 64 * kPage);
    std::string last;
    for (int attempt = 0; attempt < kAttempts; ++attempt) {
      auto before = ReadPinCounters();
      auto g = (*created)->Pin(PinWindow{0, 64 * kPage, uint32_t(attempt + 1)});
      auto after = ReadPinCounters();
      if (g.ok()) return std::string("io_uring pin of a shared ext4 mapping was granted");
      if (g.status().err() != EFAULT)
        return "refused with " + std::string(ErrnoName(g.status().err())) + ", want EFAULT";
      CounterDelta d = Delta(before, after);
      std::printf("[ measure  ] io_uring on shared ext4: EFAULT, acquired +%lld released +%lld\n",
                  (long long)d.acquired, (long long)d.released);
      if (d.acquired == d.released) return std::string();
      last = Fmt("released after refusal", d.released, d.acquired);
    }
    return last;
  });
}

// io_uring on memfd: granted; the counters move by exactly the window's pages on register and come back
// on unregister; READ_FIXED writes through the pin and the bytes show in the mapping (and in the memfd).
TEST(PinnerNoHw, IoUringGrantedOnMemfdAndBalanced) {
  if (auto why = NeedRoot()) GTEST_SKIP() << *why;
  EXPECT_CHILD_OK([]() -> std::string {
    const PinnerInfo* info = FindPinner("io_uring");
    if (auto why = info->unavailable()) return "SKIP: " + *why;
    int fd = ::memfd_create("longpin-test", MFD_CLOEXEC);
    if (fd < 0 || ::ftruncate(fd, kTargetBytes) != 0) return "memfd";
    auto* map =
        static_cast<std::byte*>(::mmap(nullptr, kTargetBytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0));
    if (map == MAP_FAILED) return "mmap memfd";
    std::memset(map, 0, kTargetBytes);
    char dir[] = "/var/tmp/longpin-pinner-test-XXXXXX";
    if (!::mkdtemp(dir)) return "mkdtemp";
    PinnerOptions opts;
    opts.scratch_dir = dir;
    std::string result = "not run";
    {
      auto created = info->create(PinTarget{map, kTargetBytes, fd, "memfd", kPage, kPage}, opts);
      if (!created.ok()) return "create: " + created.status().message();
      Pinner& p = **created;
      const uint64_t pages = 256;
      for (int attempt = 0; attempt < kAttempts; ++attempt) {
        PinWindow w{uint64_t(attempt) * pages * kPage, pages * kPage, uint32_t(attempt + 1)};
        auto before = ReadPinCounters();
        auto g = p.Pin(w);
        if (!g.ok()) {
          result = "io_uring pin of memfd refused: " + g.status().message();
          break;
        }
        auto held = ReadPinCounters();
        auto src = Pattern(8 * kPage, uint8_t(attempt));
        Status s = p.DmaWrite(w, w.offset + 2 * kPage, src.data(), src.size());
        if (!s.ok()) {
          result = "READ_FIXED: " + s.message();
          break;
        }
        if (std::memcmp(map + w.offset + 2 * kPage, src.data(), src.size()) != 0) {
          result = "READ_FIXED bytes not visible through the memfd mapping";
          break;
        }
        if (Status u = p.Unpin(w); !u.ok()) {
          result = "Unpin: " + u.message();
          break;
        }
        auto after = ReadPinCounters();
        CounterDelta pin = Delta(before, held), all = Delta(before, after);
        std::printf(
            "[ measure  ] io_uring on memfd: %llu pages: register acquired +%lld; after unregister acquired "
            "+%lld released +%lld\n",
            (unsigned long long)pages, (long long)pin.acquired, (long long)all.acquired,
            (long long)all.released);
        if (pin.acquired >= int64_t(pages) && pin.acquired <= int64_t(pages) + kSlack &&
            all.released == all.acquired) {
          result.clear();
          break;
        }
        result = Fmt("pinned pages", pin.acquired, int64_t(pages)) + "; released " +
                 std::to_string(all.released) + " of " + std::to_string(all.acquired);
      }
    }
    ::munmap(map, kTargetBytes);
    ::close(fd);
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
    return result;
  });
}

// ---- End to end: the longpin binary with each pinner on a scratch ext4, DMA writers on. ----

struct RunOutcome {
  int exit_code = -1;
  nlohmann::json report;
  std::string output;
};

RunOutcome RunLongpin(const std::string& args) {
  char json_path[] = "/tmp/longpin-pinner-test-XXXXXX";
  int jfd = ::mkstemp(json_path);
  if (jfd >= 0) ::close(jfd);
  std::string cmd = std::string(LONGPIN_BINARY) + " run " + args + " --json " + json_path + " 2>&1";
  RunOutcome o;
  if (FILE* f = ::popen(cmd.c_str(), "r")) {
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) o.output.append(buf, n);
    int st = ::pclose(f);
    o.exit_code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  }
  std::ifstream in(json_path);
  if (in) o.report = nlohmann::json::parse(in, nullptr, false);
  ::unlink(json_path);
  return o;
}

const nlohmann::json* PinnedPhase(const nlohmann::json& r) {
  if (!r.contains("phases")) return nullptr;
  for (const auto& p : r["phases"])
    if (p.value("name", "") == "pinned") return &p;
  return nullptr;
}

class PinnerRun : public ::testing::TestWithParam<std::string> {};

// Each writing pinner, with DMA writes into a shared ext4 mapping: the run verifies, DMA writes happened,
// nothing was refused, zero kernel-contract violations, and the pin counters came back to balance.
TEST_P(PinnerRun, DmaWritesVerifyOnExt4) {
  if (auto why = NeedRoot()) GTEST_SKIP() << *why;
  const std::string pinner = GetParam();
  if (auto why = FindPinner(pinner)->unavailable()) GTEST_SKIP() << pinner << ": " << *why;
  std::string extra = pinner == "fuse" ? " --pin-hold 20ms" : "";
  RunOutcome o = RunLongpin("--fs ext4 --size 16M --pinner " + pinner +
                            " --writers cpu:1,dma:1 --duration 1s --phases pinned --pin-window 256K" + extra);
  ASSERT_FALSE(o.report.is_discarded()) << o.output;
  ASSERT_TRUE(o.report.contains("verdict")) << o.output;
  EXPECT_EQ(o.report["verdict"], "pass") << o.output;
  const nlohmann::json* ph = PinnedPhase(o.report);
  ASSERT_NE(ph, nullptr) << o.output;
  EXPECT_GT((*ph)["writes"]["dma"].get<uint64_t>(), 0u) << o.output;
  // Per-IO pinners hold pages only while a DMA is in flight: what they held is counted per IO, measured.
  EXPECT_TRUE((*ph)["pins"]["per_io"].get<bool>()) << pinner;
  EXPECT_EQ((*ph)["pins"]["granted_pages"].get<uint64_t>(), 0u) << "nothing is held between IOs";
  EXPECT_GT((*ph)["pins"]["io_pages"].get<uint64_t>(), 0u);
  EXPECT_EQ((*ph)["pins"]["ios"].get<uint64_t>(), (*ph)["writes"]["dma"].get<uint64_t>());
  EXPECT_EQ((*ph)["pins"]["measured_reference"], "FOLL_PIN") << (*ph)["pins"].dump();
  EXPECT_TRUE((*ph)["pins"]["refused"].empty()) << (*ph)["pins"]["refused"].dump();
  EXPECT_TRUE((*ph)["write_errors"].empty()) << (*ph)["write_errors"].dump();
  EXPECT_EQ(o.report["verification"]["kernel_contract"]["violations"].get<uint64_t>(), 0u);
  EXPECT_GT((*ph)["pins"]["foll_pin_acquired"].get<int64_t>(), 0) << "FOLL_PIN pins expected";
}

INSTANTIATE_TEST_SUITE_P(NoHw, PinnerRun, ::testing::Values("odirect", "process-vm", "fuse"),
                         [](const auto& param_info) {
                           std::string n = param_info.param;
                           for (char& c : n)
                             if (c == '-') c = '_';
                           return n;
                         });

// io_uring on a shared ext4 mapping through the whole run: every window refused with EFAULT, recorded as an
// outcome, the rest of the workload carries on and verifies.
TEST(PinnerNoHwRun, IoUringRefusalIsAnOutcomeOnExt4) {
  if (auto why = NeedRoot()) GTEST_SKIP() << *why;
  if (auto why = FindPinner("io_uring")->unavailable()) GTEST_SKIP() << *why;
  RunOutcome o = RunLongpin(
      "--fs ext4 --size 16M --pinner io_uring --writers cpu:1,dma:1 --duration 1s "
      "--phases pinned --pin-window 256K");
  ASSERT_FALSE(o.report.is_discarded()) << o.output;
  EXPECT_EQ(o.report["verdict"], "pass") << o.output;
  const nlohmann::json* ph = PinnedPhase(o.report);
  ASSERT_NE(ph, nullptr) << o.output;
  EXPECT_EQ((*ph)["pins"]["granted_pages"].get<uint64_t>(), 0u);
  ASSERT_FALSE((*ph)["pins"]["refused"].empty());
  EXPECT_EQ((*ph)["pins"]["refused"][0]["errno"], "EFAULT");
  EXPECT_EQ((*ph)["writes"]["dma"].get<uint64_t>(), 0u);
  EXPECT_GT((*ph)["writes"]["cpu"].get<uint64_t>(), 0u);
  EXPECT_EQ(o.report["verification"]["kernel_contract"]["violations"].get<uint64_t>(), 0u);
}

// io_uring on memfd through the whole run: every window granted, READ_FIXED DMA writes verified in the
// backing memfd, and the FOLL_PIN counters moved and came back to balance.
TEST(PinnerNoHwRun, IoUringGrantedAndWritesOnMemfd) {
  if (auto why = NeedRoot()) GTEST_SKIP() << *why;
  if (auto why = FindPinner("io_uring")->unavailable()) GTEST_SKIP() << *why;
  RunOutcome o = RunLongpin(
      "--mapping memfd --size 16M --pinner io_uring --writers cpu:1,dma:1 "
      "--duration 1s --phases pinned --pin-window 256K");
  ASSERT_FALSE(o.report.is_discarded()) << o.output;
  EXPECT_EQ(o.report["verdict"], "pass") << o.output;
  const nlohmann::json* ph = PinnedPhase(o.report);
  ASSERT_NE(ph, nullptr) << o.output;
  EXPECT_GT((*ph)["pins"]["granted_pages"].get<uint64_t>(), 0u) << o.output;
  EXPECT_TRUE((*ph)["pins"]["refused"].empty()) << (*ph)["pins"]["refused"].dump();
  EXPECT_GT((*ph)["writes"]["dma"].get<uint64_t>(), 0u) << o.output;
  EXPECT_TRUE((*ph)["write_errors"].empty()) << (*ph)["write_errors"].dump();
  EXPECT_GE((*ph)["pins"]["foll_pin_acquired"].get<int64_t>(), (*ph)["pins"]["granted_pages"].get<int64_t>());
  EXPECT_EQ(o.report["verification"]["kernel_contract"]["violations"].get<uint64_t>(), 0u);
}

}  // namespace
}  // namespace longpin
