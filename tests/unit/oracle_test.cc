// The oracle (BuildExpectedState + Judge) on synthetic logs and synthetic disk verdicts: what a sync
// promises under the kernel and strict contracts, and what no contract allows.
#include "verifiers/oracle.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "verifiers/expected_state.h"

namespace longpin {
namespace {

constexpr uint64_t kBlockSize = 4096;
constexpr uint64_t kBlocks = 8;

// Builds a LogContents record by record, numbering them in the order they are added (the global order).
class LogBuilder {
 public:
  LogBuilder() {
    log_.header.run_id = 0x77;
    log_.header.block_size = kBlockSize;
    log_.header.block_count = kBlocks;
  }
  LogBuilder& Write(uint64_t block, uint64_t gen, WriterKind kind = WriterKind::kCpu, uint32_t epoch = 0) {
    return Add(RecordType::kWrite, uint8_t(kind), 0, epoch, block, gen);
  }
  LogBuilder& WriteFailed(uint64_t block, uint64_t gen, WriterKind kind = WriterKind::kPwrite) {
    return Add(RecordType::kWriteFailed, uint8_t(kind), 0, EIO, block, gen);
  }
  LogBuilder& SyncStart(uint64_t id, SyncOpKind op = SyncOpKind::kFsync) {
    return Add(RecordType::kSyncStart, uint8_t(op), 0, 0, id, 1000 * id);
  }
  LogBuilder& SyncEnd(uint64_t id, int err = 0, SyncOpKind op = SyncOpKind::kFsync) {
    return Add(RecordType::kSyncEnd, uint8_t(op), 0, uint32_t(err), id, 500);
  }
  LogBuilder& Sync(uint64_t id, int err = 0, SyncOpKind op = SyncOpKind::kFsync) {
    return SyncStart(id, op).SyncEnd(id, err, op);
  }
  LogBuilder& Pin(uint32_t epoch) { return Add(RecordType::kPin, 1, 0, epoch, 0, 1 << 20); }
  LogBuilder& Unpin(uint32_t epoch) { return Add(RecordType::kUnpin, 1, 0, epoch, 0, 1 << 20); }
  LogBuilder& Crash() { return Add(RecordType::kCrash, 0, 0, 0, 0, 0); }
  LogBuilder& End() {
    log_.clean_end = true;
    return Add(RecordType::kEnd, 0, 0, 0, 0, 0);
  }
  ExpectedState State() const { return BuildExpectedState(log_); }

 private:
  LogBuilder& Add(RecordType type, uint8_t kind, uint16_t actor, uint32_t aux, uint64_t a, uint64_t b) {
    log_.records.push_back(LogRecord{seq_++, type, kind, actor, aux, a, b});
    return *this;
  }
  LogContents log_;
  uint64_t seq_ = 1;
};

BlockVerdict Zero() {
  return {};
}
BlockVerdict Intact(uint64_t gen) {
  BlockVerdict v;
  v.cls = BlockClass::kIntact;
  v.generation = gen;
  return v;
}
BlockVerdict Torn(uint64_t oldest, uint64_t newest) {
  BlockVerdict v;
  v.cls = BlockClass::kTorn;
  v.min_generation = oldest;
  v.generation = newest;
  return v;
}

// A disk of kBlocks zero blocks, with the given verdicts set.
DiskImage Disk(std::initializer_list<std::pair<uint64_t, BlockVerdict>> set = {}) {
  DiskImage d;
  d.verdicts.assign(kBlocks, Zero());
  for (const auto& [b, v] : set) d.verdicts[b] = v;
  return d;
}

TEST(Oracle, WriteBeforeSyncStartIsPromised) {
  ExpectedState st = LogBuilder().Write(3, 1).Write(3, 2).Sync(1).End().State();
  EXPECT_EQ(st.blocks[3].kernel_gen, 2u);
  EXPECT_EQ(st.blocks[3].strict_gen, 2u);
  EXPECT_EQ(st.promise_sync_id, 1u);

  Verification ok = Judge(st, Disk({{3, Intact(2)}}), VerifyMode::kSync);
  EXPECT_EQ(ok.kernel_violations, 0u);
  EXPECT_EQ(ok.strict_misses, 0u);
  EXPECT_EQ(ok.checked_blocks, kBlocks);
  EXPECT_EQ(ok.classes["intact"], 1u);
  EXPECT_EQ(ok.classes["zero"], kBlocks - 1);
}

TEST(Oracle, PromisedWriteMissingOnDiskIsAKernelViolationNamingEverything) {
  ExpectedState st = LogBuilder().Write(3, 1).Write(3, 2, WriterKind::kPwrite).Sync(7).End().State();
  for (BlockVerdict found : {Zero(), Intact(1)}) {
    Verification v = Judge(st, Disk({{3, found}}), VerifyMode::kSync);
    EXPECT_EQ(v.kernel_violations, 1u);
    ASSERT_EQ(v.violations.size(), 1u);
    const Violation& x = v.violations[0];
    EXPECT_EQ(x.contract, "kernel");
    EXPECT_EQ(x.kind, "lost");
    EXPECT_EQ(x.block, 3u);
    EXPECT_EQ(x.offset, 3 * kBlockSize);
    EXPECT_EQ(x.expected_generation, 2u);
    EXPECT_EQ(x.found_generation, found.generation);
    EXPECT_EQ(x.found, found.cls == BlockClass::kZero ? "zero" : "intact@1");
    EXPECT_EQ(x.writer, "pwrite");
    EXPECT_EQ(x.sync_id, 7u);
    EXPECT_EQ(x.sync_op, "fsync");
  }
}

TEST(Oracle, NewerThanPromisedIsFine) {
  ExpectedState st = LogBuilder().Write(0, 1).Sync(1).Write(0, 2).Write(0, 3).End().State();
  EXPECT_EQ(st.blocks[0].kernel_gen, 1u);
  for (uint64_t gen : {1, 2, 3})
    EXPECT_EQ(Judge(st, Disk({{0, Intact(gen)}}), VerifyMode::kSync).kernel_violations, 0u);
}

TEST(Oracle, WriteRacingTheSyncIsNotPromised) {
  // The write's number comes after the sync's start: it may or may not be in what the sync wrote.
  ExpectedState st = LogBuilder().SyncStart(1).Write(2, 1).SyncEnd(1).End().State();
  EXPECT_EQ(st.blocks[2].kernel_gen, 0u);
  EXPECT_EQ(st.blocks[2].strict_gen, 0u);
  Verification v = Judge(st, Disk(), VerifyMode::kSync);
  EXPECT_EQ(v.kernel_violations, 0u);
  EXPECT_EQ(v.strict_misses, 0u);

  // An older write of the same block before the start is still promised.
  ExpectedState st2 = LogBuilder().Write(2, 1).SyncStart(1).Write(2, 2).SyncEnd(1).End().State();
  EXPECT_EQ(st2.blocks[2].kernel_gen, 1u);
  EXPECT_EQ(Judge(st2, Disk({{2, Intact(1)}}), VerifyMode::kSync).kernel_violations, 0u);
  EXPECT_EQ(Judge(st2, Disk(), VerifyMode::kSync).kernel_violations, 1u);
}

TEST(Oracle, DmaBeforeUnpinWithUnpinAfterSyncStartIsOnlyStrictlyPromised) {
  ExpectedState st =
      LogBuilder().Pin(5).Write(1, 1, WriterKind::kDma, 5).SyncStart(1).Unpin(5).SyncEnd(1).End().State();
  EXPECT_EQ(st.blocks[1].kernel_gen, 0u);
  EXPECT_EQ(st.blocks[1].strict_gen, 1u);

  Verification missing = Judge(st, Disk(), VerifyMode::kSync);
  EXPECT_EQ(missing.kernel_violations, 0u);
  EXPECT_EQ(missing.strict_misses, 1u);
  EXPECT_EQ(missing.strict_by_writer["dma"].promised, 1u);
  EXPECT_EQ(missing.strict_by_writer["dma"].found, 0u);
  ASSERT_EQ(missing.violations.size(), 1u);
  EXPECT_EQ(missing.violations[0].contract, "strict");
  EXPECT_EQ(missing.violations[0].writer, "dma");
  EXPECT_EQ(missing.violations[0].block, 1u);
  EXPECT_EQ(missing.violations[0].sync_id, 1u);

  Verification found = Judge(st, Disk({{1, Intact(1)}}), VerifyMode::kSync);
  EXPECT_EQ(found.strict_misses, 0u);
  EXPECT_EQ(found.strict_by_writer["dma"].found, 1u);
}

TEST(Oracle, DmaStillPinnedAtTheEndIsOnlyStrictlyPromised) {
  ExpectedState st = LogBuilder().Pin(2).Write(4, 1, WriterKind::kDma, 2).Sync(1).End().State();
  EXPECT_EQ(st.blocks[4].kernel_gen, 0u);
  EXPECT_EQ(st.blocks[4].strict_gen, 1u);
  EXPECT_EQ(Judge(st, Disk(), VerifyMode::kSync).kernel_violations, 0u);
}

TEST(Oracle, DmaUnpinnedBeforeSyncStartIsKernelPromised) {
  ExpectedState st = LogBuilder().Pin(5).Write(1, 1, WriterKind::kDma, 5).Unpin(5).Sync(1).End().State();
  EXPECT_EQ(st.blocks[1].kernel_gen, 1u);
  Verification v = Judge(st, Disk(), VerifyMode::kSync);
  EXPECT_EQ(v.kernel_violations, 1u);
  ASSERT_FALSE(v.violations.empty());
  EXPECT_EQ(v.violations[0].contract, "kernel");
  EXPECT_EQ(v.violations[0].writer, "dma");
  // Listed once, under the kernel contract, though it is a strict miss too.
  EXPECT_EQ(v.strict_misses, 1u);
  EXPECT_EQ(v.violations.size(), 1u);
}

TEST(Oracle, OnlyTheUnpinOfTheWritesOwnEpochCounts) {
  ExpectedState st =
      LogBuilder().Pin(5).Pin(6).Write(1, 1, WriterKind::kDma, 5).Unpin(6).Sync(1).Unpin(5).End().State();
  EXPECT_EQ(st.blocks[1].kernel_gen, 0u);
}

TEST(Oracle, FailedSyncPromisesNothingAndLaterSuccessesDoNotPromiseEarlierWrites) {
  ExpectedState st = LogBuilder().Write(0, 1).Sync(1, EIO).Write(1, 1).Sync(2).Sync(3).End().State();
  EXPECT_EQ(st.promise_seq, 0u);
  EXPECT_EQ(st.blocks[0].kernel_gen, 0u);
  EXPECT_EQ(st.blocks[1].kernel_gen, 0u);
  EXPECT_EQ(st.sync_errors["fsync EIO"], 1u);
  Verification v = Judge(st, Disk(), VerifyMode::kSync);
  EXPECT_EQ(v.kernel_violations, 0u);
  EXPECT_EQ(v.strict_misses, 0u);
}

TEST(Oracle, SuccessBeforeAFailureStillPromises) {
  ExpectedState st = LogBuilder().Write(0, 1).Sync(1).Write(1, 1).Sync(2, EIO).Sync(3).End().State();
  EXPECT_EQ(st.promise_sync_id, 1u);
  EXPECT_EQ(st.blocks[0].kernel_gen, 1u);
  EXPECT_EQ(st.blocks[1].kernel_gen, 0u);
  Verification v = Judge(st, Disk(), VerifyMode::kSync);
  EXPECT_EQ(v.kernel_violations, 1u);
  ASSERT_EQ(v.violations.size(), 1u);
  EXPECT_EQ(v.violations[0].block, 0u);
  EXPECT_EQ(v.violations[0].sync_id, 1u);
}

TEST(Oracle, UnfinishedSyncPromisesNothing) {
  ExpectedState st = LogBuilder().Write(0, 1).SyncStart(1).Crash().State();
  EXPECT_EQ(st.blocks[0].kernel_gen, 0u);
  EXPECT_GT(st.crash_seq, 0u);
  EXPECT_EQ(Judge(st, Disk(), VerifyMode::kCrash).kernel_violations, 0u);
}

TEST(Oracle, SyncFileRangePromisesNothing) {
  ExpectedState st = LogBuilder().Write(0, 1).Sync(1, 0, SyncOpKind::kSyncFileRange).End().State();
  EXPECT_EQ(st.promise_seq, 0u);
  EXPECT_EQ(st.blocks[0].kernel_gen, 0u);
  EXPECT_EQ(st.blocks[0].strict_gen, 0u);
  EXPECT_EQ(Judge(st, Disk(), VerifyMode::kSync).kernel_violations, 0u);
}

TEST(Oracle, EveryOtherSyncOpPromises) {
  for (SyncOpKind op :
       {SyncOpKind::kFsync, SyncOpKind::kFdatasync, SyncOpKind::kMsync, SyncOpKind::kSyncfs}) {
    ExpectedState st = LogBuilder().Write(0, 1).Sync(1, 0, op).End().State();
    EXPECT_EQ(st.blocks[0].kernel_gen, 1u) << SyncOpName(op);
    Verification v = Judge(st, Disk(), VerifyMode::kSync);
    ASSERT_EQ(v.kernel_violations, 1u) << SyncOpName(op);
    EXPECT_EQ(v.violations[0].sync_op, SyncOpName(op));
  }
}

TEST(Oracle, TornQuietBlockIsAViolationInEveryMode) {
  ExpectedState st = LogBuilder().Write(0, 1).Write(0, 2).Sync(1).End().State();
  for (VerifyMode mode : {VerifyMode::kSync, VerifyMode::kCrash}) {
    Verification v = Judge(st, Disk({{0, Torn(1, 2)}}), mode);
    EXPECT_EQ(v.kernel_violations, 1u);
    ASSERT_EQ(v.violations.size(), 1u);
    EXPECT_EQ(v.violations[0].kind, "torn");
    EXPECT_EQ(v.violations[0].found, "torn@1..2");
  }
}

TEST(Oracle, TornBlockWrittenAfterThePromiseIsAllowedAtACrash) {
  // Generation 2 was in flight at the crash: half of it on disk over generation 1 is a legal outcome.
  ExpectedState st = LogBuilder().Write(0, 1).Sync(1).Write(0, 2).Crash().End().State();
  EXPECT_EQ(Judge(st, Disk({{0, Torn(1, 2)}}), VerifyMode::kCrash).kernel_violations, 0u);
  // ... but not after a sync check, where a final sync followed every write.
  EXPECT_EQ(Judge(st, Disk({{0, Torn(1, 2)}}), VerifyMode::kSync).kernel_violations, 1u);
  // A tear reaching below the promised generation loses the promise.
  Verification lost = Judge(st, Disk({{0, Torn(0, 2)}}), VerifyMode::kCrash);
  EXPECT_EQ(lost.kernel_violations, 1u);
  ASSERT_EQ(lost.violations.size(), 1u);
  EXPECT_EQ(lost.violations[0].expected_generation, 1u);
  EXPECT_EQ(lost.violations[0].found, "torn@0..2");
}

TEST(Oracle, NeverIssuedGenerationIsAViolation) {
  ExpectedState st = LogBuilder().Write(0, 1).Sync(1).End().State();
  Verification v = Judge(st, Disk({{0, Intact(5)}}), VerifyMode::kSync);
  EXPECT_EQ(v.kernel_violations, 1u);
  ASSERT_EQ(v.violations.size(), 1u);
  EXPECT_EQ(v.violations[0].kind, "never_issued");
  EXPECT_EQ(v.violations[0].expected_generation, 1u);
  EXPECT_EQ(v.violations[0].found_generation, 5u);
  // A block nobody wrote holding data is never issued too.
  EXPECT_EQ(Judge(st, Disk({{0, Intact(1)}, {6, Intact(1)}}), VerifyMode::kSync).kernel_violations, 1u);
  // At a crash one generation above the log's newest may have been in flight.
  EXPECT_EQ(Judge(st, Disk({{0, Intact(2)}}), VerifyMode::kCrash).kernel_violations, 0u);
  EXPECT_EQ(Judge(st, Disk({{0, Intact(3)}}), VerifyMode::kCrash).kernel_violations, 1u);
}

TEST(Oracle, FailedWriteCountsAsIssued) {
  ExpectedState st = LogBuilder().Write(0, 1).Sync(1).WriteFailed(0, 2).End().State();
  EXPECT_EQ(st.writes_failed, 1u);
  EXPECT_EQ(st.blocks[0].max_issued, 2u);
  EXPECT_EQ(st.blocks[0].kernel_gen, 1u);
  EXPECT_EQ(Judge(st, Disk({{0, Intact(2)}}), VerifyMode::kSync).kernel_violations, 0u);
}

TEST(Oracle, BeyondAnIncompleteLogIsCountedNotJudged) {
  ExpectedState st = LogBuilder().Write(0, 1).Sync(1).State();  // no end record: the log lost its tail
  EXPECT_FALSE(st.log_complete);
  Verification v = Judge(st, Disk({{0, Intact(9)}}), VerifyMode::kCrash);
  EXPECT_EQ(v.kernel_violations, 0u);
  EXPECT_EQ(v.beyond_log, 1u);
}

TEST(Oracle, ForeignAndCorruptAreViolations) {
  ExpectedState st = LogBuilder().Write(0, 1).Sync(1).End().State();
  BlockVerdict foreign;
  foreign.cls = BlockClass::kForeign;
  foreign.found_block = 3;
  foreign.generation = 1;
  BlockVerdict corrupt;
  corrupt.cls = BlockClass::kCorrupt;
  corrupt.bad_word = 17;
  for (const BlockVerdict& bad : {foreign, corrupt}) {
    for (uint64_t block : {uint64_t{0}, uint64_t{5}}) {  // a promised block and one never written
      DiskImage disk = Disk({{0, Intact(1)}});
      disk.verdicts[block] = bad;
      Verification v = Judge(st, disk, VerifyMode::kSync);
      EXPECT_EQ(v.kernel_violations, 1u) << BlockClassName(bad.cls) << " at block " << block;
      ASSERT_FALSE(v.violations.empty());
      EXPECT_EQ(v.violations[0].kind, BlockClassName(bad.cls));
      EXPECT_EQ(v.violations[0].block, block);
    }
  }
}

TEST(Oracle, ViolationListIsCappedButCounted) {
  LogBuilder log;
  for (uint64_t b = 0; b < kBlocks; ++b) log.Write(b, 1);
  ExpectedState st = log.Sync(1).End().State();
  Verification v = Judge(st, Disk(), VerifyMode::kSync, /*max_listed=*/3);
  EXPECT_EQ(v.kernel_violations, kBlocks);
  EXPECT_EQ(v.violations.size(), 3u);
  EXPECT_EQ(v.violations_dropped, kBlocks - 3);
}

// The same judgement on a log that went through the file format: what `longpin run` does.
TEST(Oracle, LogWrittenByExpectedLogIsJudgedTheSame) {
  char tmpl[] = "/tmp/longpin-unit-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::string path = std::string(tmpl) + "/expected.log";
  {
    auto log = ExpectedLog::Create(path, 0x77, kBlockSize, kBlocks, false);
    ASSERT_TRUE(log.ok()) << log.status().message();
    LogLane* writer = (*log)->NewLane();
    LogLane* syncer = (*log)->NewLane();
    writer->Append(RecordType::kWrite, uint8_t(WriterKind::kCpu), 0, 0, 2, 1);
    syncer->Append(RecordType::kSyncStart, uint8_t(SyncOpKind::kFdatasync), 0, 0, 1, 123);
    writer->Append(RecordType::kWrite, uint8_t(WriterKind::kCpu), 0, 0, 3, 1);  // raced the sync
    syncer->Append(RecordType::kSyncEnd, uint8_t(SyncOpKind::kFdatasync), 0, 0, 1, 456);
    writer->Publish();
    syncer->Publish();
    ASSERT_TRUE((*log)->Close(true).ok());
  }
  auto contents = ReadExpectedLog(path);
  ::unlink(path.c_str());
  ::rmdir(tmpl);
  ASSERT_TRUE(contents.ok()) << contents.status().message();
  ExpectedState st = BuildExpectedState(*contents);
  EXPECT_TRUE(st.log_complete);
  EXPECT_EQ(st.blocks[2].kernel_gen, 1u);
  EXPECT_EQ(st.blocks[3].kernel_gen, 0u);
  EXPECT_EQ(st.promise_sync_op, "fdatasync");
  Verification v = Judge(st, Disk({{3, Intact(1)}}), VerifyMode::kSync);
  EXPECT_EQ(v.kernel_violations, 1u);
  ASSERT_EQ(v.violations.size(), 1u);
  EXPECT_EQ(v.violations[0].block, 2u);
  EXPECT_EQ(v.violations[0].offset, 2 * kBlockSize);
}

}  // namespace
}  // namespace longpin

namespace longpin {
namespace {

// Found by 100 clean ext4 crash cycles: an fsync in flight across FS_IOC_SHUTDOWN(NOLOGFLUSH) returned 0
// after the crash point while its journal commit was discarded. In a real crash it would never have returned,
// so it promises nothing; the sync that finished before the crash still does.
TEST(Oracle, SyncReturningAfterTheCrashPointPromisesNothing) {
  ExpectedState st =
      LogBuilder().Write(0, 1).Sync(1).Write(0, 2).Write(1, 1).SyncStart(2).Crash().SyncEnd(2).End().State();
  EXPECT_EQ(st.promise_sync_id, 1u);
  EXPECT_EQ(st.syncs_after_crash, 1u);
  EXPECT_EQ(st.blocks[0].kernel_gen, 1u);
  EXPECT_EQ(st.blocks[1].kernel_gen, 0u);
  Verification v = Judge(st, Disk({{0, Intact(1)}}), VerifyMode::kCrash);
  EXPECT_EQ(v.kernel_violations, 0u);
}

// The epochs of each block's two newest completed writes, the hint ClassifyBlock needs for a cut DMA header.
// The Debian 6.1 log-writes flake end to end: at the crash state of sync 1 (which promised generation 4),
// block 3 holds generation 10's first 1883 bytes and generation 9's rest (pwrite copying into the page while
// dm-log-writes copied it). ClassifyBlock calls it torn 9..10 (it was corrupt(word 235) before, a kernel
// violation); the block was written after the promise, so a torn state is a write in flight: no violation.
// Quiet, or mixed with a generation older than the promise, it still is one.
TEST(Oracle, ByteSplitBlockOfAWriteInFlightIsNoViolation) {
  LogBuilder log;
  for (uint64_t g = 1; g <= 4; ++g) log.Write(3, g, WriterKind::kPwrite);
  log.SyncStart(1);
  for (uint64_t g = 5; g <= 11; ++g) log.Write(3, g, WriterKind::kPwrite);
  log.SyncEnd(1).End();
  const ExpectedState st = log.State();
  ASSERT_EQ(st.blocks[3].kernel_gen, 4u);

  StampPattern pattern(0x77, kBlockSize);
  std::vector<uint64_t> g9(kBlockSize / 8), g10(kBlockSize / 8), seen(kBlockSize / 8);
  StampBlock(pattern, {0x77, 3, 9, WriterKind::kPwrite, 2, 0}, reinterpret_cast<std::byte*>(g9.data()));
  StampBlock(pattern, {0x77, 3, 10, WriterKind::kPwrite, 2, 0}, reinterpret_cast<std::byte*>(g10.data()));
  std::memcpy(seen.data(), g10.data(), 1883);
  std::memcpy(reinterpret_cast<char*>(seen.data()) + 1883, reinterpret_cast<const char*>(g9.data()) + 1883,
              kBlockSize - 1883);
  const BlockVerdict v = ClassifyBlock(pattern, 3, reinterpret_cast<const std::byte*>(seen.data()), {},
                                       st.blocks[3].max_issued + 1);
  ASSERT_EQ(v.cls, BlockClass::kTorn) << BlockClassName(v.cls) << " at word " << v.bad_word;
  EXPECT_EQ(Judge(st, Disk({{3, v}}), VerifyMode::kCrash).kernel_violations, 0u);
  // The same bytes where nothing was written after the promise: a torn quiet block is a violation.
  LogBuilder quiet;
  for (uint64_t g = 1; g <= 10; ++g) quiet.Write(3, g, WriterKind::kPwrite);
  quiet.Sync(1).End();
  EXPECT_EQ(Judge(quiet.State(), Disk({{3, v}}), VerifyMode::kCrash).kernel_violations, 1u);
  // A split with a generation older than the promise (10 promised, bytes of 9 found): a loss.
  LogBuilder promised;
  for (uint64_t g = 1; g <= 10; ++g) promised.Write(3, g, WriterKind::kPwrite);
  promised.SyncStart(1).Write(3, 11, WriterKind::kPwrite).SyncEnd(1).End();
  EXPECT_EQ(Judge(promised.State(), Disk({{3, v}}), VerifyMode::kCrash).kernel_violations, 1u);
}

TEST(ExpectedStateEpochs, TheTwoNewestWritesOfEachBlock) {
  ExpectedState st = LogBuilder()
                         .Write(3, 1, WriterKind::kDma, 11)
                         .Write(3, 2, WriterKind::kDma, 12)
                         .WriteFailed(3, 4, WriterKind::kDma)
                         .Write(3, 3, WriterKind::kDma, 13)
                         .Write(4, 1)
                         .End()
                         .State();
  EXPECT_EQ(st.blocks[3].recent_gens[0], 3u);
  EXPECT_EQ(st.blocks[3].recent_epochs[0], 13u);
  EXPECT_EQ(st.blocks[3].recent_gens[1], 2u);
  EXPECT_EQ(st.blocks[3].recent_epochs[1], 12u) << "a failed write carries an errno, not an epoch";
  EXPECT_EQ(st.blocks[4].recent_gens[0], 1u);
  EXPECT_EQ(st.blocks[4].recent_epochs[0], 0u);
  EXPECT_EQ(st.blocks[5].recent_gens[0], 0u);
}

}  // namespace
}  // namespace longpin
