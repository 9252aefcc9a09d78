// Stamped blocks: every class a verifier can meet (zero, intact, torn, foreign, corrupt) is told apart, at
// every block size, and the generation arithmetic of stamp_math.h round-trips.
#include "core/block_stamp.h"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "core/stamp_math.h"

namespace longpin {
namespace {

constexpr uint64_t kRun = 0x1234;

// An 8-byte aligned block buffer.
struct Block {
  explicit Block(size_t size) : words(size / 8) {}
  std::byte* data() { return reinterpret_cast<std::byte*>(words.data()); }
  size_t size() const { return words.size() * 8; }
  std::vector<uint64_t> words;
};

Block Stamped(const StampPattern& pattern, uint64_t block, uint64_t gen, WriterKind kind = WriterKind::kCpu,
              uint32_t writer_id = 1) {
  Block b(pattern.block_size());
  StampBlock(pattern, {pattern.run_id(), block, gen, kind, writer_id, 0}, b.data());
  return b;
}

// Bytes [0, cut) of `head`, the rest of `tail`: what a writeback that copied part of a block before a newer
// write landed leaves on disk.
Block Splice(const Block& head, const Block& tail, size_t cut) {
  Block out(head.size());
  std::memcpy(out.words.data(), head.words.data(), cut);
  std::memcpy(reinterpret_cast<char*>(out.words.data()) + cut,
              reinterpret_cast<const char*>(tail.words.data()) + cut, head.size() - cut);
  return out;
}

TEST(BlockStamp, StampedBlockIsIntact) {
  StampPattern pattern(kRun, 4096);
  Block b = Stamped(pattern, 7, 3);
  BlockVerdict v = ClassifyBlock(pattern, 7, b.data());
  EXPECT_EQ(v.cls, BlockClass::kIntact);
  EXPECT_EQ(v.generation, 3u);
  EXPECT_EQ(v.kind, WriterKind::kCpu);
}

TEST(BlockStamp, AllZeroBlockIsZero) {
  for (size_t bs : {size_t{512}, size_t{4096}, size_t{65536}}) {
    StampPattern pattern(kRun, bs);
    Block b(bs);
    BlockVerdict v = ClassifyBlock(pattern, 0, b.data());
    EXPECT_EQ(v.cls, BlockClass::kZero) << "block size " << bs;
  }
}

TEST(BlockStamp, IntactAtEveryBlockSizeKindAndGeneration) {
  for (size_t bs : {kMinBlockSize, size_t{1024}, size_t{4096}, size_t{16384}, size_t{65536}, kMaxBlockSize}) {
    StampPattern pattern(kRun, bs);
    for (uint64_t gen : {uint64_t{1}, uint64_t{2}, uint64_t{1000}, kMaxPlausibleGeneration}) {
      for (WriterKind kind : {WriterKind::kCpu, WriterKind::kPwrite, WriterKind::kDma}) {
        const uint64_t block = gen % 97 + 3;
        Block b = Stamped(pattern, block, gen, kind, 42);
        BlockVerdict v = ClassifyBlock(pattern, block, b.data());
        ASSERT_EQ(v.cls, BlockClass::kIntact)
            << "bs " << bs << " gen " << gen << " kind " << WriterKindName(kind);
        EXPECT_EQ(v.generation, gen);
        EXPECT_EQ(v.kind, kind);
        EXPECT_EQ(v.writer_id, 42u);
      }
    }
  }
}

TEST(BlockStamp, TornAtSectorBoundaryHeadOldTailNew) {
  for (size_t bs : {size_t{1024}, size_t{4096}, size_t{65536}}) {
    StampPattern pattern(kRun, bs);
    Block g = Stamped(pattern, 5, 10);
    Block g1 = Stamped(pattern, 5, 11);
    for (size_t cut = 512; cut < bs; cut += 512) {
      Block torn = Splice(g, g1, cut);
      BlockVerdict v = ClassifyBlock(pattern, 5, torn.data());
      ASSERT_EQ(v.cls, BlockClass::kTorn) << "bs " << bs << " cut " << cut;
      EXPECT_EQ(v.min_generation, 10u);
      EXPECT_EQ(v.generation, 11u);
      EXPECT_FALSE(v.has_zero_words);
    }
  }
}

TEST(BlockStamp, TornAtSectorBoundaryHeadNewTailOld) {
  StampPattern pattern(kRun, 4096);
  Block g = Stamped(pattern, 5, 10);
  Block g1 = Stamped(pattern, 5, 11);
  for (size_t cut = 512; cut < 4096; cut += 512) {
    Block torn = Splice(g1, g, cut);
    BlockVerdict v = ClassifyBlock(pattern, 5, torn.data());
    ASSERT_EQ(v.cls, BlockClass::kTorn) << "cut " << cut;
    EXPECT_EQ(v.min_generation, 10u);
    EXPECT_EQ(v.generation, 11u);
  }
}

TEST(BlockStamp, TornAtWordGranularityInsideASector) {
  // A CPU writer's stores land word by word: writeback may copy a block mid-store.
  StampPattern pattern(kRun, 4096);
  Block g = Stamped(pattern, 9, 100);
  Block g1 = Stamped(pattern, 9, 101);
  for (size_t cut : {size_t{64}, size_t{72}, size_t{256}, size_t{1000}, size_t{2056}, size_t{4080}}) {
    Block torn = Splice(g, g1, cut);
    BlockVerdict v = ClassifyBlock(pattern, 9, torn.data());
    ASSERT_EQ(v.cls, BlockClass::kTorn) << "cut at byte " << cut;
    EXPECT_EQ(v.min_generation, 100u);
    EXPECT_EQ(v.generation, 101u);
  }
}

// StampBlock stores the payload, then the tail, then the header. A writeback copying the block while a CPU
// writer is inside StampBlock of generation g+1 over g can see any prefix of that store sequence.
TEST(BlockStamp, TornAtEveryPointOfTheStoreSequence) {
  StampPattern pattern(kRun, 4096);
  const size_t n = 4096 / 8;
  Block old_gen = Stamped(pattern, 8, 30);
  Block new_gen = Stamped(pattern, 8, 31);
  auto snapshot = [&](size_t payload_words_done, bool tail_gen_done, bool tail_check_done) {
    Block b = old_gen;
    for (size_t i = 8; i < 8 + payload_words_done; ++i) b.words[i] = new_gen.words[i];
    if (tail_gen_done) b.words[n - 2] = new_gen.words[n - 2];
    if (tail_check_done) b.words[n - 1] = new_gen.words[n - 1];
    return b;
  };
  struct Point {
    size_t payload;
    bool tail_gen, tail_check;
  };
  const size_t all = n - 10;
  for (Point p : {Point{1, false, false}, Point{all / 2, false, false}, Point{all - 1, false, false},
                  Point{all, false, false}, Point{all, true, false}, Point{all, true, true}}) {
    Block b = snapshot(p.payload, p.tail_gen, p.tail_check);
    BlockVerdict v = ClassifyBlock(pattern, 8, b.data());
    EXPECT_EQ(v.cls, BlockClass::kTorn)
        << "payload words stored " << p.payload << " tail gen " << p.tail_gen << " tail check "
        << p.tail_check << ": classified " << BlockClassName(v.cls) << " (bad word " << v.bad_word << ")";
    if (v.cls == BlockClass::kTorn) {
      EXPECT_EQ(v.min_generation, 30u);
      EXPECT_EQ(v.generation, 31u);
    }
  }
}

TEST(BlockStamp, TornWithZeroPart) {
  StampPattern pattern(kRun, 4096);
  Block g = Stamped(pattern, 2, 7);
  Block zero(4096);
  for (size_t cut : {size_t{512}, size_t{2048}, size_t{3584}}) {
    for (bool stamped_head : {true, false}) {
      Block torn = stamped_head ? Splice(g, zero, cut) : Splice(zero, g, cut);
      BlockVerdict v = ClassifyBlock(pattern, 2, torn.data());
      ASSERT_EQ(v.cls, BlockClass::kTorn)
          << "cut " << cut << (stamped_head ? " head" : " tail") << " stamped";
      EXPECT_TRUE(v.has_zero_words);
      EXPECT_EQ(v.min_generation, 0u);
      EXPECT_EQ(v.generation, 7u);
    }
  }
}

TEST(BlockStamp, TornOfThreeGenerationsReportsOldestAndNewest) {
  StampPattern pattern(kRun, 4096);
  Block a = Stamped(pattern, 4, 20), b = Stamped(pattern, 4, 23), c = Stamped(pattern, 4, 27);
  Block torn = Splice(Splice(b, a, 1024), c, 3072);  // [0,1k) gen 23, [1k,3k) gen 20, [3k,4k) gen 27
  BlockVerdict v = ClassifyBlock(pattern, 4, torn.data());
  ASSERT_EQ(v.cls, BlockClass::kTorn);
  EXPECT_EQ(v.min_generation, 20u);
  EXPECT_EQ(v.generation, 27u);
  EXPECT_FALSE(v.has_zero_words);
}

TEST(BlockStamp, OtherBlockIsForeign) {
  for (size_t bs : {size_t{512}, size_t{4096}}) {
    StampPattern pattern(kRun, bs);
    Block b = Stamped(pattern, 11, 5);
    BlockVerdict v = ClassifyBlock(pattern, 12, b.data());
    ASSERT_EQ(v.cls, BlockClass::kForeign) << "bs " << bs;
    EXPECT_EQ(v.found_block, 11u);
    EXPECT_EQ(v.found_run, kRun);
    EXPECT_EQ(v.generation, 5u);
  }
}

TEST(BlockStamp, OtherRunIsForeign) {
  StampPattern old_run(0xdead, 4096), this_run(0xbeef, 4096);
  Block b = Stamped(old_run, 3, 8);
  BlockVerdict v = ClassifyBlock(this_run, 3, b.data());
  ASSERT_EQ(v.cls, BlockClass::kForeign);
  EXPECT_EQ(v.found_run, 0xdeadu);
  EXPECT_EQ(v.found_block, 3u);
}

TEST(BlockStamp, BitFlipInPayloadIsCorrupt) {
  StampPattern pattern(kRun, 4096);
  const size_t n = 4096 / 8;
  for (size_t word : {size_t{8}, size_t{100}, n - 3}) {
    for (int bit = 0; bit < 64; ++bit) {
      Block b = Stamped(pattern, 6, 77);
      b.words[word] ^= uint64_t{1} << bit;
      BlockVerdict v = ClassifyBlock(pattern, 6, b.data());
      ASSERT_EQ(v.cls, BlockClass::kCorrupt) << "word " << word << " bit " << bit;
      EXPECT_EQ(v.bad_word, word);
    }
  }
}

TEST(BlockStamp, BitFlipInHeaderIsCorrupt) {
  StampPattern pattern(kRun, 4096);
  // Every header word: magic, version/kind/writer, run, block, generation, pin epoch, reserved, check.
  for (size_t word = 0; word < kStampHeaderBytes / 8; ++word) {
    for (int bit : {0, 1, 17, 63}) {
      Block b = Stamped(pattern, 6, 77);
      b.words[word] ^= uint64_t{1} << bit;
      BlockVerdict v = ClassifyBlock(pattern, 6, b.data());
      if (word == 4 && bit == 0) {
        // 77 -> 76: a generation word one off, under the checksum of 77, is exactly what a copy that cut the
        // header store leaves (TornInsideTheHeaderStore); torn (flagged unless a write was in flight), never
        // intact.
        EXPECT_EQ(v.cls, BlockClass::kTorn) << BlockClassName(v.cls);
        EXPECT_EQ(v.min_generation, 76u);
        EXPECT_EQ(v.generation, 77u);
        continue;
      }
      EXPECT_EQ(v.cls, BlockClass::kCorrupt)
          << "header word " << word << " bit " << bit << " classified " << BlockClassName(v.cls);
    }
  }
}

// StampBlock stores the header last, in four 16-byte pieces (words 0-1, 2-3, 4-5, 6-7). A copy of the block
// can cut that sequence: after the payload and tail of g+1 are stored, any prefix of the pieces is new; a
// copy reading forward and overtaken by the writer sees an old prefix and a new suffix. A DMA write copies
// the block forward, so its header is first: a prefix of the pieces new and everything after them old. None
// of these is damage: each must classify as torn between the two generations (or as intact where the pieces
// that differ were not cut), never as corrupt.
TEST(BlockStamp, TornInsideTheHeaderStore) {
  StampPattern pattern(kRun, 4096);
  const size_t n = 4096 / 8;
  const Block old_gen = Stamped(pattern, 8, 40), new_gen = Stamped(pattern, 8, 41);
  auto expect_torn_or_intact = [&](const Block& b, const std::string& what) {
    BlockVerdict v = ClassifyBlock(pattern, 8, const_cast<Block&>(b).data());
    if (v.cls == BlockClass::kIntact) {
      EXPECT_TRUE(v.generation == 40 || v.generation == 41) << what;
      return;
    }
    ASSERT_EQ(v.cls, BlockClass::kTorn) << what << ": " << BlockClassName(v.cls) << " at word " << v.bad_word;
    EXPECT_EQ(v.min_generation, 40u) << what;
    EXPECT_EQ(v.generation, 41u) << what;
  };
  for (size_t k : {size_t{2}, size_t{4}, size_t{6}}) {
    Block stamping = new_gen;  // in place: payload and tail new, header pieces [0, k) new, the rest old
    for (size_t i = k; i < 8; ++i) stamping.words[i] = old_gen.words[i];
    expect_torn_or_intact(stamping, "in-place store cut after header word " + std::to_string(k));

    Block overtaken = new_gen;  // a forward copy overtaken: header words [0, k) old, the rest new
    for (size_t i = 0; i < k; ++i) overtaken.words[i] = old_gen.words[i];
    expect_torn_or_intact(overtaken, "overtaken copy, header words below " + std::to_string(k) + " old");

    Block dma = old_gen;  // a forward DMA copy cut inside the header: [0, k) new, all after it old
    for (size_t i = 0; i < k; ++i) dma.words[i] = new_gen.words[i];
    expect_torn_or_intact(dma, "DMA copy cut after header word " + std::to_string(k));
  }
  // A DMA write carries its pin window's epoch (word 5), which differs from the previous stamp's. A cut
  // between words 5 and 6 then needs the old epoch, which only the expected log knows (the caller's recent
  // epochs).
  StampPattern p2(kRun, 4096);
  Block dma_old(4096), dma_new(4096);
  StampBlock(p2, {p2.run_id(), 8, 40, WriterKind::kDma, 3, 7}, dma_old.data());
  StampBlock(p2, {p2.run_id(), 8, 41, WriterKind::kDma, 3, 9}, dma_new.data());
  Block forward = dma_old;  // a forward DMA copy cut after word 5: header words 0-5 new, everything else old
  for (size_t i = 0; i < 6; ++i) forward.words[i] = dma_new.words[i];
  Block in_place = dma_new;  // payload, tail and header words 0-5 new, 6-7 old
  in_place.words[6] = dma_old.words[6];
  in_place.words[7] = dma_old.words[7];
  Block overtaken = dma_new;  // header words 0-5 old, everything else new
  for (size_t i = 0; i < 6; ++i) overtaken.words[i] = dma_old.words[i];
  const uint32_t epochs[2] = {9, 7};
  for (Block* b : {&forward, &in_place, &overtaken}) {
    EXPECT_EQ(ClassifyBlock(p2, 8, b->data()).cls, BlockClass::kCorrupt) << "without the log's epochs";
    BlockVerdict v = ClassifyBlock(p2, 8, b->data(), epochs);
    EXPECT_EQ(v.cls, BlockClass::kTorn) << BlockClassName(v.cls) << " at word " << v.bad_word;
    EXPECT_EQ(v.min_generation, 40u);
    EXPECT_EQ(v.generation, 41u);
  }
  // Epochs that are not the old stamp's do not make damage look like a cut.
  const uint32_t wrong[2] = {9, 8};
  EXPECT_EQ(ClassifyBlock(p2, 8, in_place.data(), wrong).cls, BlockClass::kCorrupt);

  // The cut that made a false "corrupt" before: generation word new, checksum old, everything else new.
  Block cut = new_gen;
  cut.words[6] = old_gen.words[6];
  cut.words[7] = old_gen.words[7];
  EXPECT_EQ(ClassifyBlock(pattern, 8, cut.data()).cls, BlockClass::kTorn);
  (void)n;
}

// Without stable pages a page changes while its write is in flight, and a copy of it (dm-log-writes copies a
// bio's data at submission) races the writer's copy into the page a byte at a time: the block holds a prefix
// of one generation and the rest of another, split at any byte, inside a word. This is the Debian 6.1 CI
// flake, byte for byte: a pwrite block whose first 1883 bytes were generation 10, the rest generation 9,
// found at the crash state of sync 1 (which promised generation 4). The old classifier called it
// corrupt(word 235), a kernel-contract violation; it is a write in flight: torn 9..10.
TEST(BlockStamp, SplitInsideAWordIsTornNotCorrupt) {
  StampPattern pattern(0x78d30d8e7833e7a2ULL, 4096);
  const Block g9 = Stamped(pattern, 2696, 9, WriterKind::kPwrite, 2);
  const Block g10 = Stamped(pattern, 2696, 10, WriterKind::kPwrite, 2);
  Block seen = Splice(g10, g9, 1883);
  // Word 235 (bytes 1880..1887): three bytes of generation 10, five of generation 9.
  EXPECT_NE(seen.words[235], g9.words[235]);
  EXPECT_NE(seen.words[235], g10.words[235]);
  BlockVerdict v = ClassifyBlock(pattern, 2696, seen.data());
  ASSERT_EQ(v.cls, BlockClass::kTorn) << BlockClassName(v.cls) << " at word " << v.bad_word;
  EXPECT_EQ(v.min_generation, 9u);
  EXPECT_EQ(v.generation, 10u);
  EXPECT_FALSE(v.has_zero_words);
}

// The second block of the flake (ext4, crash state of sync 4, which promised generation 11): the reader and
// the writer crossed four times in 280 bytes. Bytes 0..186 of generation 12, 187..191 of 11, 192..278 of 12,
// the rest of 11: two mixed words (23 and 34), every byte of 11 or 12. Torn 11..12, not corrupt(word 23).
TEST(BlockStamp, CopiesCrossingSeveralTimesAreTorn) {
  StampPattern pattern(0x93d496bddfe86da0ULL, 4096);
  const Block g11 = Stamped(pattern, 1016, 11, WriterKind::kPwrite, 2);
  const Block g12 = Stamped(pattern, 1016, 12, WriterKind::kPwrite, 2);
  Block seen = Splice(Splice(Splice(g12, g11, 187), g12, 192), g11, 279);
  BlockVerdict v = ClassifyBlock(pattern, 1016, seen.data());
  ASSERT_EQ(v.cls, BlockClass::kTorn) << BlockClassName(v.cls) << " at word " << v.bad_word;
  EXPECT_EQ(v.min_generation, 11u);
  EXPECT_EQ(v.generation, 12u);
}

// Every split point of the block, both ways round (a copy overtaken by the writer: new head, old tail; a copy
// ahead of it: old head, new tail), at every block size: torn between the two (or intact where the split
// changed nothing), never corrupt. And the same with zeros: a block's first write racing its writeback.
TEST(BlockStamp, SplitAtEveryByteIsTornOrIntact) {
  for (size_t bs : {size_t{512}, size_t{4096}}) {
    StampPattern pattern(kRun, bs);
    const Block a = Stamped(pattern, 11, 254, WriterKind::kPwrite, 2),
                b = Stamped(pattern, 11, 257, WriterKind::kPwrite, 2);
    const Block zero(bs);
    for (size_t cut = 1; cut < bs; ++cut) {
      for (int order = 0; order < 4; ++order) {
        const Block& head = order == 0 ? a : order == 1 ? b : order == 2 ? zero : a;
        const Block& tail = order == 0 ? b : order == 1 ? a : order == 2 ? a : zero;
        Block m = Splice(head, tail, cut);
        // Without the log's word on the block's generations, a split inside the header's generation, epoch or
        // check word, or inside the tail, can leave one side's generation nowhere else: corrupt, as before.
        const bool header_or_tail = (cut > 32 && cut < 64) || cut > bs - 16;
        if (!header_or_tail) {
          BlockVerdict alone = ClassifyBlock(pattern, 11, m.data());
          EXPECT_TRUE(alone.cls != BlockClass::kCorrupt) << "without the log: bs " << bs << " cut " << cut;
        }
        // With it (the block was written up to generation 257, one more may be in flight), only a split
        // inside the tail check itself (its last 8 bytes) is left: a generation there shares no byte pattern
        // to search by without making every flipped bit of a check explainable.
        BlockVerdict v = ClassifyBlock(pattern, 11, m.data(), {}, 258);
        if (cut > bs - 8 && v.cls == BlockClass::kCorrupt) continue;
        if (v.cls == BlockClass::kIntact || v.cls == BlockClass::kZero) continue;
        ASSERT_EQ(v.cls, BlockClass::kTorn) << "bs " << bs << " cut " << cut << " order " << order << ": "
                                            << BlockClassName(v.cls) << " at word " << v.bad_word;
        if (order < 2) {
          EXPECT_EQ(v.min_generation, 254u) << "bs " << bs << " cut " << cut << " order " << order;
          EXPECT_EQ(v.generation, 257u) << "bs " << bs << " cut " << cut << " order " << order;
        } else {
          EXPECT_TRUE(v.has_zero_words) << "cut " << cut;
          EXPECT_EQ(v.min_generation, 0u);
          // Cut before anything that names the generation (the header's first 40 bytes, written first by a
          // forward copy): a write in flight of no known generation.
          if (order == 2 || cut >= 40) {
            EXPECT_EQ(v.generation, 254u) << "cut " << cut << " order " << order;
          }
        }
      }
    }
  }
}

// A mixed word is explained only by generations the block holds in whole words: bytes of a third generation
// (or bytes of no generation) are damage.
TEST(BlockStamp, MixedWordOfAGenerationNotInTheBlockIsCorrupt) {
  StampPattern pattern(kRun, 4096);
  const Block g9 = Stamped(pattern, 4, 9), g10 = Stamped(pattern, 4, 10), g11 = Stamped(pattern, 4, 11);
  Block m = Splice(g10, g9, 2048);  // whole words of 9 and 10
  // Word 100: low four bytes of 11, high four of 10.
  m.words[100] = (g11.words[100] & 0xffffffffULL) | (g10.words[100] & ~0xffffffffULL);
  BlockVerdict v = ClassifyBlock(pattern, 4, m.data());
  ASSERT_EQ(v.cls, BlockClass::kCorrupt) << BlockClassName(v.cls);
  EXPECT_EQ(v.bad_word, 100u);
  // Made of 9 and 10 instead, it is torn.
  m.words[100] = (g9.words[100] & 0xffffffffULL) | (g10.words[100] & ~0xffffffffULL);
  EXPECT_EQ(ClassifyBlock(pattern, 4, m.data()).cls, BlockClass::kTorn);
  // A bit flip inside a mixed word leaves a byte of neither.
  m.words[100] ^= uint64_t{1} << 37;
  EXPECT_EQ(ClassifyBlock(pattern, 4, m.data()).cls, BlockClass::kCorrupt);
}

TEST(BlockStamp, BitFlipInTailIsCorrupt) {
  StampPattern pattern(kRun, 4096);
  const size_t n = 4096 / 8;
  for (size_t word : {n - 2, n - 1}) {
    for (int bit : {0, 31, 63}) {
      Block b = Stamped(pattern, 6, 77);
      b.words[word] ^= uint64_t{1} << bit;
      BlockVerdict v = ClassifyBlock(pattern, 6, b.data());
      ASSERT_EQ(v.cls, BlockClass::kCorrupt) << "tail word " << word << " bit " << bit;
      EXPECT_EQ(v.bad_word, word);
    }
  }
}

TEST(BlockStamp, GenerationDecodesFromEveryPayloadWord) {
  static_assert(stamp_math::kGenMultiplier * stamp_math::kGenInverse == 1);
  StampPattern pattern(kRun, 4096);
  const uint64_t base = stamp_math::BlockBase(kRun, 13);
  for (uint64_t gen :
       {uint64_t{1}, uint64_t{2}, uint64_t{12345}, uint64_t{1} << 39, kMaxPlausibleGeneration}) {
    Block b = Stamped(pattern, 13, gen);
    for (size_t i = kStampHeaderBytes / 8; i < 4096 / 8 - 2; ++i)
      ASSERT_EQ(stamp_math::DecodeGeneration(b.words[i], pattern.words()[i], base), gen) << "word " << i;
    EXPECT_EQ(b.words[4096 / 8 - 2], gen);
    EXPECT_EQ(b.words[4096 / 8 - 1], stamp_math::TailCheck(kRun, 13, gen));
  }
}

TEST(BlockStamp, PayloadKeyMatchesStampMath) {
  for (uint64_t gen : {uint64_t{0}, uint64_t{5}, uint64_t{1} << 30})
    EXPECT_EQ(PayloadKey(kRun, 3, gen), stamp_math::PayloadKey(kRun, 3, gen));
  EXPECT_NE(PayloadKey(kRun, 3, 1), PayloadKey(kRun, 4, 1));
  EXPECT_NE(PayloadKey(kRun, 3, 1), PayloadKey(kRun + 1, 3, 1));
}

TEST(BlockStamp, NamesOfClassesAndKinds) {
  EXPECT_STREQ(BlockClassName(BlockClass::kZero), "zero");
  EXPECT_STREQ(BlockClassName(BlockClass::kIntact), "intact");
  EXPECT_STREQ(BlockClassName(BlockClass::kTorn), "torn");
  EXPECT_STREQ(BlockClassName(BlockClass::kForeign), "foreign");
  EXPECT_STREQ(BlockClassName(BlockClass::kCorrupt), "corrupt");
  EXPECT_STREQ(WriterKindName(WriterKind::kDma), "dma");
  EXPECT_STREQ(WriterKindName(WriterKind::kPwrite), "pwrite");
  EXPECT_STREQ(WriterKindName(WriterKind::kCpu), "cpu");
}

}  // namespace
}  // namespace longpin
