#include "pinners/io_uring_pinner.h"

#include <fcntl.h>
#include <liburing.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <vector>

namespace longpin {
namespace {

// One sparse buffer table per pinner, one slot per held window: Pin fills a slot and Unpin empties it with
// io_uring_register_buffers_update_tag, so a rotation touches only its own window. (Plain
// io_uring_register_buffers would have to unregister and re-register every held window on each rotation,
// and a ring per window costs a ring's memory and fd per window.) 4096 = the CLI's --pin-windows maximum.
constexpr unsigned kSlots = 4096;

class IoUringPinner final : public Pinner {
 public:
  IoUringPinner(const PinTarget& t, io_uring ring, int source_fd)
      : target_(t), ring_(ring), source_fd_(source_fd) {
    free_slots_.reserve(kSlots);
    for (unsigned i = kSlots; i > 0; --i) free_slots_.push_back(i - 1);
  }
  ~IoUringPinner() override {
    // Unregistering waits until the kernel has released the table's pins. Exiting the ring alone would too,
    // but later: the ring is torn down by a kernel worker, and an emptied slot's pages stay pinned until then
    // (seen on Debian 6.1 under emulation: the run's pin balance read 1024 pages held for over a second).
    (void)io_uring_unregister_buffers(&ring_);  // fails only when nothing is registered: nothing to wait for
    io_uring_queue_exit(&ring_);
    ::close(source_fd_);
  }
  bool can_write() const override { return true; }

  Result<PinGrant> Pin(const PinWindow& w) override {
    if (free_slots_.empty())
      return Status(ENOSPC, "io_uring buffer table full (" + std::to_string(kSlots) + ")");
    const unsigned slot = free_slots_.back();
    iovec iov{target_.base + w.offset, size_t(w.length)};
    __u64 tag = 0;
    int r = io_uring_register_buffers_update_tag(&ring_, slot, &iov, &tag, 1);
    if (r < 0) {
      return Status(-r, "io_uring_register_buffers_update_tag of mapping offset " + std::to_string(w.offset) +
                            " length " + std::to_string(w.length));
    }
    free_slots_.pop_back();
    slots_.push_back({w.epoch, slot});
    return PinGrant{w.length};
  }

  Status Unpin(const PinWindow& w) override {
    for (size_t i = 0; i < slots_.size(); ++i) {
      if (slots_[i].epoch != w.epoch) continue;
      const unsigned slot = slots_[i].slot;
      iovec empty{nullptr, 0};
      __u64 tag = 0;
      int r = io_uring_register_buffers_update_tag(&ring_, slot, &empty, &tag, 1);
      if (r < 0) return Status(-r, "io_uring unregister buffer slot " + std::to_string(slot));
      slots_[i] = slots_.back();
      slots_.pop_back();
      free_slots_.push_back(slot);
      return {};
    }
    return {};
  }

  Status DmaWrite(const PinWindow& w, uint64_t offset, const std::byte* src, size_t len) override {
    unsigned slot = kSlots;
    for (const auto& s : slots_)
      if (s.epoch == w.epoch) slot = s.slot;
    if (slot == kSlots)
      return Status(EINVAL, "io_uring DmaWrite: window epoch " + std::to_string(w.epoch) + " not pinned");
    // The block goes to the source file first; READ_FIXED then copies it from there into the pinned pages,
    // in the kernel, through the registered buffer: nothing touches the target's page tables.
    size_t done = 0;
    while (done < len) {
      ssize_t n = ::pwrite(source_fd_, src + done, len - done, off_t(done));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return Status::FromErrno("pwrite io_uring source file");
      done += size_t(n);
    }
    done = 0;
    while (done < len) {
      io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
      if (!sqe) return Status(EBUSY, "io_uring: no free submission entry");
      io_uring_prep_read_fixed(sqe, source_fd_, target_.base + offset + done, unsigned(len - done), done,
                               int(slot));
      int r = io_uring_submit_and_wait(&ring_, 1);
      if (r < 0) return Status(-r, "io_uring_submit_and_wait READ_FIXED");
      io_uring_cqe* cqe = nullptr;
      r = io_uring_wait_cqe(&ring_, &cqe);
      if (r < 0) return Status(-r, "io_uring_wait_cqe READ_FIXED");
      const int res = cqe->res;
      io_uring_cqe_seen(&ring_, cqe);
      if (res < 0) return Status(-res, "READ_FIXED into mapping offset " + std::to_string(offset + done));
      if (res == 0)
        return Status(EIO,
                      "READ_FIXED into mapping offset " + std::to_string(offset + done) + ": short read");
      done += size_t(res);
    }
    return {};
  }

 private:
  struct Held {
    uint32_t epoch;
    unsigned slot;
  };
  PinTarget target_;
  io_uring ring_;
  int source_fd_;
  std::vector<unsigned> free_slots_;
  std::vector<Held> slots_;  // few (--pin-windows): a linear search beats a map here
};

}  // namespace

std::optional<std::string> IoUringPinnerUnavailable() {
  std::ifstream f("/proc/sys/kernel/io_uring_disabled");
  int disabled = 0;
  if (f >> disabled) {
    if (disabled == 2) return std::string("io_uring disabled (/proc/sys/kernel/io_uring_disabled = 2)");
    if (disabled == 1 && ::geteuid() != 0)
      return std::string(
          "io_uring limited to root and io_uring_group (/proc/sys/kernel/io_uring_disabled = 1)");
  }
  io_uring ring;
  if (int r = io_uring_queue_init(1, &ring, 0); r < 0)
    return std::string("io_uring_queue_init: ") + std::string(ErrnoName(-r));
  io_uring_queue_exit(&ring);
  return std::nullopt;
}

Result<std::unique_ptr<Pinner>> CreateIoUringPinner(const PinTarget& target, const PinnerOptions& options) {
  if (options.access == PinAccess::kReadOnly) {
    // io_uring_register_buffers always pins with FOLL_WRITE: there is no read-only fixed buffer, and
    // pretending would report a writable pin's outcome as a read-only one.
    return Status(ENOTSUP, "io_uring fixed buffers are always writable: --pin-access ro is not possible");
  }
  std::string dir = options.scratch_dir.empty() ? "/var/tmp" : options.scratch_dir;
  int fd = ::open(dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (fd < 0) return Status::FromErrno("create io_uring source file (O_TMPFILE) in " + dir);
  io_uring ring;
  if (int r = io_uring_queue_init(8, &ring, 0); r < 0) {
    ::close(fd);
    return Status(-r, "io_uring_queue_init");
  }
  if (int r = io_uring_register_buffers_sparse(&ring, kSlots); r < 0) {
    io_uring_queue_exit(&ring);
    ::close(fd);
    return Status(-r, "io_uring_register_buffers_sparse " + std::to_string(kSlots));
  }
  return std::unique_ptr<Pinner>(new IoUringPinner(target, ring, fd));
}

}  // namespace longpin
