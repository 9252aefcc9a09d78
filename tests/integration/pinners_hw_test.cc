// The RDMA and CUDA pinners on real devices (Soft-RoCE under vm/run --rdma, a GPU where one is lent): pin,
// write by DMA, check, and the outcome the running kernel should give. Without a device: `longpin run`
// exits 77 with one line naming the reason, and the device tests skip with it.
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "core/block_stamp.h"
#include "core/pin_counters.h"
#include "pinners/cuda_pinner.h"
#include "pinners/pinner.h"
#include "pinners/rdma_pinner.h"

namespace longpin {
namespace {

struct Outcome {
  int exit_code = -1;
  std::string out;
  std::string err;
};

std::string Slurp(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

class HwPinnerRun : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/longpin-hw-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    if (!dir_.empty()) std::system(("rm -rf '" + dir_ + "'").c_str());
  }

  // Runs the longpin binary with args; stdout and stderr captured whole.
  Outcome Run(const std::string& args) {
    const std::string cmd =
        std::string(LONGPIN_BINARY) + " " + args + " >'" + dir_ + "/out' 2>'" + dir_ + "/err'";
    const int st = std::system(cmd.c_str());
    Outcome o;
    o.exit_code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    o.out = Slurp(dir_ + "/out");
    o.err = Slurp(dir_ + "/err");
    return o;
  }

  void ExpectOneLineSkip(const std::string& pinner, const std::string& reason) {
    Outcome o = Run("run --pinner " + pinner + " --fs dir:" + dir_ +
                    " --size 8M --duration 200ms --phases pinned --workdir " + dir_ + "/work");
    EXPECT_EQ(o.exit_code, 77) << o.out << o.err;
    ASSERT_FALSE(o.err.empty());
    EXPECT_EQ(o.err.back(), '\n');
    EXPECT_EQ(std::count(o.err.begin(), o.err.end(), '\n'), 1) << "stderr must be one line:\n" << o.err;
    EXPECT_NE(o.err.find(reason), std::string::npos) << "stderr: " << o.err << "expected reason: " << reason;
  }

  std::string dir_;
};

// Kernel release as major*100+minor: 601 for 6.1, 618 for 6.18.
int KernelVersion() {
  utsname u{};
  ::uname(&u);
  int major = 0, minor = 0;
  std::sscanf(u.release, "%d.%d", &major, &minor);
  return major * 100 + minor;
}

// Since 6.5 the kernel refuses writable FOLL_LONGTERM pins of shared file mappings that need dirty tracking.
bool RefusesWritableLongtermFilePins() {
  return KernelVersion() >= 605;
}

TEST_F(HwPinnerRun, RdmaWithoutDeviceExits77WithOneLine) {
  auto why = FindPinner("rdma")->unavailable();
  if (!why) GTEST_SKIP() << "an RDMA device is present: the device tests below run instead";
  ExpectOneLineSkip("rdma", *why);
  EXPECT_TRUE(why->rfind("no RDMA device", 0) == 0 || why->rfind("built without libibverbs", 0) == 0) << *why;
}

TEST_F(HwPinnerRun, CudaWithoutDeviceExits77WithOneLine) {
  auto why = FindPinner("cuda")->unavailable();
  if (!why) GTEST_SKIP() << "a CUDA device is present: the device tests below run instead";
  ExpectOneLineSkip("cuda", *why);
  EXPECT_TRUE(why->rfind("no CUDA device: ", 0) == 0 || why->rfind("built without CUDA", 0) == 0) << *why;
}

TEST_F(HwPinnerRun, RdmaOdpWithoutOdpDeviceExits77WithOneLine) {
  auto why = FindPinner("rdma-odp")->unavailable();
  if (!why) GTEST_SKIP() << "an RDMA device with ODP RC WRITE is present";
  ExpectOneLineSkip("rdma-odp", *why);
}

// ---- with a device ----

// A shared memfd mapping: long-term pins are granted on every kernel (shmem needs no dirty tracking).
struct Memfd {
  int fd = -1;
  std::byte* base = nullptr;
  size_t length = 0;
  explicit Memfd(size_t len) : length(len) {
    fd = ::memfd_create("longpin-hw-test", MFD_CLOEXEC);
    if (fd < 0 || ::ftruncate(fd, off_t(len)) != 0) return;
    void* m = ::mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (m != MAP_FAILED) base = static_cast<std::byte*>(m);
  }
  ~Memfd() {
    if (base) ::munmap(base, length);
    if (fd >= 0) ::close(fd);
  }
};

std::optional<std::string> NeedDevice(const char* pinner) {
  const PinnerInfo* p = FindPinner(pinner);
  return p->unavailable();
}

// Pins a window of a memfd mapping, DMA-writes stamped blocks into it, and checks what the device wrote
// through the mapping (pin coherence) and the kernel's pin accounting.
void PinWriteCheckOnMemfd(const char* pinner_name, PinnerOptions opts) {
  constexpr size_t kLen = 1 << 20, kBlock = 4096;
  Memfd m(kLen);
  ASSERT_NE(m.base, nullptr) << std::strerror(errno);
  PinTarget target{m.base, kLen, m.fd, "memfd:longpin-hw-test", 4096, kBlock};
  auto created = FindPinner(pinner_name)->create(target, opts);
  ASSERT_TRUE(created.ok()) << created.status().message();
  Pinner& pinner = **created;
  ASSERT_TRUE(pinner.can_write());

  const PinCounterSnapshot before = ReadPinCounters();
  PinWindow w{64 << 10, 256 << 10, 1};
  auto g = pinner.Pin(w);
  ASSERT_TRUE(g.ok()) << g.status().message();
  EXPECT_EQ(g->bytes, w.length);
  const PinCounterSnapshot held = ReadPinCounters();
  if (before.available && held.refreshed) {
    EXPECT_GE(held.acquired - before.acquired, w.length / 4096)
        << "a long-term pin must move nr_foll_pin_acquired";
  }

  StampPattern pattern(0x5eed, kBlock);
  std::vector<std::byte> src(kBlock);
  for (uint64_t gen = 1; gen <= 3; ++gen) {
    for (uint64_t b = w.offset / kBlock; b < (w.offset + w.length) / kBlock; b += 13) {
      StampBlock(pattern, StampId{0x5eed, b, gen, WriterKind::kDma, 0, w.epoch}, src.data());
      Status s = pinner.DmaWrite(w, b * kBlock, src.data(), kBlock);
      ASSERT_TRUE(s.ok()) << s.message();
      ASSERT_EQ(std::memcmp(m.base + b * kBlock, src.data(), kBlock), 0) << "block " << b << " gen " << gen;
      BlockVerdict v = ClassifyBlock(pattern, b, m.base + b * kBlock);
      EXPECT_EQ(v.cls, BlockClass::kIntact);
      EXPECT_EQ(v.generation, gen);
      EXPECT_EQ(v.kind, WriterKind::kDma);
    }
  }
  Status u = pinner.Unpin(w);
  EXPECT_TRUE(u.ok()) << u.message();
  const PinCounterSnapshot after = ReadPinCounters();
  if (before.available && after.refreshed) {
    EXPECT_EQ(after.acquired - before.acquired, after.released - before.released) << "pins leaked";
  }
}

TEST(RdmaDevice, PinsAndRdmaWritesIntoAMemfdWindow) {
  if (auto why = NeedDevice("rdma")) GTEST_SKIP() << *why;
  PinWriteCheckOnMemfd("rdma", PinnerOptions{});
}

TEST(RdmaDevice, ReadOnlyMrIsGrantedAndDoesNotWrite) {
  if (auto why = NeedDevice("rdma")) GTEST_SKIP() << *why;
  Memfd m(1 << 20);
  ASSERT_NE(m.base, nullptr);
  PinnerOptions opts;
  opts.access = PinAccess::kReadOnly;
  auto created = FindPinner("rdma")->create(PinTarget{m.base, m.length, m.fd, "memfd", 4096, 4096}, opts);
  ASSERT_TRUE(created.ok()) << created.status().message();
  EXPECT_FALSE((*created)->can_write());
  PinWindow w{0, 1 << 20, 1};
  auto g = (*created)->Pin(w);
  ASSERT_TRUE(g.ok()) << g.status().message();
  EXPECT_EQ(g->bytes, w.length);
  EXPECT_TRUE((*created)->Unpin(w).ok());
}

TEST(RdmaDevice, UnknownDeviceNameIsENODEVListingTheDevices) {
  if (auto why = NeedDevice("rdma")) GTEST_SKIP() << *why;
  Memfd m(1 << 20);
  PinnerOptions opts;
  opts.Set("device", "no-such-rdma-device");
  auto created = FindPinner("rdma")->create(PinTarget{m.base, m.length, m.fd, "memfd", 4096, 4096}, opts);
  ASSERT_FALSE(created.ok());
  EXPECT_EQ(created.status().err(), ENODEV);
  EXPECT_NE(created.status().what().find("found: "), std::string::npos) << created.status().what();
}

TEST(CudaDevice, PinsAndCopiesGpuStampsIntoAMemfdWindow) {
  if (auto why = NeedDevice("cuda")) GTEST_SKIP() << *why;
  PinWriteCheckOnMemfd("cuda", PinnerOptions{});
}

TEST(CudaDevice, KernelStoresThroughTheMappedWindow) {
  if (auto why = NeedDevice("cuda")) GTEST_SKIP() << *why;
  PinnerOptions opts;
  opts.Set("write", "kernel");
  PinWriteCheckOnMemfd("cuda", opts);
}

// The whole run on a shared ext4 mapping: pin, DMA writes, CPU writes, fsyncs, verify; the pin outcome is
// the running kernel's rule.
void CheckRunOnExt4(const Outcome& o, const std::string& json_path, bool expect_granted,
                    const char* expected_refusal) {
  ASSERT_EQ(o.exit_code, 0) << o.out << o.err;
  auto doc = nlohmann::json::parse(Slurp(json_path), nullptr, false);
  ASSERT_FALSE(doc.is_discarded()) << "report " << json_path << " is not JSON";
  EXPECT_EQ(doc["verdict"], "pass");
  const auto& phase = doc["phases"].back();
  const auto& pins = phase["pins"];
  ASSERT_GT(pins["windows"].get<uint64_t>(), 0u);
  if (expect_granted) {
    EXPECT_GT(pins["granted_pages"].get<uint64_t>(), 0u) << pins.dump();
    EXPECT_TRUE(pins["refused"].empty()) << pins.dump();
  } else {
    EXPECT_EQ(pins["granted_pages"].get<uint64_t>(), 0u) << pins.dump();
    ASSERT_FALSE(pins["refused"].empty()) << pins.dump();
    if (expected_refusal) {
      EXPECT_EQ(pins["refused"][0]["errno"], expected_refusal) << pins.dump();
    }
  }
}

TEST_F(HwPinnerRun, RdmaOnSharedExt4MappingFollowsTheKernelRule) {
  if (auto why = NeedDevice("rdma")) GTEST_SKIP() << *why;
  if (::geteuid() != 0) GTEST_SKIP() << "needs root (ext4 scratch image on a loop device)";
  const std::string json = dir_ + "/rw.json";
  Outcome o =
      Run("run --pinner rdma --fs ext4 --size 32M --writers cpu:1,dma:1 --duration 2s --phases pinned "
          "--pin-window 256k --pin-rotate 200ms -q --workdir " +
          dir_ + "/work --json " + json);
  // 6.1: the writable long-term pin of a shared ext4 mapping is granted and the device writes through it;
  // 6.5+: refused with EFAULT.
  const bool granted = !RefusesWritableLongtermFilePins();
  CheckRunOnExt4(o, json, granted, "EFAULT");
  if (granted) {
    auto doc = nlohmann::json::parse(Slurp(json));
    EXPECT_GT(doc["phases"].back()["writes"]["dma"].get<uint64_t>(), 0u) << "no RDMA WRITE completed";
  }
}

TEST_F(HwPinnerRun, RdmaReadOnlyOnSharedExt4MappingIsGrantedEverywhere) {
  if (auto why = NeedDevice("rdma")) GTEST_SKIP() << *why;
  if (::geteuid() != 0) GTEST_SKIP() << "needs root (ext4 scratch image on a loop device)";
  const std::string json = dir_ + "/ro.json";
  Outcome o =
      Run("run --pinner rdma --pin-access ro --fs ext4 --size 32M --writers cpu:1 --duration 1s "
          "--phases pinned --pin-window 256k -q --workdir " +
          dir_ + "/work --json " + json);
  CheckRunOnExt4(o, json, true, nullptr);
}

TEST_F(HwPinnerRun, CudaOnSharedExt4MappingFollowsTheKernelRule) {
  if (auto why = NeedDevice("cuda")) GTEST_SKIP() << *why;
  if (::geteuid() != 0) GTEST_SKIP() << "needs root (ext4 scratch image on a loop device)";
  const std::string json = dir_ + "/cuda.json";
  Outcome o =
      Run("run --pinner cuda --fs ext4 --size 32M --writers cpu:1,dma:1 --duration 2s --phases pinned "
          "--pin-window 256k --pin-rotate 200ms -q --workdir " +
          dir_ + "/work --json " + json);
  // Before 6.5 every driver's registration is granted. From 6.5 it depends on the driver: 550.67+ pins
  // FOLL_LONGTERM and is refused (the CUDA error it maps to is unverified: any errno), older drivers pass.
  if (!RefusesWritableLongtermFilePins()) {
    CheckRunOnExt4(o, json, true, nullptr);
  } else {
    ASSERT_EQ(o.exit_code, 0) << o.out << o.err;
    auto doc = nlohmann::json::parse(Slurp(json));
    const auto& pins = doc["phases"].back()["pins"];
    RecordProperty("cuda_pins_on_ext4", pins.dump());
    EXPECT_TRUE(pins["granted_pages"].get<uint64_t>() == 0 || pins["refused"].empty())
        << "a driver pins all windows the same way: " << pins.dump();
  }
}

}  // namespace
}  // namespace longpin
