// Pages written per sync call: tracefs lines parsed and matched to the calls that ran them, /proc/vmstat
// read.
#include "core/writeback_trace.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/magic.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <vector>

#include "core/hang_watchdog.h"
#include "tests/temp_dir.h"

namespace longpin {
namespace {

const WrittenEvent kExt4 = *WrittenEventFor("ext4");
const WrittenEvent kXfs = *WrittenEventFor("xfs");

TEST(WritebackTrace, ParsesExt4WritepagesResult) {
  auto ev = ParseTraceLine(
      "  longpin-syncer-4321    [001] .....  1234.567890: ext4_writepages_result: dev 7,0 ino 12 ret 0 "
      "pages_written 37 pages_skipped 0 sync_mode 1 writeback_index 99",
      kExt4, 4096);
  ASSERT_TRUE(ev);
  EXPECT_EQ(ev->pid, 4321);
  EXPECT_EQ(ev->ts_ns, 1234567890000ULL);
  EXPECT_EQ(ev->kind, TraceEvent::Kind::kWritten);
  EXPECT_EQ(ev->pages, 37u);
}

TEST(WritebackTrace, ParsesIomapFolioLengthInPagesRoundedUp) {
  auto ev = ParseTraceLine(
      "           <...>-77      [000] ..... 10.000001: iomap_writeback_folio: dev 7:1 ino 0x83 size 0x100000 "
      "offset 0x4000 length 0x5000",
      kXfs, 4096);
  ASSERT_TRUE(ev);
  EXPECT_EQ(ev->pid, 77);
  EXPECT_EQ(ev->ts_ns, 10000001000ULL);
  EXPECT_EQ(ev->pages, 5u);
}

TEST(WritebackTrace, ParsesWaitWithTgidColumnAndDashedComm) {
  auto ev = ParseTraceLine(
      "  a-b-c-900 (    899) [003] d..1.    5.5: folio_wait_writeback: bdi 7:0: ino=12 index=3", kExt4, 4096);
  ASSERT_TRUE(ev);
  EXPECT_EQ(ev->pid, 900);
  EXPECT_EQ(ev->ts_ns, 5500000000ULL);
  EXPECT_EQ(ev->kind, TraceEvent::Kind::kWaited);
  EXPECT_EQ(ev->pages, 1u);
}

TEST(WritebackTrace, IgnoresHeadersOtherEventsAndFieldlessLines) {
  EXPECT_FALSE(ParseTraceLine("# entries-in-buffer/entries-written: 3/3   #P:2", kExt4, 4096));
  EXPECT_FALSE(ParseTraceLine("  x-1 [000] ..... 1.000000: ext4_writepages: dev 7,0 ino 12 nr_to_write 5",
                              kExt4, 4096));
  EXPECT_FALSE(
      ParseTraceLine("  x-1 [000] ..... 1.000000: ext4_writepages_result: dev 7,0 ino 12", kExt4, 4096));
  EXPECT_FALSE(ParseTraceLine("", kExt4, 4096));
}

TEST(WritebackTrace, AttributesEventsToTheCallOfTheSameThreadRunningThen) {
  std::vector<SyncCallRecord> records(3);
  records[0] = {.start_ns = 1000000, .duration_ns = 500000, .tid = 10};
  records[1] = {.start_ns = 2000000, .duration_ns = 500000, .tid = 10};
  records[2] = {.start_ns = 1000000, .duration_ns = 3000000, .tid = 11};
  std::vector<TraceEvent> events = {
      {10, 1000000, TraceEvent::Kind::kWritten, 4},    // first call of 10, at its very start
      {10, 1499000, TraceEvent::Kind::kWritten, 2},    // first call of 10
      {10, 1700000, TraceEvent::Kind::kWritten, 100},  // between 10's calls: the flusher's, not a sync's
      {10, 2100000, TraceEvent::Kind::kWaited, 1},     // second call of 10
      {11, 2100000, TraceEvent::Kind::kWritten, 7},    // 11's only call
      {12, 1200000, TraceEvent::Kind::kWritten, 50},   // another thread
      {10, 999500, TraceEvent::Kind::kWritten, 1},     // printed rounded down, still the first call
  };
  AttributeEvents(events, records);
  EXPECT_EQ(records[0].pages_written, 7u);
  EXPECT_EQ(records[1].pages_written, 0u);
  EXPECT_EQ(records[1].pages_waited, 1u);
  EXPECT_EQ(records[2].pages_written, 7u);
  EXPECT_EQ(records[2].pages_waited, 0u);
}

TEST(WritebackTrace, VmstatValueMatchesWholeKeysOnly) {
  const std::string text = "nr_written_extra 5\nnr_dirty 10\nnr_written 123456\nnr_writeback 2\n";
  EXPECT_EQ(VmstatValue(text, "nr_written"), 123456u);
  EXPECT_EQ(VmstatValue(text, "nr_dirty"), 10u);
  EXPECT_EQ(VmstatValue(text, "nr_absent"), 0u);
}

// The vmstat source on the real kernel: an fsync of freshly written pages shows them in nr_written, and the
// time the call slept never exceeds its duration.
TEST(WritebackTrace, VmstatProbeSeesAnFsyncWriteBack) {
  WritebackTrace trace = WritebackTrace::Open("tmpfs");  // no tracepoint for tmpfs: vmstat
  ASSERT_EQ(trace.source(), WritebackTrace::Source::kVmstat);
  EXPECT_NE(trace.note().find("vmstat"), std::string::npos);
  test::TempDir dir("longpin-writeback");
  const std::string path = dir.File("f");
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0600);
  ASSERT_GE(fd, 0);
  std::vector<char> data(64 * 4096, 'x');
  ASSERT_EQ(::write(fd, data.data(), data.size()), ssize_t(data.size()));
  SyncProbe probe(trace);
  SyncCallRecord r;
  probe.Before();
  const auto t0 = std::chrono::steady_clock::now();
  ASSERT_EQ(::fsync(fd), 0);
  r.duration_ns = uint64_t(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0).count());
  probe.After(r);
  ::close(fd);
  if (r.pages_written == 0)
    GTEST_SKIP() << dir.path() << " is not written back to a device (tmpfs?): nr_written did not move";
  EXPECT_GE(r.pages_written, 64u);
  EXPECT_LE(r.off_cpu_ns, r.duration_ns);
}

// The tracefs source on the real kernel, in a child in a mount namespace of its own (as a scratch-filesystem
// run is): an fsync of 64 freshly written pages of a file on ext4 is credited with at least those 64 pages,
// and the instance is gone afterwards. Exit codes of the child say which step failed.
TEST(WritebackTrace, TracefsCreditsAnFsyncWithThePagesItWrote) {
  if (::geteuid() != 0) GTEST_SKIP() << "tracefs needs root";
  test::TempDir dir("longpin-writeback");
  struct statfs fs {};
  ASSERT_EQ(::statfs(dir.path().c_str(), &fs), 0);
  if (fs.f_type != EXT4_SUPER_MAGIC) GTEST_SKIP() << dir.path() << " is not on ext4";
  const std::string path = dir.File("f");
  std::string instance;
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    if (::unshare(CLONE_NEWNS) != 0 || ::mount(nullptr, "/", nullptr, MS_REC | MS_SLAVE, nullptr) != 0)
      _exit(10);
    WritebackTrace trace = WritebackTrace::Open("ext4", true);
    if (trace.source() != WritebackTrace::Source::kTracefs) _exit(11);
    trace.AddThread(int(::gettid()));
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0600);
    std::vector<char> data(64 * 4096, 'x');
    if (fd < 0 || ::write(fd, data.data(), data.size()) != ssize_t(data.size())) _exit(12);
    SyncCallRecord r;
    r.tid = int32_t(::gettid());
    r.start_ns = MonotonicNs();
    if (::fsync(fd) != 0) _exit(13);
    r.duration_ns = MonotonicNs() - r.start_ns;
    ::close(fd);
    std::vector<SyncCallRecord> records = {r};
    if (trace.Collect(records) != 0) _exit(14);
    if (records[0].pages_written < 64 || records[0].pages_written > 80) _exit(15);
    const std::string dir_of_instance = "/sys/kernel/tracing/instances/longpin-" + std::to_string(::getpid());
    struct stat st {};
    if (::stat(dir_of_instance.c_str(), &st) != 0) _exit(16);
    trace = WritebackTrace();  // the destructor of the moved-from trace removes the instance
    if (::stat(dir_of_instance.c_str(), &st) == 0) _exit(17);
    _exit(0);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  if (WEXITSTATUS(status) == 11) GTEST_SKIP() << "no tracefs with ext4:ext4_writepages_result here";
  EXPECT_EQ(WEXITSTATUS(status), 0)
      << "10 namespace, 12 write, 13 fsync, 14 events lost, 15 pages not credited, "
         "16 no instance, 17 instance left behind";
}

}  // namespace
}  // namespace longpin
