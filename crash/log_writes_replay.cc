#include "crash/log_writes_replay.h"

#include <fcntl.h>
#include <linux/fs.h>
#include <linux/loop.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <memory>
#include <unordered_map>

#include "verifiers/disk_reader.h"

namespace longpin {
namespace {

uint64_t Le64(const unsigned char* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}
uint32_t Le32(const unsigned char* p) {
  return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24;
}

Status ReadExact(int fd, void* buf, size_t len, uint64_t off, const std::string& what) {
  size_t done = 0;
  while (done < len) {
    const ssize_t n = ::pread(fd, static_cast<char*>(buf) + done, len - done, off_t(off + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::FromErrno("read " + what);
    }
    if (n == 0)
      return Status(EIO, "read " + what + ": log ends early (at byte " + std::to_string(off + done) + ")");
    done += size_t(n);
  }
  return {};
}

Status WriteExact(int fd, const void* buf, size_t len, uint64_t off, const std::string& what) {
  size_t done = 0;
  while (done < len) {
    const ssize_t n = ::pwrite(fd, static_cast<const char*>(buf) + done, len - done, off_t(off + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::FromErrno("write " + what);
    }
    done += size_t(n);
  }
  return {};
}

double Since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// A copy of src at dst that costs what src holds, not its size: a reflink where the filesystem shares
// extents, else the data extents only (SEEK_DATA/SEEK_HOLE) with copy_file_range.
Status SnapshotImage(const std::string& src, const std::string& dst) {
  int in = ::open(src.c_str(), O_RDONLY | O_CLOEXEC);
  if (in < 0) return Status::FromErrno("open " + src);
  int out = ::open(dst.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (out < 0) {
    Status s = Status::FromErrno("create " + dst);
    ::close(in);
    return s;
  }
  Status st;
  if (::ioctl(out, FICLONE, in) != 0) {
    struct stat sb {};
    ::fstat(in, &sb);
    if (::ftruncate(out, sb.st_size) != 0) st = Status::FromErrno("size " + dst);
    off_t pos = 0;
    while (st.ok() && pos < sb.st_size) {
      off_t data = ::lseek(in, pos, SEEK_DATA);
      if (data < 0) break;  // ENXIO: only a hole is left
      off_t hole = ::lseek(in, data, SEEK_HOLE);
      if (hole < 0) hole = sb.st_size;
      loff_t from = data, to = data;
      size_t left = size_t(hole - data);
      while (left > 0) {
        const ssize_t n = ::copy_file_range(in, &from, out, &to, left, 0);
        if (n <= 0) {
          st = Status::FromErrno("copy_file_range " + src + " to " + dst);
          break;
        }
        left -= size_t(n);
      }
      pos = hole;
    }
  }
  ::close(in);
  ::close(out);
  if (!st.ok()) ::unlink(dst.c_str());
  return st;
}

// Label -> sync id, for labels PREFIX<decimal id>; 0 = not one of ours.
uint64_t SyncIdOfMark(const std::string& label, const std::string& prefix) {
  if (prefix.empty() || label.rfind(prefix, 0) != 0 || label.size() == prefix.size()) return 0;
  uint64_t id = 0;
  for (size_t i = prefix.size(); i < label.size(); ++i) {
    if (label[i] < '0' || label[i] > '9') return 0;
    id = id * 10 + uint64_t(label[i] - '0');
  }
  return id;
}

// The raw bytes of the first blocks a crash state failed on, kept next to the replay (the snapshot they came
// from is deleted): what a block holds, word by word, is what tells a kernel bug from a write in flight.
// Files: evidence-<mark>-block-<N>.bin, one block each. Returns the paths, "" when nothing was saved.
std::string SaveEvidence(const LogWritesCheckConfig& cfg, const std::string& target, const std::string& mark,
                         const Verification& v) {
  constexpr size_t kMaxBlocks = 8;
  const size_t bs = cfg.pattern->block_size();
  int in = ::open(target.c_str(), O_RDONLY | O_CLOEXEC);
  if (in < 0) return "";
  std::string saved;
  std::unique_ptr<char[]> buf(new char[bs]);
  size_t n = 0;
  for (const Violation& x : v.violations) {
    if (x.contract != "kernel" || n == kMaxBlocks) continue;
    if (::pread(in, buf.get(), bs, off_t(x.offset)) != ssize_t(bs)) continue;
    const std::string path =
        cfg.work_dir + "/evidence-" + mark + "-block-" + std::to_string(x.block) + ".bin";
    int out = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (out < 0) continue;
    if (WriteExact(out, buf.get(), bs, 0, path).ok()) {
      saved += (saved.empty() ? "" : " ") + path;
      ++n;
    }
    ::close(out);
  }
  ::close(in);
  return saved;
}

// One crash state: snapshot the replay image, mount it with recovery, read the target, judge it.
void CheckState(const LogWritesCheckConfig& cfg, const std::string& replay_image,
                const ExpectedState& expected, bool plant, CrashStateCheck* out) {
  const std::string snap = cfg.work_dir + "/replay-state.img";
  const std::string mnt = cfg.work_dir + "/replay-mnt";
  if (Status s = SnapshotImage(replay_image, snap); !s.ok()) {
    out->error = "snapshot: " + s.message();
    return;
  }
  auto loop = AttachLoop(snap, false);
  if (!loop.ok()) {
    out->error = loop.status().message();
    ::unlink(snap.c_str());
    return;
  }
  // XFS refuses a second filesystem with the same UUID; nothing else of this run is mounted by now, but the
  // user's own copy of an image might be.
  std::string opts = cfg.mount_options;
  if (cfg.fs == FsType::kXfs) opts = opts.empty() ? "nouuid" : opts + ",nouuid";
  auto fs = ScratchFs::CreateOnDevice(loop->second, mnt, cfg.fs, false, opts, snap);
  if (!fs.ok()) {
    out->error = "mount of the crash state (with journal recovery): " + fs.status().message();
  } else {
    const std::string target = (*fs)->mount_point() + "/" + cfg.target_name;
    Status planted;
    if (plant) {
      planted = cfg.plant(**fs, target, expected);
      out->planted = planted.ok();
      if (!planted.ok()) out->error = "planting faults: " + planted.message();
    }
    if (planted.ok()) {
      auto disk = ReadAndClassify(target, *cfg.pattern, cfg.block_count, 0, &expected);
      if (!disk.ok()) out->error = "read the target in the crash state: " + disk.status().message();
      else out->verification = Judge(expected, *disk, VerifyMode::kCrash);
      if (disk.ok() && out->verification.kernel_violations > 0 && !plant)
        out->evidence = SaveEvidence(cfg, target, out->mark, out->verification);
    }
    if (Status s = (*fs)->Remove(); !s.ok() && out->error.empty())
      out->error = "unmount the crash state: " + s.message();
  }
  ::ioctl(loop->first, LOOP_CLR_FD, 0);
  ::close(loop->first);
  ::unlink(snap.c_str());
}

}  // namespace

Result<LogWritesIndex> IndexLogWrites(const std::string& log_path) {
  int fd = ::open(log_path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::FromErrno("open dm-log-writes log " + log_path);
  LogWritesIndex idx;
  unsigned char super[32];
  Status st = ReadExact(fd, super, sizeof super, 0, "log super block " + log_path);
  struct stat sb {};
  ::fstat(fd, &sb);
  if (st.ok()) {
    const uint64_t magic = Le64(super), version = Le64(super + 8);
    idx.nr_entries = Le64(super + 16);
    idx.sector_size = Le32(super + 24);
    if (magic != kLogWritesMagic)
      st = Status(EINVAL, log_path + ": not a dm-log-writes log (magic " + std::to_string(magic) + ")");
    else if (version != 1)
      st = Status(EINVAL, log_path + ": dm-log-writes log version " + std::to_string(version) +
                              " (this reader knows 1)");
    else if (idx.sector_size < 512 || (idx.sector_size & (idx.sector_size - 1)) || idx.sector_size > 65536)
      st = Status(EINVAL, log_path + ": bad sector size " + std::to_string(idx.sector_size));
  }
  std::unique_ptr<unsigned char[]> sector;
  if (st.ok()) sector.reset(new unsigned char[idx.sector_size]);
  uint64_t off = idx.sector_size;
  for (uint64_t i = 0; st.ok() && i < idx.nr_entries; ++i) {
    const std::string what = "log entry " + std::to_string(i) + " of " + log_path;
    st = ReadExact(fd, sector.get(), idx.sector_size, off, what);
    if (!st.ok()) break;
    LogWritesEntry e;
    e.index = i;
    e.sector = Le64(sector.get());
    e.nr_sectors = Le64(sector.get() + 8);
    e.flags = Le64(sector.get() + 16);
    const uint64_t data_len = Le64(sector.get() + 24);
    e.data_offset = off + idx.sector_size;
    if (e.flags & kLogWritesMark) {
      if (data_len > idx.sector_size - 32) {
        st = Status(EINVAL, what + ": mark longer than its sector");
        break;
      }
      e.mark.assign(reinterpret_cast<const char*>(sector.get() + 32), size_t(data_len));
    }
    const uint64_t data_bytes = (e.flags & kLogWritesDiscard) ? 0 : e.nr_sectors * idx.sector_size;
    if (e.data_offset + data_bytes > uint64_t(sb.st_size)) {
      st = Status(EIO, what + ": data runs past the end of the log");
      break;
    }
    off = e.data_offset + data_bytes;
    idx.entries.push_back(std::move(e));
  }
  ::close(fd);
  if (!st.ok()) return st;
  idx.complete = !idx.entries.empty() && idx.entries.back().mark == kLogWritesEndMark;
  return idx;
}

Status ApplyLogWrites(int log_fd, const LogWritesIndex& index, size_t from, size_t to, int image_fd) {
  constexpr size_t kChunk = 1 << 20;
  std::unique_ptr<char[]> buf;
  for (size_t i = from; i < to && i < index.entries.size(); ++i) {
    const LogWritesEntry& e = index.entries[i];
    if (e.flags & kLogWritesMark || e.nr_sectors == 0) continue;
    const uint64_t dst = e.sector * index.sector_size, len = e.nr_sectors * index.sector_size;
    if (e.flags & kLogWritesDiscard) {
      // The data device is a loop device on a sparse file: a discard punches a hole, which reads as zeros.
      if (::fallocate(image_fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off_t(dst), off_t(len)) != 0)
        return Status::FromErrno("punch discarded range of log entry " + std::to_string(e.index));
      continue;
    }
    if (!buf) buf.reset(new char[kChunk]);
    for (uint64_t done = 0; done < len;) {
      const size_t n = size_t(std::min<uint64_t>(kChunk, len - done));
      if (Status s = ReadExact(log_fd, buf.get(), n, e.data_offset + done,
                               "data of log entry " + std::to_string(e.index));
          !s.ok())
        return s;
      if (Status s = WriteExact(image_fd, buf.get(), n, dst + done, "replay image"); !s.ok()) return s;
      done += n;
    }
  }
  return {};
}

Result<LogWritesCheck> CheckLogWritesStates(const LogWritesCheckConfig& cfg) {
  const auto t0 = std::chrono::steady_clock::now();
  auto index = IndexLogWrites(cfg.log_image);
  if (!index.ok()) return index.status();
  LogWritesCheck out;
  out.entries = index->entries.size();
  out.log_complete = index->complete;
  size_t last_sync_mark = SIZE_MAX;
  for (const auto& e : index->entries) {
    if (e.flags & kLogWritesMark) {
      ++out.marks;
      if (SyncIdOfMark(e.mark, cfg.mark_prefix)) last_sync_mark = e.index;
    } else if (e.flags & kLogWritesDiscard) {
      ++out.discards;
    } else if (e.nr_sectors) {
      ++out.writes;
      out.bytes_replayed += e.nr_sectors * index->sector_size;
    }
    if (e.flags & kLogWritesFlush) ++out.flushes;
    if (e.flags & kLogWritesFua) ++out.fua;
  }

  // Start seq of every sync: a mark names its sync by id.
  std::unordered_map<uint64_t, uint64_t> start_seq;
  for (const auto& s : BuildExpectedState(*cfg.log).syncs) start_seq[s.id] = s.start_seq;

  const std::string replay_image = cfg.work_dir + "/replay.img";
  int log_fd = ::open(cfg.log_image.c_str(), O_RDONLY | O_CLOEXEC);
  if (log_fd < 0) return Status::FromErrno("open " + cfg.log_image);
  int img = ::open(replay_image.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (img < 0) {
    Status s = Status::FromErrno("create replay image " + replay_image);
    ::close(log_fd);
    return s;
  }
  Status st;
  if (::ftruncate(img, off_t(cfg.data_bytes)) != 0)
    st = Status::FromErrno("size replay image " + replay_image);
  size_t applied = 0;
  uint64_t promise_seq = 0, promise_sync = 0;
  for (size_t i = 0; st.ok() && i < index->entries.size(); ++i) {
    const LogWritesEntry& e = index->entries[i];
    const uint64_t sync_id = (e.flags & kLogWritesMark) ? SyncIdOfMark(e.mark, cfg.mark_prefix) : 0;
    if (!sync_id) continue;
    st = ApplyLogWrites(log_fd, *index, applied, i, img);
    applied = i + 1;
    if (!st.ok()) break;
    const auto s0 = std::chrono::steady_clock::now();
    CrashStateCheck c;
    c.mark = e.mark;
    c.entry = e.index;
    c.sync_id = sync_id;
    // Every sync marked so far had returned before this mark: the newest start among them is the promise.
    if (auto it = start_seq.find(sync_id); it != start_seq.end() && it->second > promise_seq) {
      promise_seq = it->second;
      promise_sync = sync_id;
    }
    c.promise_seq = promise_seq;
    c.promise_sync_id = promise_sync;
    if (!start_seq.count(sync_id)) {
      c.error = "mark names sync " + std::to_string(sync_id) + ", which the expected log does not hold";
    } else {
      const ExpectedState expected = BuildExpectedStateAt(*cfg.log, promise_seq);
      CheckState(cfg, replay_image, expected, cfg.plant && i == last_sync_mark, &c);
    }
    c.seconds = Since(s0);
    out.kernel_violations += c.verification.kernel_violations;
    out.strict_misses += c.verification.strict_misses;
    out.states.push_back(std::move(c));
  }
  ::close(img);
  ::close(log_fd);
  ::unlink(replay_image.c_str());
  if (!st.ok()) return st;
  out.seconds = Since(t0);
  out.states_per_second = out.seconds > 0 ? double(out.states.size()) / out.seconds : 0;
  return out;
}

}  // namespace longpin
