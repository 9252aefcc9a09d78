// ExpectedLog: the append-only record of what was written, synced and pinned (format v2, docs/formats.md).
//
// One global order comes from an atomic sequence number: a writer takes its number after the write completed
// (release), a syncer takes its number before it calls fsync (acquire), so any write numbered below a sync's
// start completed before that sync started. Each thread appends through its own LogLane into preallocated
// chunks; a flusher thread writes full chunks to the log file, each behind a frame that carries the chunk's
// checksums (computed by the flusher, never on the hot path). The hot path (Append) takes no lock and
// allocates nothing; when the flusher falls behind, a lane waits for a free chunk (backpressure, counted).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "core/status.h"

namespace longpin {

enum class RecordType : uint8_t {
  kWrite = 1,        // kind=WriterKind actor=writer id aux=pin epoch a=block b=generation
  kSyncStart = 2,    // kind=SyncOpKind actor=syncer a=sync id b=monotonic ns aux=phase
  kSyncEnd = 3,      // kind=SyncOpKind actor=syncer a=sync id b=duration ns aux=errno (0 = success)
  kPin = 4,          // kind=pinner index actor=errno (0 = granted) aux=epoch a=offset b=bytes
  kUnpin = 5,        // kind=pinner index aux=epoch a=offset b=bytes
  kPhase = 6,        // kind=phase index a=monotonic ns aux=1 at start, 0 at end
  kCrash = 7,        // a=monotonic ns: the crash model fired here
  kWriteFailed = 8,  // like kWrite: the write did not complete (aux=errno); promises nothing
  kEnd = 9,          // the run closed the log cleanly: every write is in it
  kPunch = 10,       // a=offset b=bytes: the range was punched out or truncated away (completed): it reads as
                     // zeros until written again; writes before it promise nothing about the range.
                     // aux=1: the same range's punch is starting (logged before the call): writes between the
                     // two records, or through a pin taken before the end, were in flight across it
};

struct LogRecord {
  uint64_t seq;
  RecordType type;
  uint8_t kind;
  uint16_t actor;
  uint32_t aux;
  uint64_t a;
  uint64_t b;
};
static_assert(sizeof(LogRecord) == 32);

// File header, 64 bytes, at offset 0 of the log file.
struct LogFileHeader {
  uint64_t magic;  // kLogMagic
  uint32_t version;
  uint32_t record_size;
  uint64_t run_id;
  uint64_t block_size;
  uint64_t block_count;
  uint64_t created_unix_ns;
  uint64_t reserved;
  uint64_t check;  // xxh64 of the 56 bytes before it
};
static_assert(sizeof(LogFileHeader) == 64);
inline constexpr uint64_t kLogMagic = 0x313076474f4c504cULL;  // "LPLOGv01" little-endian
// v2: the body is a sequence of frames (a ChunkFrame, then its records); v1: bare records, still readable.
inline constexpr uint32_t kLogVersion = 2;
inline constexpr uint32_t kLogVersionV1 = 1;

// v2: what precedes every chunk of records in the file. Both checks are seeded with the frame's file offset,
// so a chunk moved, repeated or dropped inside the file does not validate where it lies.
struct ChunkFrame {
  uint32_t magic;          // kFrameMagic
  uint32_t count;          // records that follow, 1 .. LogLane::kChunkRecords
  uint32_t lane;           // the lane that wrote them (information only)
  uint32_t reserved;       // 0
  uint64_t records_check;  // xxh64 of the count * 32 bytes of records, seed = file offset of the frame
  uint64_t frame_check;    // xxh64 of the 24 bytes before it, seed = file offset of the frame
};
static_assert(sizeof(ChunkFrame) == 32);
inline constexpr uint32_t kFrameMagic = 0x4d52464cU;  // "LFRM" little-endian
// Sequence numbers above this are damage (a run appends far fewer records).
inline constexpr uint64_t kMaxPlausibleSeq = 1ULL << 48;

class ExpectedLog;

// One thread's append handle. Not thread-safe: exactly one thread appends to a lane.
class LogLane {
 public:
  static constexpr size_t kChunkRecords = 4096;  // 128 KiB per chunk
  static constexpr size_t kChunks = 16;

  // Takes the next global sequence number and appends. The number is taken here, after the caller's
  // write completed, which is the ordering the oracle relies on.
  uint64_t Append(RecordType type, uint8_t kind, uint16_t actor, uint32_t aux, uint64_t a, uint64_t b);
  // Hands the partial chunk to the flusher (at phase ends and before the log is closed).
  void Publish();
  uint64_t backpressure_waits() const { return waits_; }
  // Asks every lane to publish its partial chunk at its next append (durable logs, after a sync ends), so
  // the writes a sync promised reach the file soon after the sync's own records.
  void RequestPublishAll();

 private:
  friend class ExpectedLog;
  struct Chunk {
    std::atomic<uint32_t> count{0};
    // slots[0]: the frame, filled in by the flusher; slots[1 + i]: record i. One contiguous write per chunk.
    LogRecord slots[kChunkRecords + 1];
  };
  explicit LogLane(ExpectedLog* log);
  void NextChunk();

  ExpectedLog* log_;
  std::unique_ptr<Chunk[]> chunks_;
  uint64_t current_ = 0;                            // producer's chunk number (monotonic)
  uint32_t fill_ = 0;                               // records in the current chunk
  alignas(64) std::atomic<uint64_t> published_{0};  // chunks handed to the flusher
  alignas(64) std::atomic<uint64_t> drained_{0};    // chunks written out by the flusher
  uint64_t waits_ = 0;
  uint64_t seen_publish_request_ = 0;
};

class ExpectedLog {
 public:
  // Creates (O_EXCL) the log file at path. durable: the flusher fdatasyncs after each pass that wrote
  // anything (group commit), so what a lane published is on disk within one flusher period.
  static Result<std::unique_ptr<ExpectedLog>> Create(const std::string& path, uint64_t run_id,
                                                     uint64_t block_size, uint64_t block_count, bool durable);
  ~ExpectedLog();
  ExpectedLog(const ExpectedLog&) = delete;
  ExpectedLog& operator=(const ExpectedLog&) = delete;

  // Lanes live as long as the log. Call before the thread that uses it starts (allocates); nullptr when
  // all kMaxLanes are taken.
  LogLane* NewLane();
  uint64_t NextSeq() { return seq_.fetch_add(1, std::memory_order_acq_rel); }
  uint64_t PeekSeq() const { return seq_.load(std::memory_order_acquire); }

  // Appends a kEnd record from the calling thread's own lane, drains every lane, stops the flusher, and
  // (when durable) fdatasyncs. All lanes must be quiet (their threads joined).
  Status Close(bool clean);
  const std::string& path() const { return path_; }
  uint64_t bytes_written() const { return bytes_written_.load(); }
  const Status& flush_status() const { return flush_status_; }

 private:
  ExpectedLog(int fd, std::string path, bool durable);
  void FlusherLoop();
  bool DrainOnce();

  int fd_;
  std::string path_;
  bool durable_;
  std::atomic<uint64_t> seq_{1};
  static constexpr size_t kMaxLanes = 256;
  std::unique_ptr<LogLane> lanes_[kMaxLanes];
  std::atomic<size_t> lane_count_{0};
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> bytes_written_{0};
  uint64_t file_offset_ = 0;  // where the flusher's next write lands (the flusher's own)
  std::atomic<uint64_t> publish_request_{0};
  Status flush_status_;
  std::thread flusher_;
  friend class LogLane;
};

struct LogContents {
  LogFileHeader header{};
  std::vector<LogRecord> records;  // in file order (grouped by lane); sort by seq where order matters
  bool clean_end = false;          // a kEnd record was found
  bool truncated = false;          // part of the file was lost in a cut (a short or unwritten chunk, a hole)
  uint64_t lost_bytes = 0;         // bytes of the file in lost chunks (not damage: what a cut leaves)
  uint64_t first_lost_offset = 0;  // file offset of the first lost chunk (when truncated)
  uint64_t max_seq = 0;            // the highest sequence number read
  // Every sequence number below this is in `records` (numbers are dense: each append takes one). A sync that
  // started below it is judged with every record before its start known; above it, records may be missing.
  uint64_t known_below = UINT64_MAX;  // (the reader sets it; a LogContents built by hand knows everything)
  // The log is whole: an end record, and no sequence number missing below it. Only a whole log may flag a
  // generation as never issued.
  bool complete() const { return clean_end && known_below > max_seq; }
};

// Reads a log file written by ExpectedLog (v2, or v1 without checks). What a cut leaves is dropped and
// counted (truncated): a file that ends inside a chunk at a 4 KiB boundary, a chunk holding an unwritten
// (all-zero) 4 KiB page, an all-zero tail. Anything else that fails a check is damage: an error (EBADMSG)
// naming the first bad byte offset. So is a record no run writes (an unknown type or kind, a block outside
// the target, a generation or sequence number out of range, a sequence number twice): an impossible
// generation is an error of the log, never a verdict about the disk.
Result<LogContents> ReadExpectedLog(const std::string& path);

}  // namespace longpin
