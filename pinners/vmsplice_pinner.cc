#include "pinners/vmsplice_pinner.h"

#include <fcntl.h>
#include <sys/uio.h>
#include <unistd.h>

#include <map>

namespace longpin {
namespace {

class VmsplicePinner final : public Pinner {
 public:
  explicit VmsplicePinner(const PinTarget& t) : target_(t) {}
  ~VmsplicePinner() override {
    for (auto& [epoch, p] : pipes_) {
      ::close(p.first);
      ::close(p.second);
    }
  }

  Result<PinGrant> Pin(const PinWindow& w) override {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) return Status::FromErrno("pipe2 for vmsplice");
    // As root the pipe may exceed /proc/sys/fs/pipe-max-size; otherwise the window is held only in part.
    if (::fcntl(fds[1], F_SETPIPE_SZ, int(w.length)) < 0) {
      int cap = 1 << 20;
      while (cap >= 65536 && ::fcntl(fds[1], F_SETPIPE_SZ, cap) < 0) cap >>= 1;
    }
    uint64_t done = 0;
    while (done < w.length) {
      iovec iov{target_.base + w.offset + done, size_t(w.length - done)};
      ssize_t n = ::vmsplice(fds[1], &iov, 1, SPLICE_F_NONBLOCK);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        if (done > 0 && (n == 0 || errno == EAGAIN)) break;  // the pipe is full: a partial hold
        Status s = Status::FromErrno("vmsplice of mapping offset " + std::to_string(w.offset + done));
        ::close(fds[0]);
        ::close(fds[1]);
        return s;
      }
      done += uint64_t(n);
    }
    pipes_[w.epoch] = {fds[0], fds[1]};
    return PinGrant{done};
  }

  Status Unpin(const PinWindow& w) override {
    auto it = pipes_.find(w.epoch);
    if (it == pipes_.end()) return {};
    // Closing both ends frees the pipe buffers and with them the page references.
    ::close(it->second.first);
    ::close(it->second.second);
    pipes_.erase(it);
    return {};
  }

 private:
  PinTarget target_;
  std::map<uint32_t, std::pair<int, int>> pipes_;
};

}  // namespace

Result<std::unique_ptr<Pinner>> CreateVmsplicePinner(const PinTarget& target, const PinnerOptions&) {
  return std::unique_ptr<Pinner>(new VmsplicePinner(target));
}

}  // namespace longpin
