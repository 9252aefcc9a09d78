// The pin kind cudaHostRegister takes on this machine, measured rather than assumed: nr_foll_pin_acquired /
// released around one registration of a memfd window (stat_refresh first, as root), and whether a writable
// registration of a shared mapping of a file on a filesystem with writeback is refused (the kernel's 6.5 rule
// for FOLL_LONGTERM). GPU only; bench/gpu-check.sh runs it and keeps what it prints. LONGPIN_CUDA_PROBE_DIR
// names the directory of the shared file (default /var/tmp); LONGPIN_GPU_CHECK_OUT, when set, is a directory
// that receives pin-kind.txt.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/utsname.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <optional>
#include <string>

#include "core/pin_counters.h"
#include "pinners/cuda_pinner.h"
#include "pinners/pinner.h"

namespace longpin {
namespace {

constexpr size_t kLen = 4 << 20;  // 1024 pages: above any per-cpu batch even without stat_refresh

std::optional<std::string> NeedCuda() {
  const PinnerInfo* p = FindPinner("cuda");
  return p->unavailable();
}

struct SharedMapping {
  int fd = -1;
  std::byte* base = nullptr;
  std::string path;
  std::string error;
  SharedMapping(int file_fd, std::string p) : fd(file_fd), path(std::move(p)) {
    if (fd < 0 || ::ftruncate(fd, off_t(kLen)) != 0) {
      error = path + ": " + std::strerror(errno);
      return;
    }
    void* m = ::mmap(nullptr, kLen, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (m == MAP_FAILED) {
      error = "mmap " + path + ": " + std::strerror(errno);
      return;
    }
    base = static_cast<std::byte*>(m);
    std::memset(base, 0x5a, kLen);  // populated: the registration measures pinning, not faults
  }
  ~SharedMapping() {
    if (base) ::munmap(base, kLen);
    if (fd >= 0) ::close(fd);
  }
};

struct Registration {
  bool granted = false;
  std::string message;  // the Status text on refusal
  int err = 0;
  PinCounterSnapshot before, held, after;
};

Registration RegisterOnce(const SharedMapping& m, PinnerOptions opts) {
  Registration r;
  auto created = FindPinner("cuda")->create(PinTarget{m.base, kLen, m.fd, m.path, 4096, 4096}, opts);
  if (!created.ok()) {
    r.message = "pinner: " + created.status().message();
    r.err = created.status().err();
    return r;
  }
  PinWindow w{0, kLen, 1};
  r.before = ReadPinCounters();
  auto g = (*created)->Pin(w);
  r.held = ReadPinCounters();
  if (!g.ok()) {
    r.message = g.status().message();
    r.err = g.status().err();
    r.after = r.held;
    return r;
  }
  r.granted = g->bytes == kLen;
  (void)(*created)->Unpin(w);
  r.after = ReadPinCounters();
  return r;
}

std::string FsName(int fd) {
  struct statfs sf {};
  if (::fstatfs(fd, &sf) != 0) return "unknown";
  switch (static_cast<unsigned long>(sf.f_type)) {
    case 0x01021994: return "tmpfs";
    case 0x958458f6: return "hugetlbfs";
    case 0xef53: return "ext4";
    case 0x58465342: return "xfs";
    case 0x9123683e: return "btrfs";
    case 0x794c7630: return "overlayfs";
    default: {
      char hex[32];
      std::snprintf(hex, sizeof hex, "0x%lx", static_cast<unsigned long>(sf.f_type));
      return hex;
    }
  }
}

TEST(CudaPinKind, MeasuredOnMemfdAndASharedFile) {
  if (auto why = NeedCuda()) GTEST_SKIP() << *why;
  utsname u{};
  ::uname(&u);
  const int kernel = ParseKernelVersion(u.release);

  SharedMapping memfd(::memfd_create("longpin-cuda-pin-kind", MFD_CLOEXEC), "memfd:longpin-cuda-pin-kind");
  ASSERT_TRUE(memfd.error.empty()) << memfd.error;
  const Registration mr = RegisterOnce(memfd, {});
  ASSERT_TRUE(mr.granted) << "memfd registration must be granted on every kernel: " << mr.message;

  const char* dir_env = std::getenv("LONGPIN_CUDA_PROBE_DIR");
  const std::string dir = dir_env && *dir_env ? dir_env : "/var/tmp";
  std::string tmpl = dir + "/longpin-cuda-pin-kind-XXXXXX";
  const int ffd = ::mkostemp(tmpl.data(), O_CLOEXEC);
  ASSERT_GE(ffd, 0) << tmpl << ": " << std::strerror(errno);
  ::unlink(tmpl.c_str());
  SharedMapping file(ffd, tmpl);
  ASSERT_TRUE(file.error.empty()) << file.error;
  const std::string fs = FsName(ffd);
  const bool writeback = fs != "tmpfs" && fs != "hugetlbfs";
  const Registration fr = RegisterOnce(file, {});
  PinnerOptions ro;
  ro.Set("flags", "readonly");
  const Registration fro = RegisterOnce(file, ro);

  CudaPinProbe p;
  p.pages = kLen / 4096;
  p.counters_available = mr.before.available;
  p.refreshed = mr.before.refreshed && mr.after.refreshed;
  p.acquired = int64_t(mr.held.acquired - mr.before.acquired);
  p.released = int64_t(mr.after.released - mr.held.released);
  p.file_tried = writeback;
  p.file_refused = !fr.granted;
  p.kernel_version = kernel;
  const std::string kind = ClassifyCudaPinKind(p);

  std::string report;
  report += "kernel: " + std::string(u.release) + "\n";
  report += "pin kind: " + kind + "\n";
  report += "memfd " + std::to_string(kLen >> 20) + " MiB: granted; nr_foll_pin_acquired +" +
            std::to_string(p.acquired) + " at register, released +" + std::to_string(p.released) +
            " at unregister" + (p.refreshed ? "" : " (no stat_refresh: not root)") + "\n";
  report += "shared " + fs + " file in " + dir + " (writable): " +
            (fr.granted ? std::string("granted")
                        : "refused " + std::string(ErrnoName(fr.err)) + ": " + fr.message) +
            "\n";
  report += "shared " + fs + " file in " + dir + " (--cuda-flags readonly): " +
            (fro.granted ? std::string("granted")
                         : "refused " + std::string(ErrnoName(fro.err)) + ": " + fro.message) +
            "\n";
  std::cout << report;
  RecordProperty("cuda_pin_kind", kind);
  if (const char* out = std::getenv("LONGPIN_GPU_CHECK_OUT"); out && *out)
    std::ofstream(std::string(out) + "/pin-kind.txt") << report;

  // The kernel's rule, where it can be checked: before 6.5 nothing refuses; a refusal on 6.5+ of a file with
  // writeback is the rule's, so it is recorded with EFAULT and the rule named.
  if (writeback && kernel > 0 && kernel < 605) {
    EXPECT_TRUE(fr.granted) << "kernel " << u.release << " has no 6.5 rule, yet: " << fr.message;
  }
  if (!fr.granted && writeback && kernel >= 605) {
    EXPECT_EQ(fr.err, EFAULT) << fr.message;
    EXPECT_NE(fr.message.find("since 6.5"), std::string::npos) << fr.message;
  }
  // A read-only registration is allowed by the kernel; the driver or GPU may still refuse the flag
  // (cudaDevAttrHostRegisterReadOnlySupported): recorded above, not asserted.
  if (p.refreshed && mr.after.available) {
    EXPECT_EQ(mr.after.acquired - mr.before.acquired, mr.after.released - mr.before.released)
        << "pins leaked over a register/unregister of memfd (or another process pinned meanwhile)";
  }
}

}  // namespace
}  // namespace longpin
