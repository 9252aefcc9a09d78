#include "core/block_stamp.h"

#include <xxhash.h>

#include <bit>
#include <cstring>

#include "core/stamp_math.h"

namespace longpin {
namespace {

using stamp_math::BlockBase;
using stamp_math::DecodeGeneration;
using stamp_math::TailCheck;

// The payload loops below run once per write (stamp) and once per verified block (classify). The build
// targets baseline x86-64 (SSE2, 16-byte vectors, about a quarter of memcpy's speed on a 4 KiB block); these
// clones use the widest vector unit of the CPU, picked once at load time. __restrict: the pattern never
// overlaps a block, and without it the compiler adds a run-time overlap check and a scalar fallback.
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define LONGPIN_PAYLOAD_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define LONGPIN_PAYLOAD_CLONES
#endif

LONGPIN_PAYLOAD_CLONES void XorPayload(uint64_t* __restrict w, const uint64_t* __restrict p, uint64_t key,
                                       size_t begin, size_t end) {
  for (size_t i = begin; i < end; ++i) w[i] = p[i] ^ key;
}

// Zero when words [begin, end) are exactly pattern ^ key.
LONGPIN_PAYLOAD_CLONES uint64_t PayloadDiff(const uint64_t* __restrict w, const uint64_t* __restrict p,
                                            uint64_t key, size_t begin, size_t end) {
  uint64_t diff = 0;
  for (size_t i = begin; i < end; ++i) diff |= w[i] ^ p[i] ^ key;
  return diff;
}

uint64_t HeaderWord1(const StampId& id, size_t block_size) {
  return uint64_t{kStampVersion} | uint64_t{static_cast<uint8_t>(id.kind)} << 16 |
         uint64_t(std::countr_zero(block_size)) << 24 | uint64_t{id.writer_id} << 32;
}

}  // namespace

const char* WriterKindName(WriterKind k) {
  switch (k) {
    case WriterKind::kCpu: return "cpu";
    case WriterKind::kPwrite: return "pwrite";
    case WriterKind::kDma: return "dma";
    case WriterKind::kNone: break;
  }
  return "none";
}

const char* BlockClassName(BlockClass c) {
  switch (c) {
    case BlockClass::kZero: return "zero";
    case BlockClass::kIntact: return "intact";
    case BlockClass::kTorn: return "torn";
    case BlockClass::kForeign: return "foreign";
    case BlockClass::kCorrupt: return "corrupt";
  }
  return "?";
}

StampPattern::StampPattern(uint64_t run_id, size_t block_size)
    : run_id_(run_id), block_size_(block_size), words_(block_size / 8) {
  for (size_t i = 0; i < words_.size(); ++i) words_[i] = stamp_math::PatternWord(run_id, i);
}

uint64_t PayloadKey(uint64_t run_id, uint64_t block, uint64_t generation) {
  return stamp_math::PayloadKey(run_id, block, generation);
}

void StampBlock(const StampPattern& pattern, const StampId& id, std::byte* dst) {
  const size_t n = pattern.block_size() / 8;
  auto* w = reinterpret_cast<uint64_t*>(dst);
  const uint64_t* p = pattern.words();
  const uint64_t key = PayloadKey(id.run_id, id.block, id.generation);
  // Payload first, header and tail last: a reader that sees a complete header and tail at generation g saw
  // the payload stores of g issued before them (program order on one CPU, as writeback copies pages).
  XorPayload(w, p, key, 8, n - 2);
  w[n - 2] = id.generation;
  w[n - 1] = TailCheck(id.run_id, id.block, id.generation);
  uint64_t header[8] = {kStampMagic,
                        HeaderWord1(id, pattern.block_size()),
                        id.run_id,
                        id.block,
                        id.generation,
                        id.pin_epoch,
                        0,
                        0};
  header[7] = XXH64(header, 56, 0);
  std::memcpy(w, header, sizeof header);
}

namespace {

// A block that is neither zero, intact nor foreign: every word is attributed to a generation, to zero, or to
// nothing, and the block is torn when all of it is accounted for by two sources or more, corrupt otherwise.
// Rare (the verifier meets it only where a crash or a racing copy cut a write): clarity over speed here, but
// no allocation all the same, as the verifier's threads run it.
class TornBlockJudge {
 public:
  TornBlockJudge(const StampPattern& pattern, uint64_t block, const uint64_t* words, bool header_valid,
                 std::span<const uint32_t> recent_epochs, uint64_t max_generation)
      : w_(words),
        p_(pattern.words()),
        n_(pattern.block_size() / 8),
        run_(pattern.run_id()),
        block_(block),
        header_valid_(header_valid),
        recent_epochs_(recent_epochs),
        max_generation_(max_generation) {}

  BlockVerdict Classify() {
    if (size_t bad = AttributePayload(); bad != kAccounted) return CorruptAt(bad);
    if (size_t bad = CheckIdentityWords(); bad != kAccounted) return CorruptAt(bad);
    // A generation field vouched for by its own check (header checksum, tail check) is a generation even when
    // no payload word carries it: the header and tail are stored last, so a copy racing a writer's stores can
    // pair an old, whole header or tail with a payload that is already all new.
    tail_vouched_ =
        w_[n_ - 2] <= kMaxPlausibleGeneration && w_[n_ - 1] == TailCheck(run_, block_, w_[n_ - 2]);
    header_cut_other_ = HeaderCutNeighbour();
    if (header_cut_other_) Note(header_cut_other_);
    if (max_generation_ != 0 && max_generation_ <= kMaxGenerationSearch) SearchLoggedGenerations();
    NoteGenerationWords();
    if (size_t bad = JudgeMixedWords(); bad != kAccounted) return CorruptAt(bad);
    return Torn();
  }

 private:
  static constexpr int kMaxGens = 8;
  static constexpr size_t kMaxMixed = 64;
  static constexpr size_t kAccounted = SIZE_MAX;  // no word left unaccounted for

  void Note(uint64_t g) {
    if (IsCandidate(g)) return;
    if (ngens_ < kMaxGens) gens_[ngens_++] = g;
  }
  bool IsCandidate(uint64_t g) const {
    for (int k = 0; k < ngens_; ++k)
      if (gens_[k] == g) return true;
    return false;
  }
  static bool IsGeneration(uint64_t g) { return g != 0 && g <= kMaxPlausibleGeneration; }
  static BlockVerdict CorruptAt(size_t i) {
    BlockVerdict v;
    v.cls = BlockClass::kCorrupt;
    v.bad_word = i;
    return v;
  }
  // The header's checksum word for the header as read with generation `gen` and pin epoch `epoch` put in.
  uint64_t HeaderCheckWith(uint64_t gen, uint64_t epoch) const {
    uint64_t h[7];
    std::memcpy(h, w_, sizeof h);
    h[4] = gen;
    h[5] = epoch;
    return XXH64(h, 56, 0);
  }
  // Whether the header's checksum matches with generation `gen` and the pin epoch as read or a recent one.
  bool HeaderCheckMatches(uint64_t gen) const {
    if (HeaderCheckWith(gen, w_[5]) == w_[7]) return true;
    for (uint32_t epoch : recent_epochs_)
      if (HeaderCheckWith(gen, epoch) == w_[7]) return true;
    return false;
  }

  // Payload words: each decodes to a generation, is zero, or is left for the byte-wise judgement (mixed).
  //
  // A word that decodes to no generation may still be a mix of two at byte granularity: without stable pages
  // a page changes while its write is in flight, and a copy of it (dm-log-writes at submission, a bounce
  // buffer, a loop device) races a writer's copy into it a byte at a time (seen on Debian 6.1 under qemu:
  // a pwrite block of generation 9 whose first 1883 bytes were already generation 10's, the split inside
  // word 235). Such words are judged after every whole word is known: each byte must be the same byte of a
  // generation the block holds in whole words (or zero, where it holds zero words).
  size_t AttributePayload() {
    const uint64_t base = BlockBase(run_, block_);
    for (size_t i = 8; i < n_ - 2; ++i) {
      if (w_[i] == 0) {
        zero_ = true;
        continue;
      }
      const uint64_t g = DecodeGeneration(w_[i], p_[i], base);
      if (g > kMaxPlausibleGeneration) {
        if (nmixed_ == kMaxMixed) return i;
        mixed_[nmixed_++] = i;
        continue;
      }
      Note(g);
    }
    return kAccounted;
  }

  // A split between zeros and a generation inside one word: a run of zero bytes at its start or its end (a
  // block's first write racing a copy of its page).
  static bool ZeroSplit(uint64_t word) {
    for (int k = 1; k < 8; ++k)
      if ((word << (8 * k)) == 0 || (word >> (8 * k)) == 0) return true;
    return false;
  }
  // Every byte of `word` is the same byte of one of the candidates' words at this position (expected(g)), or
  // zero: anywhere where the block holds zero words, else only as a zero split.
  template <typename Expected>
  bool BytesOfCandidates(uint64_t word, Expected expected) {
    const bool zero_ok = zero_ || ZeroSplit(word);
    bool used_zero = false;
    for (int byte = 0; byte < 8; ++byte) {
      const uint64_t mask = uint64_t{0xff} << (8 * byte);
      bool found = false;
      for (int k = 0; k < ngens_ && !found; ++k) found = ((word ^ expected(gens_[k])) & mask) == 0;
      if (!found && zero_ok && (word & mask) == 0) found = used_zero = true;
      if (!found) return false;
    }
    if (used_zero) split_zero_ = true;
    return true;
  }
  // Identity words: ours, zero, or split between the two.
  bool IdentityOk(uint64_t word, uint64_t ours) {
    if (word == 0 || word == ours) return true;
    if (!ZeroSplit(word)) return false;
    for (int byte = 0; byte < 8; ++byte) {
      const uint64_t b = (word >> (8 * byte)) & 0xff;
      if (b != 0 && b != ((ours >> (8 * byte)) & 0xff)) return false;
    }
    split_zero_ = true;
    return true;
  }

  // Header and tail words: identity fields must be ours (or zero). A zero identity word is a part the write
  // had not reached (or a copy read before it did).
  size_t CheckIdentityWords() {
    if (w_[0] == 0 || w_[1] == 0 || w_[2] == 0 || w_[7] == 0 || w_[n_ - 1] == 0) zero_ = true;
    if (!IdentityOk(w_[0], kStampMagic)) return 0;
    if (!IdentityOk(w_[2], run_)) return 2;
    if (!IdentityOk(w_[3], block_)) return 3;
    if (w_[6] != 0) return 6;
    return kAccounted;
  }

  // A copy that cut the header store itself (StampBlock stores it in 16-byte pieces, a copy reads forward and
  // may be overtaken): the generation word and the checksum come from consecutive generations, g and g-1 or
  // g and g+1. The checksum then vouches for the header with the neighbouring generation put back, which no
  // damage but a +-1 change of the generation word itself can imitate (that still classifies as torn, never
  // intact). Without this, the cut reads as one generation with a broken header: corrupt, a false alarm.
  // The pin epoch word travels with the generation word (same piece) unless the cut fell between them; a
  // DMA write's epoch differs from the previous stamp's, so the caller's recent epochs are tried as well.
  // Returns the neighbouring generation (the later of the two when both fit), 0 when none.
  uint64_t HeaderCutNeighbour() const {
    if (header_valid_ || w_[0] != kStampMagic || w_[4] > kMaxPlausibleGeneration) return 0;
    uint64_t other_found = 0;
    for (uint64_t other : {w_[4] - 1, w_[4] + 1}) {
      if (other == 0 || other > kMaxPlausibleGeneration) continue;
      if (HeaderCheckWith(other, w_[5]) == w_[7]) {
        other_found = other;
        continue;
      }
      if (other_found) continue;
      for (uint32_t epoch : recent_epochs_)
        if (HeaderCheckWith(other, epoch) == w_[7]) {
          other_found = other;
          break;
        }
    }
    return other_found;
  }

  // Where the log says how many generations the block had, a generation that a copy left only in the cut
  // header or tail (no whole payload word of it) is found by exact match, never guessed:
  //   the tail check is TailCheck(X) of one X (a cut inside the tail's generation word);
  //   the header check is that of the header with generation X (a cut inside the header's generation or
  //   epoch word), the generation word then being X's bytes after a prefix of another generation's;
  //   the header check is a byte mix of the checks of the header's own generation and a candidate's (a cut
  //   inside the check word).
  void SearchLoggedGenerations() {
    FindTailGeneration();
    if (header_valid_ || header_cut_other_ || w_[0] != kStampMagic || w_[2] != run_ || w_[3] != block_ ||
        IsCandidate(w_[4]))
      return;
    uint64_t vouched = 0;
    for (uint64_t x = 1; x <= max_generation_ && !vouched; ++x)
      if (HeaderCheckMatches(x)) vouched = x;
    if (vouched) {
      Note(vouched);
      if (!IsCandidate(w_[4])) NoteGenerationWordPrefix(vouched);
    } else if (IsGeneration(w_[4]) && w_[4] <= max_generation_ && CheckWordIsCut()) {
      Note(w_[4]);
    }
  }

  void FindTailGeneration() {
    const uint64_t tail = w_[n_ - 1];
    if (tail == 0 || tail_vouched_) return;
    for (int k = 0; k < ngens_; ++k)
      if (tail == TailCheck(run_, block_, gens_[k])) return;
    for (uint64_t x = 1; x <= max_generation_; ++x)
      if (TailCheck(run_, block_, x) == tail) {
        Note(x);
        return;
      }
  }

  // The generation word is another issued generation's, whole (the cut fell after it) or as a prefix of its
  // bytes (the rest the vouched one's). Several may fit (generation 1 is 257's low byte): the newest that
  // fits is taken, so that no lower bound fails on a guess.
  void NoteGenerationWordPrefix(uint64_t vouched) {
    for (uint64_t x = max_generation_; x >= 1; --x) {
      bool ok = true;
      for (int byte = 0; byte < 8 && ok; ++byte) {
        const uint64_t mask = uint64_t{0xff} << (8 * byte);
        ok = ((w_[4] ^ x) & mask) == 0 || ((w_[4] ^ vouched) & mask) == 0;
      }
      if (ok) {
        Note(x);
        return;
      }
    }
  }

  // The check word itself cut: its bytes from the checks of this header's generation and candidates'.
  bool CheckWordIsCut() const {
    uint64_t checks[(kMaxGens + 1) * 3];
    int nchecks = 0;
    auto add_checks = [&](uint64_t g) {
      checks[nchecks++] = HeaderCheckWith(g, w_[5]);
      for (uint32_t epoch : recent_epochs_.first(std::min<size_t>(recent_epochs_.size(), 2)))
        checks[nchecks++] = HeaderCheckWith(g, epoch);
    };
    add_checks(w_[4]);
    for (int k = 0; k < ngens_; ++k) add_checks(gens_[k]);
    bool ok = true;
    for (int byte = 0; byte < 8 && ok; ++byte) {
      const uint64_t mask = uint64_t{0xff} << (8 * byte);
      ok = false;
      for (int c = 0; c < nchecks && !ok; ++c) ok = ((w_[7] ^ checks[c]) & mask) == 0;
    }
    return ok;
  }

  // The header's and the tail's generation words: a generation of their own when vouched for (or when nothing
  // else names one), else judged byte by byte with the mixed payload words.
  void NoteGenerationWords() {
    for (size_t i : {size_t{4}, n_ - 2}) {
      const bool vouched = i == 4 ? header_valid_ || header_cut_other_ != 0 : tail_vouched_;
      if (w_[i] == 0) {
        zero_ = true;
      } else if ((ngens_ == 0 || vouched) && w_[i] <= kMaxPlausibleGeneration) {
        Note(w_[i]);
      } else if (!IsCandidate(w_[i])) {
        mixed_gen_words_[nmixed_gen_++] = i;
      }
    }
  }

  // Now every generation the block holds in whole words is known: the mixed words must be made of them.
  size_t JudgeMixedWords() {
    for (size_t k = 0; k < nmixed_; ++k) {
      const size_t i = mixed_[k];
      if (!BytesOfCandidates(w_[i], [&](uint64_t g) { return p_[i] ^ PayloadKey(run_, block_, g); }))
        return i;
    }
    for (size_t k = 0; k < nmixed_gen_; ++k) {
      const size_t i = mixed_gen_words_[k];
      if (!BytesOfCandidates(w_[i], [](uint64_t g) { return g; })) return i;
    }
    const uint64_t tail = w_[n_ - 1];
    if (tail != 0 && !IsTailOfCandidate(tail) &&
        !BytesOfCandidates(tail, [&](uint64_t g) { return TailCheck(run_, block_, g); }))
      return n_ - 1;
    return kAccounted;
  }
  bool IsTailOfCandidate(uint64_t tail) const {
    for (int k = 0; k < ngens_; ++k)
      if (tail == TailCheck(run_, block_, gens_[k])) return true;
    return false;
  }

  // Torn when two sources or more account for the block, else one generation that is not intact: corrupt.
  BlockVerdict Torn() {
    if (split_zero_) zero_ = true;
    // A write's first bytes over zeros, cut before its generation word: the header's identity words are the
    // second source (a generation the block does not name).
    const bool unnamed_write = ngens_ == 0 && zero_ && (w_[0] | w_[2] | w_[3]) != 0;
    const int sources = ngens_ + (zero_ ? 1 : 0) + (unnamed_write ? 1 : 0);
    if (sources < 2) return CorruptAt(header_valid_ ? n_ - 1 : 7);
    BlockVerdict v;
    v.cls = BlockClass::kTorn;
    v.has_zero_words = zero_;
    v.generation = gens_[0];
    v.min_generation = gens_[0];
    for (int k = 1; k < ngens_; ++k) {
      if (gens_[k] > v.generation) v.generation = gens_[k];
      if (gens_[k] < v.min_generation) v.min_generation = gens_[k];
    }
    if (ngens_ == 0) v.generation = v.min_generation = 0;
    if (zero_) v.min_generation = 0;
    return v;
  }

  const uint64_t* w_;
  const uint64_t* p_;
  const size_t n_;
  const uint64_t run_, block_;
  const bool header_valid_;
  const std::span<const uint32_t> recent_epochs_;
  const uint64_t max_generation_;

  uint64_t gens_[kMaxGens];  // the generations the block holds (whole words, vouched fields, exact matches)
  int ngens_ = 0;
  bool zero_ = false;        // some part of the block is zero
  bool split_zero_ = false;  // a word is split between zero bytes and a generation's
  bool tail_vouched_ = false;
  uint64_t header_cut_other_ = 0;
  size_t mixed_[kMaxMixed];  // payload words left for the byte-wise judgement
  size_t nmixed_ = 0;
  size_t mixed_gen_words_[2];  // the same for the header's and the tail's generation words
  size_t nmixed_gen_ = 0;
};

}  // namespace

BlockVerdict ClassifyBlock(const StampPattern& pattern, uint64_t block, const std::byte* data,
                           std::span<const uint32_t> recent_epochs, uint64_t max_generation) {
  const size_t n = pattern.block_size() / 8;
  const auto* w = reinterpret_cast<const uint64_t*>(data);
  const uint64_t* p = pattern.words();
  const uint64_t run = pattern.run_id();
  BlockVerdict v;

  // Fast path, the verifier's hot loop: a whole stamp of this block (intact), another's (foreign), or zeros.
  const bool header_valid = w[0] == kStampMagic && XXH64(w, 56, 0) == w[7];
  if (header_valid && w[2] == run && w[3] == block) {
    const uint64_t gen = w[4];
    const uint64_t key = PayloadKey(run, block, gen);
    const uint64_t diff = PayloadDiff(w, p, key, 8, n - 2);
    if (diff == 0 && w[n - 2] == gen && w[n - 1] == TailCheck(run, block, gen)) {
      v.cls = BlockClass::kIntact;
      v.generation = gen;
      v.kind = static_cast<WriterKind>((w[1] >> 16) & 0xff);
      v.writer_id = static_cast<uint32_t>(w[1] >> 32);
      return v;
    }
  } else if (header_valid) {
    v.cls = BlockClass::kForeign;
    v.found_run = w[2];
    v.found_block = w[3];
    v.generation = w[4];
    return v;
  }

  uint64_t any = 0;
  for (size_t i = 0; i < n; ++i) any |= w[i];
  if (any == 0) return v;  // kZero
  return TornBlockJudge(pattern, block, w, header_valid, recent_epochs, max_generation).Classify();
}

}  // namespace longpin
