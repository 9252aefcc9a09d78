#include "pinners/odirect_pinner.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>

namespace longpin {
namespace {

// The source is written with O_DIRECT too (from this aligned bounce buffer), so the read never finds the
// source in the page cache: both halves are real device IO. 1 MiB chunks bound the buffer.
constexpr size_t kBounceBytes = 1 << 20;

class OdirectPinner final : public Pinner {
 public:
  OdirectPinner(const PinTarget& t, int source_fd, std::byte* bounce)
      : target_(t), source_fd_(source_fd), bounce_(bounce) {}
  ~OdirectPinner() override {
    ::munmap(bounce_, kBounceBytes);
    ::close(source_fd_);
  }
  bool can_write() const override { return true; }

  // Nothing is held between IOs: each DmaWrite pins its destination for the duration of the read.
  Result<PinGrant> Pin(const PinWindow& w) override { return PinGrant{w.length}; }
  Status Unpin(const PinWindow&) override { return {}; }

  Status DmaWrite(const PinWindow&, uint64_t offset, const std::byte* src, size_t len) override {
    if (offset % 512 != 0 || len % 512 != 0)
      return Status(EINVAL, "odirect DmaWrite needs 512-byte aligned offset and length, got offset " +
                                std::to_string(offset) + " length " + std::to_string(len));
    size_t done = 0;
    while (done < len) {
      const size_t chunk = std::min(kBounceBytes, len - done);
      std::memcpy(bounce_, src + done, chunk);
      if (Status s = Full(::pwrite, source_fd_, bounce_, chunk, "O_DIRECT pwrite odirect source file");
          !s.ok())
        return s;
      if (Status s = Full(::pread, source_fd_, target_.base + offset + done, chunk,
                          "O_DIRECT pread into mapping offset " + std::to_string(offset + done));
          !s.ok())
        return s;
      done += chunk;
    }
    return {};
  }

 private:
  template <typename Io, typename Buf>
  Status Full(Io io, int fd, Buf* buf, size_t len, const std::string& what) {
    size_t done = 0;
    while (done < len) {
      ssize_t n = io(fd, buf + done, len - done, off_t(done));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return Status::FromErrno(what);
      if (n == 0) return Status(EIO, what + ": short transfer at " + std::to_string(done));
      done += size_t(n);
    }
    return {};
  }

  PinTarget target_;
  int source_fd_;
  std::byte* bounce_;
};

}  // namespace

Result<std::unique_ptr<Pinner>> CreateOdirectPinner(const PinTarget& target, const PinnerOptions& options) {
  if (options.access == PinAccess::kReadOnly)
    return Status(ENOTSUP, "odirect pins by reading into the mapping: --pin-access ro is not possible");
  auto hold_s = PinnerDurationOption(options, "odirect", "hold");
  if (!hold_s.ok()) return hold_s.status();
  if (*hold_s > 0)
    return Status(ENOTSUP,
                  "odirect reads from a real disk and cannot hold its pin for --pin-hold; "
                  "use --pinner fuse for long holds");
  const std::string dir = options.scratch_dir.empty() ? "/var/tmp" : options.scratch_dir;
  int fd = ::open(dir.c_str(), O_TMPFILE | O_RDWR | O_DIRECT | O_CLOEXEC, 0600);
  if (fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR)) {
    std::string path = dir + "/longpin-odirect-XXXXXX";
    fd = ::mkostemp(path.data(), O_DIRECT | O_CLOEXEC);
    if (fd >= 0) ::unlink(path.c_str());
  }
  if (fd < 0) {
    const int err = errno;
    // tmpfs and some others refuse O_DIRECT with EINVAL: say where, so the user can point the scratch dir
    // elsewhere.
    return Status(err == EINVAL ? ENOTSUP : err,
                  "open O_DIRECT source file in " + dir + " (" + std::string(ErrnoName(err)) +
                      "): the scratch directory must be on a filesystem with O_DIRECT");
  }
  void* b = ::mmap(nullptr, kBounceBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (b == MAP_FAILED) {
    Status s = Status::FromErrno("mmap odirect bounce buffer");
    ::close(fd);
    return s;
  }
  return std::unique_ptr<Pinner>(new OdirectPinner(target, fd, static_cast<std::byte*>(b)));
}

}  // namespace longpin
