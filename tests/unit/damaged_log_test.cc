// A damaged expected log or state never blames the kernel: the reader names the first bad byte offset
// (EBADMSG), `longpin verify` exits 3; what a cut leaves (a lost tail) is judged with what the log knows and
// never yields a violation. And `verify` reads DIR/expected.log, so a moved state directory works.
#include <fcntl.h>
#include <ftw.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "core/block_stamp.h"
#include "core/expected_log.h"
#include "tests/temp_dir.h"
#include "verifiers/disk_reader.h"
#include "verifiers/expected_state.h"
#include "verifiers/oracle.h"
#include "workloads/run.h"
#include "workloads/run_state.h"
#include "workloads/verify.h"

namespace longpin {
namespace {

using TempDir = test::TempDir;

constexpr uint64_t kRun = 0x5eed1234abcdULL;
constexpr uint64_t kBlocks = 64;
constexpr size_t kBlockSize = 4096;

std::string ReadAll(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

void WriteAll(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(bytes.data(), std::streamsize(bytes.size()));
}

// A small real log: two writer lanes and a syncer lane, chunks published often (many frames), syncs between
// the writes, every block's final generation recorded in `final_gen`.
void WriteRunLog(const std::string& path, std::vector<uint64_t>* final_gen, bool clean = true) {
  auto log = ExpectedLog::Create(path, kRun, kBlockSize, kBlocks, false);
  ASSERT_TRUE(log.ok()) << log.status().message();
  LogLane* writers[2] = {(*log)->NewLane(), (*log)->NewLane()};
  LogLane* syncer = (*log)->NewLane();
  final_gen->assign(kBlocks, 0);
  uint64_t sync_id = 0;
  for (int round = 0; round < 12; ++round) {
    for (uint64_t b = 0; b < kBlocks; ++b) {
      LogLane* lane = writers[b % 2];
      const uint64_t gen = ++(*final_gen)[b];
      lane->Append(RecordType::kWrite, uint8_t(b % 2 ? WriterKind::kPwrite : WriterKind::kCpu),
                   uint16_t(b % 2), 0, b, gen);
      if (b % 16 == 15) lane->Publish();
    }
    ++sync_id;
    syncer->Append(RecordType::kSyncStart, uint8_t(SyncOpKind::kFsync), 0, 0, sync_id, 1000 * sync_id);
    syncer->Append(RecordType::kSyncEnd, uint8_t(SyncOpKind::kFsync), 0, 0, sync_id, 500);
    syncer->Publish();
  }
  for (LogLane* l : writers) l->Publish();
  ASSERT_TRUE((*log)->Close(clean).ok());
}

// The disk after the run: every block intact at its final generation.
DiskImage FinalDisk(const std::vector<uint64_t>& final_gen) {
  DiskImage d;
  for (uint64_t g : final_gen) {
    BlockVerdict v;
    v.cls = BlockClass::kIntact;
    v.generation = g;
    d.verdicts.push_back(v);
  }
  return d;
}

TEST(DamagedLog, UndamagedRunLogJudgesClean) {
  TempDir dir;
  const std::string path = dir.path() + "/expected.log";
  std::vector<uint64_t> final_gen;
  WriteRunLog(path, &final_gen);
  auto log = ReadExpectedLog(path);
  ASSERT_TRUE(log.ok()) << log.status().message();
  EXPECT_TRUE(log->complete());
  EXPECT_FALSE(log->truncated);
  const ExpectedState st = BuildExpectedState(*log);
  EXPECT_GT(st.promise_seq, 0u);
  const Verification v = Judge(st, FinalDisk(final_gen), VerifyMode::kCrash);
  EXPECT_EQ(v.kernel_violations, 0u);
  EXPECT_EQ(v.checked_blocks, kBlocks);
}

// A flipped bit anywhere after the header fails the check of the chunk it is in: the reader names the chunk's
// frame offset, never the kernel.
TEST(DamagedLog, EveryFlippedBitIsFoundAndNamed) {
  TempDir dir;
  const std::string path = dir.path() + "/expected.log", damaged = dir.path() + "/damaged.log";
  std::vector<uint64_t> final_gen;
  WriteRunLog(path, &final_gen);
  const std::string bytes = ReadAll(path);
  for (size_t off = sizeof(LogFileHeader); off < bytes.size(); off += 7) {
    std::string b = bytes;
    b[off] = char(b[off] ^ (1 << (off % 8)));
    WriteAll(damaged, b);
    auto log = ReadExpectedLog(damaged);
    ASSERT_FALSE(log.ok()) << "flip at byte " << off << " not found";
    EXPECT_EQ(log.status().err(), EBADMSG);
    const std::string msg = log.status().message();
    const size_t at = msg.find("damaged at byte ");
    ASSERT_NE(at, std::string::npos) << msg;
    const uint64_t named = std::stoull(msg.substr(at + 16));
    EXPECT_LE(named, off) << msg;
    EXPECT_GT(named + 32 * (LogLane::kChunkRecords + 1), off) << msg;
  }
}

// A record whose checks are right but whose meaning is impossible (a generation no run issues, a block
// outside the target) is an error of the log, never a kernel violation.
TEST(DamagedLog, ImpossibleGenerationIsAnErrorOfTheLog) {
  TempDir dir;
  for (uint64_t gen : {uint64_t{0}, uint64_t{72057594037928125ULL}}) {
    const std::string path = dir.path() + "/gen" + std::to_string(gen) + ".log";
    auto log = ExpectedLog::Create(path, kRun, kBlockSize, kBlocks, false);
    ASSERT_TRUE(log.ok());
    LogLane* lane = (*log)->NewLane();
    lane->Append(RecordType::kWrite, uint8_t(WriterKind::kCpu), 0, 0, 7, 1);
    lane->Append(RecordType::kWrite, uint8_t(WriterKind::kCpu), 0, 0, 7, gen);
    lane->Publish();
    ASSERT_TRUE((*log)->Close(true).ok());
    auto read = ReadExpectedLog(path);
    ASSERT_FALSE(read.ok());
    EXPECT_EQ(read.status().err(), EBADMSG);
    EXPECT_NE(read.status().message().find("impossible generation"), std::string::npos)
        << read.status().message();
    // The second record of the first chunk: header 64, frame 32, first record 32.
    EXPECT_NE(read.status().message().find("damaged at byte 128"), std::string::npos)
        << read.status().message();
  }
  const std::string path = dir.path() + "/block.log";
  auto log = ExpectedLog::Create(path, kRun, kBlockSize, kBlocks, false);
  ASSERT_TRUE(log.ok());
  LogLane* lane = (*log)->NewLane();
  lane->Append(RecordType::kWrite, uint8_t(WriterKind::kCpu), 0, 0, kBlocks, 1);
  lane->Publish();
  ASSERT_TRUE((*log)->Close(true).ok());
  auto read = ReadExpectedLog(path);
  ASSERT_FALSE(read.ok());
  EXPECT_NE(read.status().message().find("beyond the target"), std::string::npos) << read.status().message();
}

// A power cut loses the log's tail: the records after the last durable publish. Whatever the disk then holds
// above what the log knows (a newer generation, whole or torn with the newest known one, a block whose only
// writes were lost) is counted as beyond_log, never a violation.
TEST(DamagedLog, LostTailNeverYieldsAViolationBeyondWhatTheLogKnows) {
  TempDir dir;
  const std::string path = dir.path() + "/expected.log";
  std::vector<uint64_t> final_gen;
  WriteRunLog(path, &final_gen, /*clean=*/false);
  const std::string bytes = ReadAll(path);
  // Cut at each frame boundary (a whole chunk lost) and at each 4 KiB boundary (a chunk lost in part).
  std::vector<size_t> cuts;
  for (size_t off = 4096; off < bytes.size(); off += 4096) cuts.push_back(off);
  {
    auto whole = ReadExpectedLog(path);
    ASSERT_TRUE(whole.ok());
  }
  for (size_t off = sizeof(LogFileHeader); off < bytes.size();) {
    ChunkFrame f;
    std::memcpy(&f, bytes.data() + off, sizeof f);
    off += 32 * (size_t{f.count} + 1);
    cuts.push_back(off);
  }
  int judged = 0;
  for (size_t cut : cuts) {
    WriteAll(path, bytes.substr(0, cut));
    auto log = ReadExpectedLog(path);
    ASSERT_TRUE(log.ok()) << "cut at " << cut << ": " << log.status().message();
    EXPECT_FALSE(log->complete());
    const ExpectedState st = BuildExpectedState(*log);
    // What the disk may hold after the cut: per block, the newest generation whole; where the log lost that
    // write, torn with the one before it, or torn with zeros (a block whose writes were all lost).
    for (int variant = 0; variant < 3; ++variant) {
      DiskImage d = FinalDisk(final_gen);
      for (uint64_t b = 0; b < kBlocks; ++b) {
        BlockVerdict& v = d.verdicts[b];
        if (variant == 1 && final_gen[b] > 1 && final_gen[b] > st.blocks[b].max_issued) {
          v.cls = BlockClass::kTorn;
          v.min_generation = final_gen[b] - 1;
        } else if (variant == 2 && st.blocks[b].max_issued == 0) {
          v.cls = BlockClass::kTorn;
          v.min_generation = 0;
          v.has_zero_words = true;
        }
      }
      const Verification j = Judge(st, d, VerifyMode::kCrash);
      EXPECT_EQ(j.kernel_violations, 0u)
          << "cut at " << cut << " variant " << variant << ": "
          << (j.violations.empty()
                  ? ""
                  : j.violations[0].kind + " block " + std::to_string(j.violations[0].block));
      ++judged;
    }
  }
  EXPECT_GT(judged, 10);
}

// A gap (records lost in the middle: a killed run's unpublished chunks, a later page of the last flush on
// disk and an earlier one not): the log is not complete, its promises stand, and a block newer than the log
// knows (its newest write was in the gap) is not judged, even torn and quiet by what the log shows.
TEST(DamagedLog, GapMakesTheLogIncompleteAndHidesNoViolation) {
  LogContents c;
  c.header.block_size = kBlockSize;
  c.header.block_count = 4;
  c.records = {
      {1, RecordType::kWrite, uint8_t(WriterKind::kCpu), 0, 0, 1, 1},
      // 2 lost: block 1, generation 2
      {3, RecordType::kSyncStart, uint8_t(SyncOpKind::kFsync), 0, 0, 1, 0},
      {4, RecordType::kSyncEnd, uint8_t(SyncOpKind::kFsync), 0, 0, 1, 0},
      {5, RecordType::kEnd, 0, 0, 0, 0, 0},
  };
  c.clean_end = true;
  c.max_seq = 5;
  c.known_below = 2;
  EXPECT_FALSE(c.complete());
  const ExpectedState st = BuildExpectedState(c);
  EXPECT_FALSE(st.log_complete);
  EXPECT_EQ(st.promise_sync_id, 1u);
  EXPECT_EQ(st.blocks[1].kernel_gen, 1u);
  DiskImage d;
  d.verdicts.resize(4);
  d.verdicts[1].cls = BlockClass::kTorn;  // 1..2: generation 2 was in flight, its record in the gap
  d.verdicts[1].min_generation = 1;
  d.verdicts[1].generation = 2;
  Verification v = Judge(st, d, VerifyMode::kCrash);
  EXPECT_EQ(v.kernel_violations, 0u);
  EXPECT_EQ(v.beyond_log, 1u);
  // The same block torn below the promise is still a violation: the log knows generation 1 was promised.
  d.verdicts[1].min_generation = 0;
  d.verdicts[1].has_zero_words = true;
  v = Judge(st, d, VerifyMode::kCrash);
  EXPECT_EQ(v.kernel_violations, 1u);
  // With the log whole, generation 2 is known and promised: torn 1..2 of the quiet block is a violation.
  c.known_below = UINT64_MAX;
  c.records.insert(c.records.begin() + 1, {2, RecordType::kWrite, uint8_t(WriterKind::kCpu), 0, 0, 1, 2});
  d.verdicts[1].min_generation = 1;
  d.verdicts[1].has_zero_words = false;
  EXPECT_EQ(Judge(BuildExpectedState(c), d, VerifyMode::kCrash).kernel_violations, 1u);
}

// 1000 seeded, randomly damaged logs (bit flips, byte runs overwritten, truncations, or both): each one is
// refused with EBADMSG naming an offset, or, where the damage is exactly what a cut leaves, judged with 0
// kernel violations. Never a verdict about the kernel from a damaged log.
TEST(DamagedLog, ThousandSeededDamagedLogsNeverBlameTheKernel) {
  TempDir dir;
  const std::string path = dir.path() + "/expected.log", damaged = dir.path() + "/damaged.log";
  std::vector<uint64_t> final_gen;
  WriteRunLog(path, &final_gen);
  const std::string bytes = ReadAll(path);
  const DiskImage disk = FinalDisk(final_gen);
  int refused = 0, judged = 0;
  for (uint32_t seed = 1; seed <= 1000; ++seed) {
    std::mt19937_64 rng(seed);
    std::string b = bytes;
    const int how = int(rng() % 4);  // 0 flips, 1 overwritten run, 2 truncation, 3 flips + truncation
    bool only_cut = how == 2;
    if (how == 0 || how == 3) {
      const int flips = 1 + int(rng() % 8);
      for (int i = 0; i < flips; ++i) {
        const size_t off = sizeof(LogFileHeader) + rng() % (b.size() - sizeof(LogFileHeader));
        b[off] = char(b[off] ^ (1 << (rng() % 8)));
      }
    }
    if (how == 1) {
      const size_t off = sizeof(LogFileHeader) + rng() % (b.size() - sizeof(LogFileHeader));
      const size_t len = 1 + rng() % 64;
      for (size_t i = off; i < std::min(b.size(), off + len); ++i) b[i] = char(rng());
    }
    if (how == 2 || how == 3) b.resize(sizeof(LogFileHeader) + rng() % (b.size() - sizeof(LogFileHeader)));
    WriteAll(damaged, b);
    auto log = ReadExpectedLog(damaged);
    if (!log.ok()) {
      ++refused;
      EXPECT_EQ(log.status().err(), EBADMSG) << "seed " << seed << ": " << log.status().message();
      EXPECT_NE(log.status().message().find("damaged at byte "), std::string::npos) << log.status().message();
      continue;
    }
    // Accepted: only a cut may be (flips and overwrites never pass the checks).
    EXPECT_TRUE(only_cut || b.size() < bytes.size())
        << "seed " << seed << " damage " << how << " passed the checks";
    ++judged;
    const Verification v = Judge(BuildExpectedState(*log), disk, VerifyMode::kCrash);
    EXPECT_EQ(v.kernel_violations, 0u) << "seed " << seed << " damage " << how;
  }
  EXPECT_EQ(refused + judged, 1000);
  EXPECT_GT(refused, 800);  // a cut at a 4 KiB boundary or between chunks is rare among random cuts
  std::printf("1000 damaged logs: %d refused (exit 3), %d accepted as a cut log, 0 kernel violations\n",
              refused, judged);
}

// `longpin verify --state-dir DIR`: DIR/expected.log, not the path the run stored; damaged state or log: 3.
class VerifyState : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(dir_.path().empty());
    state_ = dir_.path() + "/state";
    ASSERT_EQ(::mkdir(state_.c_str(), 0755), 0);
    target_ = dir_.path() + "/target";
    WriteRunLog(state_ + "/expected.log", &final_gen_);
    // The target: every block stamped at its final generation.
    StampPattern pattern(kRun, kBlockSize);
    std::vector<uint64_t> block(kBlockSize / 8);
    std::string bytes;
    for (uint64_t b = 0; b < kBlocks; ++b) {
      StampBlock(pattern,
                 {kRun, b, final_gen_[b], b % 2 ? WriterKind::kPwrite : WriterKind::kCpu, uint32_t(b % 2), 0},
                 reinterpret_cast<std::byte*>(block.data()));
      bytes.append(reinterpret_cast<const char*>(block.data()), kBlockSize);
    }
    WriteAll(target_, bytes);
    RunState s;
    s.run_id = kRun;
    s.target_path = target_;
    s.block_size = kBlockSize;
    s.block_count = kBlocks;
    s.fs = "ext4";
    s.log_path = "/nonexistent/elsewhere/expected.log";  // what a moved directory leaves behind
    s.crash_model = "power-cut";
    ASSERT_TRUE(WriteRunState(state_, s).ok());
  }
  TempDir dir_;
  std::string state_, target_;
  std::vector<uint64_t> final_gen_;
};

TEST_F(VerifyState, MovedStateDirectoryReadsItsOwnLog) {
  RunReport r = VerifyFromState(state_, "");
  EXPECT_EQ(r.exit_code(), kExitPass)
      << VerdictName(r.verdict) << ": " << (r.reasons.empty() ? "" : r.reasons[0]);
  EXPECT_EQ(r.expected_log_path, state_ + "/expected.log");
  ASSERT_TRUE(r.verification.has_value());
  EXPECT_EQ(r.verification->kernel_violations, 0u);
  EXPECT_EQ(r.verification->checked_blocks, kBlocks);
}

TEST_F(VerifyState, DamagedLogExitsThreeNamingTheOffset) {
  std::string log = ReadAll(state_ + "/expected.log");
  log[1000] = char(log[1000] ^ 0x10);
  WriteAll(state_ + "/expected.log", log);
  RunReport r = VerifyFromState(state_, "");
  EXPECT_EQ(r.exit_code(), kExitError);
  ASSERT_FALSE(r.reasons.empty());
  EXPECT_NE(r.reasons[0].find("damaged at byte "), std::string::npos) << r.reasons[0];
  EXPECT_FALSE(r.verification.has_value() && r.verification->kernel_violations > 0);
}

TEST_F(VerifyState, DamagedStateExitsThree) {
  std::string st = ReadAll(state_ + "/state.json");
  const size_t at = st.find("\"block_count\": 64");
  ASSERT_NE(at, std::string::npos) << st;
  st.replace(at, 17, "\"block_count\": 65");  // valid JSON, wrong value: only the check sees it
  WriteAll(state_ + "/state.json", st);
  RunReport r = VerifyFromState(state_, "");
  EXPECT_EQ(r.exit_code(), kExitError);
  ASSERT_FALSE(r.reasons.empty());
  EXPECT_NE(r.reasons[0].find("damaged"), std::string::npos) << r.reasons[0];

  WriteAll(state_ + "/state.json", "{\"state_version\": 2, \"run_id\": ");
  r = VerifyFromState(state_, "");
  EXPECT_EQ(r.exit_code(), kExitError);
  ASSERT_FALSE(r.reasons.empty());
  EXPECT_NE(r.reasons[0].find("damaged at byte"), std::string::npos) << r.reasons[0];
}

TEST_F(VerifyState, MissingStateIsUsageMissingLogIsAnError) {
  RunReport r = VerifyFromState(dir_.path() + "/nothing-here", "");
  EXPECT_EQ(r.exit_code(), kExitUsage);
  ASSERT_EQ(::unlink((state_ + "/expected.log").c_str()), 0);
  r = VerifyFromState(state_, "");
  EXPECT_EQ(r.exit_code(), kExitError);
}

TEST_F(VerifyState, Version1StateStaysReadable) {
  WriteAll(state_ + "/state.json", "{\"state_version\": 1, \"run_id\": " + std::to_string(kRun) +
                                       ", \"target_path\": \"" + target_ +
                                       "\", \"block_size\": 4096, "
                                       "\"block_count\": 64, \"log_path\": \"/old/place/expected.log\"}\n");
  RunReport r = VerifyFromState(state_, "");
  EXPECT_EQ(r.exit_code(), kExitPass) << (r.reasons.empty() ? "" : r.reasons[0]);
}

}  // namespace
}  // namespace longpin
