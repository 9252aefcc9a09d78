// ExpectedLog: lanes appending from several threads, read back whole with unique sequence numbers; a log cut
// mid-record keeps what came before it; a file that is not a log is refused.
#include "core/expected_log.h"

#include <fcntl.h>
#include <ftw.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include <cstdlib>
#include <map>
#include <set>
#include <thread>
#include <vector>

namespace longpin {
namespace {

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/longpin-unit-XXXXXX";
    const char* made = ::mkdtemp(tmpl);
    path_ = made ? made : "";
  }
  ~TempDir() {
    if (!path_.empty())
      ::nftw(
          path_.c_str(), [](const char* p, const struct stat*, int, FTW*) { return ::remove(p); }, 16,
          FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

constexpr uint64_t kRunId = 0xfeedface;

std::unique_ptr<ExpectedLog> MustCreate(const std::string& path, bool durable = false) {
  auto log = ExpectedLog::Create(path, kRunId, 4096, 1000, durable);
  EXPECT_TRUE(log.ok()) << log.status().message();
  return log.ok() ? std::move(*log) : nullptr;
}

// Writes a clean log of `n` writes from one lane: records 1..n, then the end record.
void WriteSmallLog(const std::string& path, int n) {
  auto log = MustCreate(path);
  ASSERT_TRUE(log);
  LogLane* lane = log->NewLane();
  ASSERT_NE(lane, nullptr);
  for (int i = 0; i < n; ++i) lane->Append(RecordType::kWrite, 1, 0, 0, uint64_t(i), uint64_t(i) + 1);
  lane->Publish();
  ASSERT_TRUE(log->Close(true).ok());
}

TEST(ExpectedLog, LanesFromManyThreadsAreReadBackWhole) {
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  const std::string path = dir.path() + "/expected.log";
  auto log = MustCreate(path, /*durable=*/true);
  ASSERT_TRUE(log);
  constexpr int kThreads = 4;
  // More than a chunk per lane, so chunk hand-off and slot reuse are exercised.
  constexpr uint64_t kPerThread = 3 * LogLane::kChunkRecords + 123;
  std::vector<LogLane*> lanes;
  for (int t = 0; t < kThreads; ++t) lanes.push_back(log->NewLane());
  std::vector<std::vector<uint64_t>> returned(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      returned[t].reserve(kPerThread);
      for (uint64_t i = 0; i < kPerThread; ++i)
        returned[t].push_back(lanes[t]->Append(RecordType::kWrite, 1, uint16_t(t), 0, i % 1000, i + 1));
      lanes[t]->Publish();
    });
  }
  for (auto& th : threads) th.join();
  ASSERT_TRUE(log->Close(true).ok());

  // What one thread appended carries increasing numbers: the order the oracle relies on.
  for (int t = 0; t < kThreads; ++t)
    for (size_t i = 1; i < returned[t].size(); ++i)
      ASSERT_LT(returned[t][i - 1], returned[t][i]) << "thread " << t;

  auto contents = ReadExpectedLog(path);
  ASSERT_TRUE(contents.ok()) << contents.status().message();
  EXPECT_EQ(contents->header.run_id, kRunId);
  EXPECT_EQ(contents->header.block_size, 4096u);
  EXPECT_EQ(contents->header.block_count, 1000u);
  EXPECT_TRUE(contents->clean_end);
  EXPECT_FALSE(contents->truncated);
  ASSERT_EQ(contents->records.size(), kThreads * kPerThread + 1);  // + the end record

  std::set<uint64_t> seqs;
  std::map<uint16_t, std::vector<const LogRecord*>> by_thread;
  for (const LogRecord& r : contents->records) {
    EXPECT_TRUE(seqs.insert(r.seq).second) << "duplicate seq " << r.seq;
    if (r.type == RecordType::kWrite) by_thread[r.actor].push_back(&r);
  }
  ASSERT_EQ(by_thread.size(), size_t{kThreads});
  for (const auto& [actor, recs] : by_thread) {
    ASSERT_EQ(recs.size(), kPerThread);
    // A lane's records arrive in its append order, with rising seq, and match what Append returned.
    for (size_t i = 0; i < recs.size(); ++i) {
      ASSERT_EQ(recs[i]->a, i % 1000) << "thread " << actor;
      ASSERT_EQ(recs[i]->b, i + 1);
      ASSERT_EQ(recs[i]->seq, returned[actor][i]);
      if (i > 0) {
        ASSERT_LT(recs[i - 1]->seq, recs[i]->seq);
      }
    }
  }
}

TEST(ExpectedLog, CloseWithoutCleanEndIsNotComplete) {
  TempDir dir;
  const std::string path = dir.path() + "/expected.log";
  auto log = MustCreate(path);
  ASSERT_TRUE(log);
  LogLane* lane = log->NewLane();
  lane->Append(RecordType::kWrite, 1, 0, 0, 1, 1);
  lane->Publish();
  ASSERT_TRUE(log->Close(false).ok());
  auto contents = ReadExpectedLog(path);
  ASSERT_TRUE(contents.ok()) << contents.status().message();
  EXPECT_FALSE(contents->clean_end);
  EXPECT_EQ(contents->records.size(), 1u);
}

TEST(ExpectedLog, CreateRefusesAnExistingFile) {
  TempDir dir;
  const std::string path = dir.path() + "/expected.log";
  WriteSmallLog(path, 1);
  auto again = ExpectedLog::Create(path, kRunId, 4096, 1000, false);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().err(), EEXIST);
  EXPECT_NE(again.status().message().find(path), std::string::npos) << again.status().message();
}

// Format v2: chunks behind frames. A cut at a 4 KiB boundary (the size reached the disk a page at a time)
// loses the chunk it falls in, not the ones before; a cut anywhere else is damage, an error naming where.
TEST(ExpectedLog, CutAtAPageBoundaryLosesOnlyTheCutChunk) {
  TempDir dir;
  const std::string path = dir.path() + "/expected.log";
  {
    auto log = MustCreate(path);
    ASSERT_TRUE(log);
    LogLane* lane = log->NewLane();
    for (int i = 0; i < 100; ++i) lane->Append(RecordType::kWrite, 1, 0, 0, uint64_t(i), 1);
    lane->Publish();  // one chunk of 100 records: bytes 64 .. 64 + 32 * 101
    for (int i = 100; i < 400; ++i) lane->Append(RecordType::kWrite, 1, 0, 0, uint64_t(i), 1);
    lane->Publish();  // the second chunk, 300 records, across the 4 KiB boundary
    ASSERT_TRUE(log->Close(false).ok());
  }
  ASSERT_EQ(::truncate(path.c_str(), 8192), 0);
  auto contents = ReadExpectedLog(path);
  ASSERT_TRUE(contents.ok()) << contents.status().message();
  EXPECT_TRUE(contents->truncated);
  EXPECT_FALSE(contents->clean_end);
  EXPECT_FALSE(contents->complete());
  EXPECT_EQ(contents->first_lost_offset, sizeof(LogFileHeader) + 101 * sizeof(LogRecord));
  ASSERT_EQ(contents->records.size(), 100u);
  EXPECT_EQ(contents->known_below, 101u);
  for (size_t i = 0; i < 100; ++i) EXPECT_EQ(contents->records[i].a, i);

  // 13 bytes into a record, not at a page boundary: not what a cut leaves.
  ASSERT_EQ(::truncate(path.c_str(), off_t(sizeof(LogFileHeader) + 140 * sizeof(LogRecord) + 13)), 0);
  auto damaged = ReadExpectedLog(path);
  ASSERT_FALSE(damaged.ok());
  EXPECT_EQ(damaged.status().err(), EBADMSG);
  EXPECT_NE(damaged.status().message().find("damaged at byte " + std::to_string(64 + 101 * 32)),
            std::string::npos)
      << damaged.status().message();
}

// Format v1 (no frames, no checks) stays readable: a cut mid-record keeps the records before it.
TEST(ExpectedLog, Version1LogsStayReadable) {
  TempDir dir;
  const std::string path = dir.path() + "/v1.log";
  LogFileHeader h{};
  h.magic = kLogMagic;
  h.version = kLogVersionV1;
  h.record_size = sizeof(LogRecord);
  h.run_id = kRunId;
  h.block_size = 4096;
  h.block_count = 1000;
  h.check = XXH64(&h, offsetof(LogFileHeader, check), 0);
  std::string bytes(reinterpret_cast<const char*>(&h), sizeof h);
  for (uint64_t i = 0; i < 41; ++i) {
    LogRecord r{i + 1, RecordType::kWrite, 1, 0, 0, i, 1};
    bytes.append(reinterpret_cast<const char*>(&r), sizeof r);
  }
  bytes.resize(sizeof h + 40 * sizeof(LogRecord) + 13);
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::write(fd, bytes.data(), bytes.size()), ssize_t(bytes.size()));
  ::close(fd);
  auto contents = ReadExpectedLog(path);
  ASSERT_TRUE(contents.ok()) << contents.status().message();
  EXPECT_EQ(contents->header.version, kLogVersionV1);
  EXPECT_TRUE(contents->truncated);
  EXPECT_FALSE(contents->clean_end);
  ASSERT_EQ(contents->records.size(), 40u);
  EXPECT_EQ(contents->known_below, 41u);
  for (size_t i = 0; i < 40; ++i) {
    EXPECT_EQ(contents->records[i].a, i);
    EXPECT_EQ(contents->records[i].type, RecordType::kWrite);
  }
}

TEST(ExpectedLog, ZeroFilledTailIsAHoleNotARecord) {
  TempDir dir;
  const std::string path = dir.path() + "/expected.log";
  WriteSmallLog(path, 10);
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  // A crash can leave the file extended without its data: whole zero records.
  ASSERT_EQ(::truncate(path.c_str(), st.st_size + off_t(3 * sizeof(LogRecord))), 0);
  auto contents = ReadExpectedLog(path);
  ASSERT_TRUE(contents.ok()) << contents.status().message();
  EXPECT_TRUE(contents->truncated);
  EXPECT_TRUE(contents->clean_end);
  EXPECT_EQ(contents->records.size(), 11u);
}

TEST(ExpectedLog, BadMagicIsRefused) {
  TempDir dir;
  const std::string path = dir.path() + "/expected.log";
  WriteSmallLog(path, 3);
  int fd = ::open(path.c_str(), O_WRONLY);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::pwrite(fd, "XXXX", 4, 0), 4);
  ::close(fd);
  auto contents = ReadExpectedLog(path);
  ASSERT_FALSE(contents.ok());
  EXPECT_NE(contents.status().message().find(path), std::string::npos) << contents.status().message();
}

TEST(ExpectedLog, HeaderChecksumMismatchIsRefused) {
  TempDir dir;
  const std::string path = dir.path() + "/expected.log";
  WriteSmallLog(path, 3);
  int fd = ::open(path.c_str(), O_WRONLY);
  ASSERT_GE(fd, 0);
  const uint64_t other_run = 1;
  ASSERT_EQ(::pwrite(fd, &other_run, sizeof other_run, offsetof(LogFileHeader, run_id)), 8);
  ::close(fd);
  EXPECT_FALSE(ReadExpectedLog(path).ok());
}

TEST(ExpectedLog, ShortOrMissingFileIsRefused) {
  TempDir dir;
  const std::string path = dir.path() + "/short.log";
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::write(fd, "LPLOG", 5), 5);
  ::close(fd);
  EXPECT_FALSE(ReadExpectedLog(path).ok());
  auto missing = ReadExpectedLog(dir.path() + "/nope.log");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().err(), ENOENT);
}

}  // namespace
}  // namespace longpin
