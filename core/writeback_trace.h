// Why a sync was slow: the pages each sync call wrote back and the time it spent blocked, per call. Pages
// come from the filesystem's writeback tracepoint through a tracefs instance of longpin's own (root), else
// from the system-wide /proc/vmstat nr_written around the call. The per-call half (SyncProbe) allocates
// nothing and takes no lock; the tracefs events are read and matched to the calls after the threads are
// joined.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace longpin {

// One sync call as the syncer measured it.
struct SyncCallRecord {
  uint64_t start_ns = 0;  // CLOCK_MONOTONIC at the call
  uint64_t duration_ns = 0;
  // The call's duration less the thread's CPU time in it: the time it slept, which inside fsync is waiting
  // for page writeback to complete and for the journal commit (and any run-queue delay).
  uint64_t off_cpu_ns = 0;
  uint64_t pages_written =
      0;  // pages this call wrote back (vmstat: pages written system-wide during the call)
  uint32_t pages_waited = 0;  // tracefs only: folios already under writeback that the call waited on
  int32_t tid = 0;
  int32_t err = 0;
  bool pinned = false;  // pages of the synced range were pinned when the call started
};

struct TraceEvent {
  enum class Kind : uint8_t { kWritten, kWaited };
  int32_t pid = 0;
  uint64_t ts_ns = 0;
  Kind kind = Kind::kWritten;
  uint64_t pages = 0;
};

// How a filesystem's writeback shows in tracefs: the event with the pages a writeback call wrote, the field
// that holds them and whether it counts bytes (iomap's folio length, in hex) or pages.
struct WrittenEvent {
  std::string_view system, name, field;
  bool bytes_in_hex = false;
};
// The event for a filesystem type ("ext4", "xfs"); nullopt when none counts the caller's pages.
std::optional<WrittenEvent> WrittenEventFor(std::string_view fs_type);

// One line of a tracefs instance's `trace` file (trace_clock mono), as a TraceEvent; nullopt for header lines
// and other events.
std::optional<TraceEvent> ParseTraceLine(std::string_view line, const WrittenEvent& written,
                                         uint64_t page_size);
// Adds each event's pages to the record of the call of the same thread that was running at the event's time.
// Events outside every call are ignored (the flusher's, or a writer's).
void AttributeEvents(std::span<const TraceEvent> events, std::span<SyncCallRecord> records);
// The value of `key` in /proc/vmstat's text; 0 when absent.
uint64_t VmstatValue(std::string_view vmstat_text, std::string_view key);

class WritebackTrace {
 public:
  enum class Source { kTracefs, kVmstat };

  // Root with tracefs mounted and an event for fs_type: a tracefs instance longpin-PID with that event and
  // writeback:folio_wait_writeback, clocked on CLOCK_MONOTONIC, events only from the threads that called
  // AddThread(). own_mount_namespace: the process runs in a mount namespace of its own (a scratch filesystem
  // run), where tracefs may be mounted when it is not: invisible to the system, gone with the process.
  // Else vmstat, and note() says why.
  static WritebackTrace Open(std::string_view fs_type, bool own_mount_namespace = false);
  WritebackTrace() = default;
  WritebackTrace(WritebackTrace&& other) noexcept;
  WritebackTrace& operator=(WritebackTrace&& other) noexcept;
  WritebackTrace(const WritebackTrace&) = delete;
  WritebackTrace& operator=(const WritebackTrace&) = delete;
  ~WritebackTrace();  // removes the instance

  Source source() const { return source_; }
  // "tracefs ext4:ext4_writepages_result" or "vmstat nr_written (system-wide)".
  std::string source_name() const;
  const std::string& note() const { return note_; }  // why tracefs is not used; "" when it is

  // Called by each syncing thread before its first sync (a write to tracefs: not on the per-sync path).
  void AddThread(int tid) const;
  // Reads the events since the last call, adds them to the records, and empties the buffer. Returns the
  // number of events the kernel dropped (buffer full) in that time.
  uint64_t Collect(std::span<SyncCallRecord> records);

 private:
  void RemoveInstance();

  Source source_ = Source::kVmstat;
  std::string note_;
  std::string instance_;  // the instance's directory under tracefs
  std::optional<WrittenEvent> written_;
  uint64_t page_size_ = 4096;
};

// Per syncing thread: measures one call at a time. Open()s /proc/vmstat once when the source is vmstat.
class SyncProbe {
 public:
  explicit SyncProbe(const WritebackTrace& trace);
  SyncProbe(const SyncProbe&) = delete;
  SyncProbe& operator=(const SyncProbe&) = delete;
  ~SyncProbe();
  void Before();
  void After(SyncCallRecord& r);  // fills off_cpu_ns, and pages_written from vmstat

 private:
  uint64_t ReadWritten();
  int vmstat_fd_ = -1;
  uint64_t cpu0_ = 0, written0_ = 0;
  char buffer_[16384];
};

}  // namespace longpin
