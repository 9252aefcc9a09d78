#include "core/expected_log.h"

#include <fcntl.h>
#include <unistd.h>
#include <xxhash.h>

#include <chrono>
#include <cstring>
#include <ctime>

namespace longpin {

LogLane::LogLane(ExpectedLog* log) : log_(log), chunks_(new Chunk[kChunks]) {}

uint64_t LogLane::Append(RecordType type, uint8_t kind, uint16_t actor, uint32_t aux, uint64_t a,
                         uint64_t b) {
  const uint64_t seq = log_->NextSeq();
  Chunk& c = chunks_[current_ % kChunks];
  c.records[fill_] = LogRecord{seq, type, kind, actor, aux, a, b};
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
      const size_t bytes = size_t{c.count.load(std::memory_order_relaxed)} * sizeof(LogRecord);
      const char* p = reinterpret_cast<const char*>(c.records);
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

Result<LogContents> ReadExpectedLog(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::FromErrno("open expected log " + path);
  LogContents out;
  ssize_t r = ::pread(fd, &out.header, sizeof out.header, 0);
  if (r != sizeof out.header || out.header.magic != kLogMagic ||
      out.header.check != XXH64(&out.header, offsetof(LogFileHeader, check), 0)) {
    ::close(fd);
    return Status(EINVAL, "read expected log " + path + ": not a longpin log (bad header)");
  }
  if (out.header.version != kLogVersion || out.header.record_size != sizeof(LogRecord)) {
    ::close(fd);
    return Status(EINVAL, "read expected log " + path + ": unsupported log version " +
                              std::to_string(out.header.version));
  }
  off_t size = ::lseek(fd, 0, SEEK_END);
  const size_t body = size > off_t(sizeof(LogFileHeader)) ? size_t(size) - sizeof(LogFileHeader) : 0;
  out.truncated = body % sizeof(LogRecord) != 0;
  out.records.resize(body / sizeof(LogRecord));
  char* dst = reinterpret_cast<char*>(out.records.data());
  size_t want = out.records.size() * sizeof(LogRecord), got = 0;
  while (got < want) {
    ssize_t n = ::pread(fd, dst + got, want - got, off_t(sizeof(LogFileHeader) + got));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += size_t(n);
  }
  ::close(fd);
  if (got < want) {
    out.records.resize(got / sizeof(LogRecord));
    out.truncated = true;
  }
  // A record that is all zeros is a hole a crash left in the file (size extended, data not written).
  size_t keep = 0;
  for (const LogRecord& rec : out.records) {
    if (rec.seq == 0) {
      out.truncated = true;
      continue;
    }
    if (rec.type == RecordType::kEnd) out.clean_end = true;
    out.records[keep++] = rec;
  }
  out.records.resize(keep);
  return out;
}

}  // namespace longpin
