// Punch records in the expected state (verifiers/expected_state.cc): a write before a punch's start must
// never reappear once the punch is promised; a write in flight across it (logged between its records, or a
// DMA write through a pin taken before its end) promises nothing; a write after it is promised as usual.
#include <gtest/gtest.h>

#include "verifiers/expected_state.h"

namespace longpin {
namespace {

struct LogBuilder {
  LogContents log;
  uint64_t seq = 1;
  LogBuilder() {
    log.header.block_size = 4096;
    log.header.block_count = 8;
    log.clean_end = true;
  }
  uint64_t Add(RecordType t, uint8_t kind, uint32_t aux, uint64_t a, uint64_t b) {
    log.records.push_back({seq, t, kind, 0, aux, a, b});
    return seq++;
  }
  void Write(WriterKind k, uint64_t block, uint64_t gen, uint32_t epoch = 0) {
    Add(RecordType::kWrite, uint8_t(k), epoch, block, gen);
  }
  void Sync() {
    static uint64_t id = 1;
    Add(RecordType::kSyncStart, uint8_t(SyncOpKind::kFsync), 0, id, 0);
    Add(RecordType::kSyncEnd, uint8_t(SyncOpKind::kFsync), 0, id, 0);
    ++id;
  }
};

TEST(PunchState, BeforeStartIsStaleInFlightPromisesNothingAfterEndIsPromised) {
  LogBuilder l;
  l.Write(WriterKind::kPwrite, 0, 1);            // before the punch: must not reappear
  l.Add(RecordType::kPunch, 0, 1, 0, 2 * 4096);  // start over blocks 0, 1
  l.Write(WriterKind::kPwrite, 1, 1);            // in flight across the punch
  l.Add(RecordType::kPunch, 0, 0, 0, 2 * 4096);  // end
  l.Write(WriterKind::kPwrite, 0, 2);            // after: promised
  l.Sync();
  ExpectedState st = BuildExpectedState(l.log);
  EXPECT_EQ(st.punches, 1u);
  EXPECT_EQ(st.blocks[0].stale_gen, 1u);
  EXPECT_EQ(st.blocks[0].kernel_gen, 2u);
  EXPECT_EQ(st.blocks[1].stale_gen, 0u);
  EXPECT_EQ(st.blocks[1].kernel_gen, 0u);
  EXPECT_EQ(st.blocks[1].strict_gen, 0u);
}

TEST(PunchState, DmaThroughAPinTakenBeforeThePunchEndedPromisesNothing) {
  LogBuilder l;
  l.Add(RecordType::kPin, 0, 7, 0, 8 * 4096);  // epoch 7 pinned before the punch
  l.Add(RecordType::kPunch, 0, 1, 0, 4096);
  l.Add(RecordType::kPunch, 0, 0, 0, 4096);
  l.Write(WriterKind::kDma, 0, 1, 7);          // logged after the end, but its pin is older
  l.Add(RecordType::kPin, 0, 8, 0, 8 * 4096);  // epoch 8 after the punch
  l.Write(WriterKind::kDma, 0, 2, 8);
  l.Add(RecordType::kUnpin, 0, 7, 0, 8 * 4096);
  l.Add(RecordType::kUnpin, 0, 8, 0, 8 * 4096);
  l.Sync();
  ExpectedState st = BuildExpectedState(l.log);
  EXPECT_EQ(st.blocks[0].kernel_gen, 2u);
  EXPECT_EQ(st.blocks[0].stale_gen, 0u);
}

TEST(PunchState, EndWithoutStartActsAtItsOwnRecord) {
  LogBuilder l;
  l.Write(WriterKind::kCpu, 2, 1);
  l.Add(RecordType::kPunch, 0, 0, 2 * 4096, 4096);
  l.Write(WriterKind::kCpu, 2, 2);
  l.Sync();
  ExpectedState st = BuildExpectedState(l.log);
  EXPECT_EQ(st.blocks[2].stale_gen, 1u);
  EXPECT_EQ(st.blocks[2].kernel_gen, 2u);
}

TEST(PunchState, StartWithoutEndNeverPromisesTheRange) {
  LogBuilder l;
  l.Write(WriterKind::kPwrite, 3, 1);
  l.Add(RecordType::kPunch, 0, 1, 3 * 4096, 4096);  // the call failed: no end record
  l.Write(WriterKind::kPwrite, 3, 2);
  l.Sync();
  ExpectedState st = BuildExpectedState(l.log);
  EXPECT_EQ(st.blocks[3].stale_gen, 0u);   // the punch never completed: the old data may stay
  EXPECT_EQ(st.blocks[3].kernel_gen, 0u);  // nor is anything after its start promised
}

}  // namespace
}  // namespace longpin
