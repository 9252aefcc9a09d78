#include "pinners/process_vm_pinner.h"

#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <fstream>

namespace longpin {
namespace {

// Blocks travel through a shared anonymous buffer (mapped before fork), so a request is a few bytes on the
// socket and the child needs no allocation: after fork of a threaded process it may only make syscalls.
constexpr size_t kShareBytes = 2 << 20;

struct Request {
  uint64_t remote_offset;  // in the parent's target mapping
  uint64_t len;            // bytes from the start of the shared buffer
};
struct Reply {
  int64_t result;  // bytes written, or -errno
};

bool ReadAll(int fd, void* p, size_t n) {
  auto* c = static_cast<char*>(p);
  while (n > 0) {
    ssize_t r = ::read(fd, c, n);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    c += r, n -= size_t(r);
  }
  return true;
}
bool WriteAll(int fd, const void* p, size_t n) {
  auto* c = static_cast<const char*>(p);
  while (n > 0) {
    ssize_t r = ::send(fd, c, n, MSG_NOSIGNAL);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    c += r, n -= size_t(r);
  }
  return true;
}

[[noreturn]] void ChildLoop(int sock, pid_t parent, std::byte* base, const std::byte* share) {
  Request q;
  while (ReadAll(sock, &q, sizeof q)) {
    iovec local{const_cast<std::byte*>(share), size_t(q.len)};
    iovec remote{base + q.remote_offset, size_t(q.len)};
    Reply r{0};
    while (uint64_t(r.result) < q.len) {
      local.iov_base = const_cast<std::byte*>(share) + r.result;
      local.iov_len = remote.iov_len = size_t(q.len - uint64_t(r.result));
      remote.iov_base = base + q.remote_offset + r.result;
      ssize_t n = ::process_vm_writev(parent, &local, 1, &remote, 1, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        r.result = n < 0 ? -errno : -EIO;
        break;
      }
      r.result += n;
    }
    if (!WriteAll(sock, &r, sizeof r)) break;
  }
  ::_exit(0);
}

class ProcessVmPinner final : public Pinner {
 public:
  ProcessVmPinner(const PinTarget& t, std::byte* share) : target_(t), share_(share) {}
  ~ProcessVmPinner() override {
    StopChild();
    ::munmap(share_, kShareBytes);
  }
  bool can_write() const override { return true; }

  // The pin lasts one process_vm_writev: Pin starts the helper if needed and remembers nothing else.
  Result<PinGrant> Pin(const PinWindow& w) override {
    if (Status s = EnsureChild(); !s.ok()) return s;
    return PinGrant{w.length};
  }
  Status Unpin(const PinWindow&) override { return {}; }

  Status DmaWrite(const PinWindow&, uint64_t offset, const std::byte* src, size_t len) override {
    if (Status s = EnsureChild(); !s.ok()) return s;
    size_t done = 0;
    while (done < len) {
      const size_t chunk = std::min(kShareBytes, len - done);
      std::memcpy(share_, src + done, chunk);
      Request q{offset + done, chunk};
      Reply r{0};
      if (!WriteAll(sock_, &q, sizeof q) || !ReadAll(sock_, &r, sizeof r)) {
        Status s = Status::FromErrno("process-vm helper " + std::to_string(child_) + " died or hung up");
        StopChild();
        return s;
      }
      if (r.result < 0)
        return Status(int(-r.result),
                      "process_vm_writev into mapping offset " + std::to_string(offset + done));
      if (uint64_t(r.result) != chunk) return Status(EIO, "process_vm_writev: short write");
      done += chunk;
    }
    return {};
  }

  // PR_SET_PDEATHSIG fires when the forking *thread* exits, and the run starts a new pinner thread per
  // phase: a helper found dead here is reaped and replaced, not reported as a failed write.
  Status EnsureChild() {
    if (child_ >= 0) {
      int status = 0;
      pid_t r = ::waitpid(child_, &status, WNOHANG);
      if (r == 0) return {};
      ::close(sock_);
      child_ = -1;
      sock_ = -1;
    }
    return StartChild();
  }

  Status StartChild() {
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
      return Status::FromErrno("socketpair for process-vm helper");
    const pid_t parent = ::getpid();
    const pid_t pid = ::fork();
    if (pid < 0) {
      Status s = Status::FromErrno("fork process-vm helper");
      ::close(sv[0]);
      ::close(sv[1]);
      return s;
    }
    if (pid == 0) {
      ::close(sv[0]);
      // Never outlive the parent; the check after prctl closes the race with a parent that already died.
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) ::_exit(1);
      // The child writes the parent's memory, never its own copy: drop its mapping of the target and every
      // inherited fd, so it can never keep the filesystem under test busy (a crash model's unmount).
      ::munmap(target_.base, target_.length);
      if (sv[1] > 0) ::close_range(0, unsigned(sv[1]) - 1, 0);
      ::close_range(unsigned(sv[1]) + 1, ~0U, 0);
      ChildLoop(sv[1], parent, target_.base, share_);
    }
    ::close(sv[1]);
    child_ = pid;
    sock_ = sv[0];
    return {};
  }

  void StopChild() {
    if (child_ < 0) return;
    ::close(sock_);
    ::kill(child_, SIGKILL);
    while (::waitpid(child_, nullptr, 0) < 0 && errno == EINTR) {
    }
    child_ = -1;
    sock_ = -1;
  }

 private:
  PinTarget target_;
  std::byte* share_;
  pid_t child_ = -1;
  int sock_ = -1;
};

}  // namespace

std::optional<std::string> ProcessVmPinnerUnavailable() {
  // Yama may forbid a child to write its parent (scope 1 without CAP_SYS_PTRACE, 2 non-root, 3 everyone).
  std::ifstream f("/proc/sys/kernel/yama/ptrace_scope");
  int scope = 0;
  if (f >> scope) {
    if (scope >= 3) return std::string("ptrace disabled (/proc/sys/kernel/yama/ptrace_scope = 3)");
    if (scope >= 1 && ::geteuid() != 0)
      return "not root and /proc/sys/kernel/yama/ptrace_scope = " + std::to_string(scope) +
             ": a child may not write its parent";
  }
  return std::nullopt;
}

Result<std::unique_ptr<Pinner>> CreateProcessVmPinner(const PinTarget& target, const PinnerOptions& options) {
  if (options.access == PinAccess::kReadOnly)
    return Status(ENOTSUP, "process-vm pins by writing the mapping: --pin-access ro is not possible");
  void* m = ::mmap(nullptr, kShareBytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED) return Status::FromErrno("mmap process-vm shared buffer");
  return std::unique_ptr<Pinner>(new ProcessVmPinner(target, static_cast<std::byte*>(m)));
}

}  // namespace longpin
