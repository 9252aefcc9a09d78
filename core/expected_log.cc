#include "core/expected_log.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <memory>
#include <optional>

namespace longpin {

LogLane::LogLane(ExpectedLog* log) : log_(log), chunks_(new Chunk[kChunks]) {}

uint64_t LogLane::Append(RecordType type, uint8_t kind, uint16_t actor, uint32_t aux, uint64_t a,
                         uint64_t b) {
  const uint64_t seq = log_->NextSeq();
  Chunk& c = chunks_[current_ % kChunks];
  c.slots[1 + fill_] = LogRecord{seq, type, kind, actor, aux, a, b};
  const uint64_t request = log_->publish_request_.load(std::memory_order_relaxed);
  if (++fill_ == kChunkRecords || request != seen_publish_request_) {
    seen_publish_request_ = request;
    NextChunk();
  }
  return seq;
}

void LogLane::RequestPublishAll() {
  if (log_->durable_) log_->publish_request_.fetch_add(1, std::memory_order_relaxed);
}

void LogLane::Publish() {
  if (fill_ > 0) NextChunk();
}

void LogLane::NextChunk() {
  chunks_[current_ % kChunks].count.store(fill_, std::memory_order_relaxed);
  published_.store(++current_, std::memory_order_release);
  fill_ = 0;
  // Backpressure: the next chunk slot must have been drained before it is reused.
  while (current_ - drained_.load(std::memory_order_acquire) >= kChunks) {
    ++waits_;
    std::this_thread::sleep_for(std::chrono::microseconds(50));
  }
}

Result<std::unique_ptr<ExpectedLog>> ExpectedLog::Create(const std::string& path, uint64_t run_id,
                                                         uint64_t block_size, uint64_t block_count,
                                                         bool durable) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return Status::FromErrno("create expected log " + path);
  LogFileHeader h{};
  h.magic = kLogMagic;
  h.version = kLogVersion;
  h.record_size = sizeof(LogRecord);
  h.run_id = run_id;
  h.block_size = block_size;
  h.block_count = block_count;
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  h.created_unix_ns = uint64_t(ts.tv_sec) * 1000000000ULL + uint64_t(ts.tv_nsec);
  h.check = XXH64(&h, offsetof(LogFileHeader, check), 0);
  if (::write(fd, &h, sizeof h) != sizeof h) {
    Status s = Status::FromErrno("write expected log header " + path);
    ::close(fd);
    return s;
  }
  if (durable && ::fsync(fd) != 0) {
    Status s = Status::FromErrno("fsync expected log " + path);
    ::close(fd);
    return s;
  }
  std::unique_ptr<ExpectedLog> log(new ExpectedLog(fd, path, durable));
  log->bytes_written_ = sizeof h;
  log->file_offset_ = sizeof h;
  return log;
}

ExpectedLog::ExpectedLog(int fd, std::string path, bool durable)
    : fd_(fd), path_(std::move(path)), durable_(durable) {
  flusher_ = std::thread([this] { FlusherLoop(); });
}

ExpectedLog::~ExpectedLog() {
  if (flusher_.joinable()) {
    stop_.store(true);
    flusher_.join();
  }
  if (fd_ >= 0) ::close(fd_);
}

LogLane* ExpectedLog::NewLane() {
  // Only the thread that sets the log up adds lanes; the flusher sees a lane once lane_count_ covers it.
  const size_t n = lane_count_.load(std::memory_order_relaxed);
  if (n == kMaxLanes) return nullptr;
  lanes_[n].reset(new LogLane(this));
  lane_count_.store(n + 1, std::memory_order_release);
  return lanes_[n].get();
}

bool ExpectedLog::DrainOnce() {
  bool wrote = false;
  const size_t n = lane_count_.load(std::memory_order_acquire);
  for (size_t i = 0; i < n; ++i) {
    LogLane& lane = *lanes_[i];
    uint64_t done = lane.drained_.load(std::memory_order_relaxed);
    const uint64_t ready = lane.published_.load(std::memory_order_acquire);
    for (; done < ready; ++done) {
      LogLane::Chunk& c = lane.chunks_[done % LogLane::kChunks];
      const uint32_t count = c.count.load(std::memory_order_relaxed);
      if (count == 0) {
        lane.drained_.store(done + 1, std::memory_order_release);
        continue;
      }
      // The frame: both checks seeded with the offset the frame lands at.
      ChunkFrame f{kFrameMagic, count, uint32_t(i), 0, 0, 0};
      f.records_check = XXH64(&c.slots[1], size_t{count} * sizeof(LogRecord), file_offset_);
      f.frame_check = XXH64(&f, offsetof(ChunkFrame, frame_check), file_offset_);
      static_assert(sizeof(ChunkFrame) == sizeof(LogRecord));
      std::memcpy(&c.slots[0], &f, sizeof f);
      const size_t bytes = size_t{count + 1} * sizeof(LogRecord);
      const char* p = reinterpret_cast<const char*>(c.slots);
      size_t off = 0;
      while (off < bytes && flush_status_.ok()) {
        ssize_t w = ::write(fd_, p + off, bytes - off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
          // Keep draining (writers must not block forever) but remember the log is incomplete.
          flush_status_ = Status::FromErrno("write expected log " + path_);
          break;
        }
        off += size_t(w);
      }
      bytes_written_.fetch_add(off, std::memory_order_relaxed);
      file_offset_ += off;
      lane.drained_.store(done + 1, std::memory_order_release);
      wrote = true;
    }
  }
  if (wrote && durable_ && flush_status_.ok() && ::fdatasync(fd_) != 0)
    flush_status_ = Status::FromErrno("fdatasync expected log " + path_);
  return wrote;
}

void ExpectedLog::FlusherLoop() {
  while (!stop_.load(std::memory_order_acquire)) {
    if (!DrainOnce()) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  DrainOnce();
}

Status ExpectedLog::Close(bool clean) {
  if (clean) {
    LogLane* lane = NewLane();
    if (lane) {
      lane->Append(RecordType::kEnd, 0, 0, 0, 0, 0);
      lane->Publish();
    }
  }
  stop_.store(true, std::memory_order_release);
  if (flusher_.joinable()) flusher_.join();
  if (fd_ >= 0) {
    if (durable_ && flush_status_.ok() && ::fdatasync(fd_) != 0)
      flush_status_ = Status::FromErrno("fdatasync expected log " + path_);
    ::close(fd_);
    fd_ = -1;
  }
  return flush_status_;
}

namespace {

bool AllZero(const unsigned char* p, size_t n) {
  for (size_t i = 0; i < n; ++i)
    if (p[i]) return false;
  return true;
}

std::string Hex(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

// The meaning of one record (that its bytes are what was written is the chunk check's job): "" when it could
// have been written by a run of this log's geometry, else what is impossible about it.
std::string ImpossibleRecord(const LogRecord& r, const LogFileHeader& h) {
  if (r.seq == 0 || r.seq > kMaxPlausibleSeq)
    return "sequence number " + std::to_string(r.seq) + " out of range";
  switch (r.type) {
    case RecordType::kWrite:
    case RecordType::kWriteFailed:
      if (r.kind < 1 || r.kind > 3) return "write of unknown writer kind " + std::to_string(r.kind);
      if (r.a >= h.block_count)
        return "write of block " + std::to_string(r.a) + ", beyond the target's " +
               std::to_string(h.block_count);
      if (r.b == 0 || r.b > (uint64_t{1} << 40))
        return "impossible generation " + std::to_string(r.b) + " of block " + std::to_string(r.a);
      return "";
    case RecordType::kSyncStart:
    case RecordType::kSyncEnd:
      if (r.kind < 1 || r.kind > 5) return "sync of unknown op " + std::to_string(r.kind);
      if (r.a == 0 || r.a > kMaxPlausibleSeq) return "sync id " + std::to_string(r.a) + " out of range";
      if (r.type == RecordType::kSyncEnd && r.aux > 4095)
        return "sync end with errno " + std::to_string(r.aux);
      return "";
    case RecordType::kPin:
    case RecordType::kUnpin:
    case RecordType::kPhase:
    case RecordType::kCrash:
    case RecordType::kEnd: return "";
    case RecordType::kPunch:
      if (r.aux > 1) return "punch record with aux " + std::to_string(r.aux);
      return "";
  }
  return "unknown record type " + std::to_string(unsigned(r.type));
}

Status Damaged(const std::string& path, uint64_t offset, const std::string& what) {
  return Status(EBADMSG, "read expected log " + path + ": damaged at byte " + std::to_string(offset) + " (" +
                             Hex(offset) + "): " + what);
}

// A log file mapped read-only: logs of long runs are hundreds of MB, and the records are copied out once.
class MappedLog {
 public:
  static Result<std::unique_ptr<MappedLog>> Open(const std::string& path, size_t min_size) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Status::FromErrno("open expected log " + path);
    struct stat sb {};
    ::fstat(fd, &sb);
    const uint64_t size = uint64_t(sb.st_size);
    if (size < min_size) {
      ::close(fd);
      return Status(EBADMSG, "read expected log " + path + ": not a longpin log (short header)");
    }
    void* map = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    ::close(fd);
    if (map == MAP_FAILED) return Status::FromErrno("map expected log " + path);
    ::madvise(map, size, MADV_SEQUENTIAL);
    return std::unique_ptr<MappedLog>(new MappedLog(map, size));
  }
  ~MappedLog() { ::munmap(map_, size_); }
  MappedLog(const MappedLog&) = delete;
  MappedLog& operator=(const MappedLog&) = delete;
  const unsigned char* bytes() const { return static_cast<const unsigned char*>(map_); }
  uint64_t size() const { return size_; }

 private:
  MappedLog(void* map, uint64_t size) : map_(map), size_(size) {}
  void* map_;
  uint64_t size_;
};

Status CheckHeader(const std::string& path, const LogFileHeader& h) {
  if (h.magic != kLogMagic || h.check != XXH64(&h, offsetof(LogFileHeader, check), 0))
    return Status(EBADMSG, "read expected log " + path + ": not a longpin log (bad header at byte 0)");
  if ((h.version != kLogVersion && h.version != kLogVersionV1) || h.record_size != sizeof(LogRecord))
    return Status(EINVAL,
                  "read expected log " + path + ": unsupported log version " + std::to_string(h.version));
  if (h.block_size < 512 || (h.block_size & (h.block_size - 1)) || h.block_count == 0 ||
      h.block_count > (uint64_t{1} << 40))
    return Status(EBADMSG, "read expected log " + path + ": impossible geometry in the header");
  return {};
}

// The records of a mapped log after its header, into `out`: what a cut left is counted as lost, anything
// else that fails a check is damage.
class RecordScanner {
 public:
  RecordScanner(const std::string& path, const MappedLog& log, LogContents* out)
      : path_(path), file_(log.bytes()), size_(log.size()), out_(*out) {}

  Status Scan() { return out_.header.version == kLogVersionV1 ? ScanV1() : ScanV2(); }
  // File offset of each record kept (for the damage messages of the sequence check).
  const std::vector<uint64_t>& offsets() const { return offsets_; }

 private:
  static constexpr uint64_t kPage = 4096;
  static constexpr size_t kRec = sizeof(LogRecord);

  Status Keep(uint64_t off) {
    LogRecord r;
    std::memcpy(&r, &file_[off], kRec);
    if (std::string why = ImpossibleRecord(r, out_.header); !why.empty()) return Damaged(path_, off, why);
    if (r.type == RecordType::kEnd) out_.clean_end = true;
    out_.max_seq = std::max(out_.max_seq, r.seq);
    out_.records.push_back(r);
    offsets_.push_back(off);
    return {};
  }
  void Lose(uint64_t from, uint64_t to) {
    if (!out_.truncated) out_.first_lost_offset = from;
    out_.truncated = true;
    out_.lost_bytes += to - from;
  }

  // v1: bare records, no checks. A record of all zeros is a hole a crash left; a partial one, the cut.
  Status ScanV1() {
    uint64_t off = sizeof out_.header;
    for (; off + kRec <= size_; off += kRec) {
      if (AllZero(&file_[off], kRec)) {
        Lose(off, off + kRec);
        continue;
      }
      if (Status s = Keep(off); !s.ok()) return s;
    }
    if (off < size_) Lose(off, size_);
    return {};
  }

  // v2: chunks, each a frame record then its records. A frame validates at `o` (both checks are seeded with
  // o).
  bool FrameAt(uint64_t o, ChunkFrame* f) const {
    if (o + kRec > size_) return false;
    std::memcpy(f, &file_[o], sizeof *f);
    return f->magic == kFrameMagic && f->count >= 1 && f->count <= LogLane::kChunkRecords &&
           f->frame_check == XXH64(f, offsetof(ChunkFrame, frame_check), o);
  }

  Status ScanV2() {
    uint64_t off = sizeof out_.header;
    while (off < size_) {
      ChunkFrame f;
      const bool frame_ok = FrameAt(off, &f);
      const uint64_t end = frame_ok ? off + kRec * (uint64_t{f.count} + 1) : 0;
      if (frame_ok && end <= size_ && f.records_check == XXH64(&file_[off + kRec], kRec * f.count, off)) {
        for (uint64_t o = off + kRec; o < end; o += kRec)
          if (Status s = Keep(o); !s.ok()) return s;
        off = end;
        continue;
      }
      auto next = SkipCutChunk(off, frame_ok, end);
      if (!next)
        return Damaged(path_, off,
                       !frame_ok     ? "no valid chunk frame"
                       : end > size_ ? "the file ends inside a chunk, not at a page boundary"
                                     : "chunk check failed (" + std::to_string(f.count) + " records)");
      off = *next;
    }
    return {};
  }

  // A chunk at `off` that does not validate. What a cut leaves: the file ends inside the chunk at a page
  // boundary (the size reached the disk a page at a time), pages of it never written (they read as zeros),
  // or nothing but zeros from here on. Such a region runs to the next frame that validates (or the end), is
  // counted as lost and its end returned; anything else is damage (nullopt).
  std::optional<uint64_t> SkipCutChunk(uint64_t off, bool frame_ok, uint64_t end) {
    uint64_t next = off + kRec;
    for (ChunkFrame g; next < size_ && !FrameAt(next, &g);) next += kRec;
    next = std::min(next, size_);
    bool zero_page = false;
    for (uint64_t p = (off + kPage - 1) / kPage * kPage; p + kPage <= next && !zero_page; p += kPage)
      zero_page = AllZero(&file_[p], kPage);
    const bool cut_at_page = frame_ok && end > size_ && next == size_ && size_ % kPage == 0;
    if (!AllZero(&file_[off], next - off) && !zero_page && !cut_at_page) return std::nullopt;
    Lose(off, next);
    return next;
  }

  const std::string& path_;
  const unsigned char* file_;
  uint64_t size_;
  LogContents& out_;
  std::vector<uint64_t> offsets_;
};

// Sequence numbers: each append takes the next one, so a number seen twice is damage and the first one
// missing is where the log's knowledge ends (known_below).
Status CheckSequence(const std::string& path, const std::vector<uint64_t>& offsets, LogContents* out) {
  const size_t n = out->records.size();
  if (n == 0) {
    out->known_below = 1;
    return {};
  }
  auto twice = [&](uint64_t seq, size_t i) {
    return Damaged(path, offsets[i], "sequence number " + std::to_string(seq) + " twice");
  };
  uint64_t k = 1;
  if (out->max_seq <= 4 * uint64_t(n) + 4096) {
    std::vector<uint32_t> slot(out->max_seq + 1,
                               0);  // seq -> 1 + index of its record (dense: a table, no sort)
    for (size_t i = 0; i < n; ++i) {
      uint32_t& s = slot[out->records[i].seq];
      if (s) return twice(out->records[i].seq, i);
      s = uint32_t(i + 1);
    }
    while (k <= out->max_seq && slot[k]) ++k;
  } else {
    std::vector<std::pair<uint64_t, size_t>> seqs(n);
    for (size_t i = 0; i < n; ++i) seqs[i] = {out->records[i].seq, i};
    std::sort(seqs.begin(), seqs.end());
    for (size_t i = 0; i < n; ++i) {
      if (i > 0 && seqs[i].first == seqs[i - 1].first) return twice(seqs[i].first, seqs[i].second);
      if (seqs[i].first == k) ++k;
    }
  }
  out->known_below = k;
  return {};
}

}  // namespace

Result<LogContents> ReadExpectedLog(const std::string& path) {
  LogContents out;
  auto log = MappedLog::Open(path, sizeof out.header);
  if (!log.ok()) return log.status();
  std::memcpy(&out.header, (*log)->bytes(), sizeof out.header);
  if (Status s = CheckHeader(path, out.header); !s.ok()) return s;
  RecordScanner scanner(path, **log, &out);
  if (Status s = scanner.Scan(); !s.ok()) return s;
  if (Status s = CheckSequence(path, scanner.offsets(), &out); !s.ok()) return s;
  return out;
}

}  // namespace longpin
