#include "pinners/fuse_pinner.h"

#include "core/units.h"

#if !LONGPIN_HAVE_FUSE

namespace longpin {

std::optional<std::string> FusePinnerUnavailable() {
  return std::string(kFuseCompiledOut);
}
Result<std::unique_ptr<Pinner>> CreateFusePinner(const PinTarget&, const PinnerOptions&) {
  return Status(ENOTSUP, kFuseCompiledOut);
}

}  // namespace longpin

#else

#define FUSE_USE_VERSION 35
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <thread>

namespace longpin {
namespace {

constexpr fuse_ino_t kFileIno = 2;
constexpr const char* kFileName = "dma";

// What the pinner thread hands the daemon thread for one DmaWrite. The file offset is the target offset,
// so a request for [off, off+size) is answered from src + (off - offset). Published with a release store of
// seq, read with an acquire load: no lock on the write path.
struct Queued {
  std::atomic<uint64_t> seq{0};
  uint64_t offset = 0;
  uint64_t len = 0;
  const std::byte* src = nullptr;
};

// A race script holds a read's reply until it says so: the daemon reports that the request arrived (the
// kernel holds the reader's pages from before it sends the request) and waits for the release. Not a hot
// path: one request per race-script attempt.
struct ReplyGate {
  std::mutex mu;
  std::condition_variable cv;
  bool armed = false;     // the next first request of a queued write waits
  bool arrived = false;   // the daemon has the request
  bool released = false;  // longpin lets the reply go
};

struct Daemon {
  Queued queued;
  double hold_s = 0;
  uint64_t file_bytes = 0;
  ReplyGate gate;
};

// Reads a small /proc file into buf, NUL-terminated, with system calls only (the watchdog child of a threaded
// process may make no others). False when it cannot be read: the process is gone.
bool ReadProcFile(const char* path, char* buf, size_t size) {
  const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  const ssize_t n = ::read(fd, buf, size - 1);
  ::close(fd);
  if (n <= 0) return false;
  buf[n] = 0;
  return true;
}

Daemon* DaemonOf(fuse_req_t req) {
  return static_cast<Daemon*>(fuse_req_userdata(req));
}

struct stat AttrOf(fuse_ino_t ino, uint64_t file_bytes) {
  struct stat st {};
  st.st_ino = ino;
  if (ino == FUSE_ROOT_ID) {
    st.st_mode = S_IFDIR | 0755;
    st.st_nlink = 2;
  } else {
    st.st_mode = S_IFREG | 0644;
    st.st_nlink = 1;
    st.st_size = off_t(file_bytes);
  }
  return st;
}

void OnLookup(fuse_req_t req, fuse_ino_t parent, const char* name) {
  if (parent != FUSE_ROOT_ID || std::strcmp(name, kFileName) != 0) {
    fuse_reply_err(req, ENOENT);
    return;
  }
  fuse_entry_param e{};
  e.ino = kFileIno;
  e.attr = AttrOf(kFileIno, DaemonOf(req)->file_bytes);
  e.attr_timeout = e.entry_timeout = 3600;
  fuse_reply_entry(req, &e);
}

void OnGetattr(fuse_req_t req, fuse_ino_t ino, fuse_file_info*) {
  if (ino != FUSE_ROOT_ID && ino != kFileIno) {
    fuse_reply_err(req, ENOENT);
    return;
  }
  struct stat st = AttrOf(ino, DaemonOf(req)->file_bytes);
  fuse_reply_attr(req, &st, 3600);
}

void OnOpen(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  if (ino != kFileIno) {
    fuse_reply_err(req, EISDIR);
    return;
  }
  // direct_io: reads bypass the page cache and go straight into the reader's pages, held for the request.
  fi->direct_io = 1;
  fi->keep_cache = 0;
  fuse_reply_open(req, fi);
}

void OnRead(fuse_req_t req, fuse_ino_t, size_t size, off_t off, fuse_file_info*) {
  Daemon* d = DaemonOf(req);
  d->queued.seq.load(std::memory_order_acquire);
  const uint64_t start = d->queued.offset, end = start + d->queued.len, o = uint64_t(off);
  if (d->queued.src == nullptr || o < start || o >= end) {
    // Only the pinner reads this file, and only what it queued: anything else is a bug worth an error.
    fuse_reply_err(req, EIO);
    return;
  }
  // A block larger than one request (max_pages) arrives as several requests: hold once, on the first.
  if (o == start && d->hold_s > 0)
    std::this_thread::sleep_for(std::chrono::nanoseconds(uint64_t(d->hold_s * 1e9)));
  if (o == start) {
    std::unique_lock<std::mutex> lock(d->gate.mu);
    if (d->gate.armed) {
      d->gate.arrived = true;
      d->gate.cv.notify_all();
      d->gate.cv.wait(lock, [d] { return d->gate.released; });
      d->gate.armed = false;
    }
  }
  fuse_reply_buf(req, reinterpret_cast<const char*>(d->queued.src + (o - start)),
                 std::min<uint64_t>(size, end - o));
}

const fuse_lowlevel_ops kOps = [] {
  fuse_lowlevel_ops ops{};
  ops.lookup = OnLookup;
  ops.getattr = OnGetattr;
  ops.open = OnOpen;
  ops.read = OnRead;
  return ops;
}();

class FusePinner final : public Pinner {
 public:
  FusePinner(const PinTarget& t, double hold_s) : target_(t) {
    daemon_.hold_s = hold_s;
    daemon_.file_bytes = t.length;
  }
  ~FusePinner() override { Stop(); }

  Status Start(const std::string& scratch_dir) {
    mount_point_ = (scratch_dir.empty() ? std::string("/var/tmp") : scratch_dir) + "/longpin-fuse-XXXXXX";
    if (!::mkdtemp(mount_point_.data())) {
      Status s = Status::FromErrno("mkdtemp FUSE mount point " + mount_point_);
      mount_point_.clear();
      return s;
    }
    const char* argv[] = {"longpin-fuse", "-o", "fsname=longpin-dma,subtype=longpin", nullptr};
    fuse_args args = FUSE_ARGS_INIT(3, const_cast<char**>(argv));
    session_ = fuse_session_new(&args, &kOps, sizeof kOps, &daemon_);
    if (!session_) return Status(EIO, "fuse_session_new (libfuse printed the reason on stderr)");
    if (fuse_session_mount(session_, mount_point_.c_str()) != 0) {
      fuse_session_destroy(session_);
      session_ = nullptr;
      return Status(EPERM,
                    "fuse_session_mount on " + mount_point_ + " (libfuse printed the reason on stderr)");
    }
    mounted_ = true;
    loop_ = std::thread([s = session_] { fuse_session_loop(s); });
    StartSupervisor();  // after the loop: its stat of the mount point is answered by the daemon
    const std::string file = mount_point_ + "/" + kFileName;
    fd_ = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) return Status::FromErrno("open FUSE file " + file);
    return {};
  }

  bool can_write() const override { return true; }

  // The hold is per read: each DmaWrite holds its pages for --pin-hold. Pin only remembers the window.
  Result<PinGrant> Pin(const PinWindow& w) override { return PinGrant{w.length}; }
  Status Unpin(const PinWindow&) override { return {}; }

  bool can_hold_dma() const override { return true; }

  // The read runs in a thread of its own and stops in the daemon: the kernel holds the window's pages (the
  // request is sent only after fuse_get_user_pages) until FinishDma releases the reply.
  Status StartDma(const PinWindow& w, uint64_t offset, const std::byte* src, size_t len) override {
    if (inflight_.joinable()) return Status(EBUSY, "fuse: a held DMA write is already in flight");
    {
      std::lock_guard<std::mutex> lock(daemon_.gate.mu);
      daemon_.gate.armed = true;
      daemon_.gate.arrived = false;
      daemon_.gate.released = false;
    }
    inflight_status_ = Status{};
    inflight_done_.store(false);
    inflight_ = std::thread([this, w, offset, src, len] {
      inflight_status_ = DmaWrite(w, offset, src, len);
      inflight_done_.store(true);
      std::lock_guard<std::mutex> lock(daemon_.gate.mu);
      daemon_.gate.cv.notify_all();
    });
    std::unique_lock<std::mutex> lock(daemon_.gate.mu);
    const bool arrived = daemon_.gate.cv.wait_for(
        lock, std::chrono::seconds(10), [this] { return daemon_.gate.arrived || inflight_done_.load(); });
    if (!arrived || !daemon_.gate.arrived) {
      lock.unlock();
      FinishDma().ok();  // the read failed before reaching the daemon: its error is what StartDma reports
      return inflight_status_.ok() ? Status(ETIMEDOUT, "fuse: the read never reached the daemon")
                                   : inflight_status_;
    }
    return {};
  }

  Status FinishDma() override {
    if (!inflight_.joinable()) return Status(EINVAL, "fuse: no held DMA write in flight");
    {
      std::lock_guard<std::mutex> lock(daemon_.gate.mu);
      daemon_.gate.released = true;
      daemon_.gate.cv.notify_all();
    }
    inflight_.join();
    return inflight_status_;
  }

  Status DmaWrite(const PinWindow&, uint64_t offset, const std::byte* src, size_t len) override {
    daemon_.queued.offset = offset;
    daemon_.queued.len = len;
    daemon_.queued.src = src;
    daemon_.queued.seq.fetch_add(1, std::memory_order_release);
    size_t done = 0;
    Status result;
    while (done < len) {
      ssize_t n = ::pread(fd_, target_.base + offset + done, len - done, off_t(offset + done));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        result = Status::FromErrno("pread of FUSE file into mapping offset " + std::to_string(offset + done));
        break;
      }
      if (n == 0) {
        result = Status(EIO, "pread of FUSE file: short read at " + std::to_string(offset + done));
        break;
      }
      done += size_t(n);
    }
    daemon_.queued.src = nullptr;
    daemon_.queued.seq.fetch_add(1, std::memory_order_release);
    return result;
  }

 private:
  // The daemon is a thread of longpin: if longpin is killed (SIGKILL) while the kernel waits on a reply, the
  // reading thread stays in an uninterruptible wait for an answer that never comes, and the process, its loop
  // devices and mounts are never released. A small child process watches longpin and, when it is gone or a
  // zombie, aborts the FUSE connection (fusectl), so the wait ends at once and the process is reaped.
  void StartSupervisor() {
    struct stat st {};
    if (::geteuid() != 0 || ::stat(mount_point_.c_str(), &st) != 0) return;
    const std::string connections = "/sys/fs/fuse/connections";
    const std::string abort_file = connections + "/" + std::to_string(minor(st.st_dev)) + "/abort";
    struct stat probe {};
    if (::stat(abort_file.c_str(), &probe) != 0)  // fusectl not mounted yet (our own mount namespace)
      ::mount("fusectl", connections.c_str(), "fusectl", 0, nullptr);
    const pid_t parent = ::getpid();
    const std::string stat_file = "/proc/" + std::to_string(parent) + "/stat";
    const std::string status_file = "/proc/" + std::to_string(parent) + "/status";
    const pid_t child = ::fork();
    if (child != 0) {
      supervisor_ = child > 0 ? child : -1;
      return;
    }
    // The child of a threaded process: only system calls from here on, on strings built before the fork.
    ::close_range(0, ~0U, 0);  // holds nothing of longpin's open: no loop device, no /dev/fuse, no pipe
    ::signal(SIGINT, SIG_IGN);
    ::signal(SIGTERM, SIG_IGN);
    ::prctl(PR_SET_NAME, "longpin-fuse-wd");
    char stat_buf[512], status_buf[4096];
    for (;;) {
      if (!ReadProcFile(stat_file.c_str(), stat_buf, sizeof stat_buf)) break;
      const char* close_paren = std::strrchr(stat_buf, ')');
      if (!close_paren || close_paren[1] != ' ' || close_paren[2] == 'Z' || close_paren[2] == 'X') break;
      // A SIGKILL pending on longpin: a thread stuck on the daemon keeps it from ever becoming a zombie.
      if (!ReadProcFile(status_file.c_str(), status_buf, sizeof status_buf)) break;
      bool killed = false;
      for (const char* key : {"SigPnd:", "ShdPnd:"})
        if (const char* at = std::strstr(status_buf, key))
          killed |= (std::strtoull(at + 7, nullptr, 16) & (1ull << (SIGKILL - 1))) != 0;
      if (killed) break;
      ::usleep(200 * 1000);
    }
    const int fd = ::open(abort_file.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd >= 0) {
      (void)!::write(fd, "1", 1);
      ::close(fd);
    }
    ::_exit(0);
  }

  void StopSupervisor() {
    if (supervisor_ <= 0) return;
    ::kill(supervisor_, SIGKILL);
    ::waitpid(supervisor_, nullptr, 0);
    supervisor_ = -1;
  }

  void Stop() {
    if (inflight_.joinable()) FinishDma().ok();  // teardown: the held read's result no longer matters
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    if (session_) {
      fuse_session_exit(session_);
      // Unmounting aborts the connection: the loop's read of /dev/fuse returns ENODEV and the thread ends.
      if (mounted_) fuse_session_unmount(session_);
      mounted_ = false;
      if (loop_.joinable()) loop_.join();
      fuse_session_destroy(session_);
      session_ = nullptr;
    }
    StopSupervisor();
    if (!mount_point_.empty()) ::rmdir(mount_point_.c_str());
    mount_point_.clear();
  }

  PinTarget target_;
  Daemon daemon_;
  std::string mount_point_;
  fuse_session* session_ = nullptr;
  bool mounted_ = false;
  std::thread loop_;
  int fd_ = -1;
  pid_t supervisor_ = -1;  // aborts the connection if longpin dies (StartSupervisor)
  std::thread inflight_;   // a held DMA write (StartDma .. FinishDma)
  Status inflight_status_;
  std::atomic<bool> inflight_done_{false};
};

}  // namespace

std::optional<std::string> FusePinnerUnavailable() {
  if (::access("/dev/fuse", R_OK | W_OK) != 0) return std::string("/dev/fuse missing or not accessible");
  if (::geteuid() != 0 && ::access("/usr/bin/fusermount3", X_OK) != 0 &&
      ::access("/bin/fusermount3", X_OK) != 0)
    return std::string("not root and no fusermount3 to mount the FUSE filesystem");
  return std::nullopt;
}

Result<std::unique_ptr<Pinner>> CreateFusePinner(const PinTarget& target, const PinnerOptions& options) {
  if (options.access == PinAccess::kReadOnly)
    return Status(ENOTSUP, "fuse pins by reading into the mapping: --pin-access ro is not possible");
  if (auto why = FusePinnerUnavailable()) return Status(ENODEV, *why);
  auto hold_s = PinnerDurationOption(options, "fuse", "hold");
  if (!hold_s.ok()) return hold_s.status();
  auto p = std::make_unique<FusePinner>(target, *hold_s);
  if (Status s = p->Start(options.scratch_dir); !s.ok()) return s;  // ~FusePinner undoes what Start did
  return std::unique_ptr<Pinner>(std::move(p));
}

}  // namespace longpin

#endif  // LONGPIN_HAVE_FUSE
