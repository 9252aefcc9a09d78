#include "core/block_stamp.h"

#include <xxhash.h>

#include "core/stamp_math.h"

#include <bit>
#include <cstring>

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
  uint64_t header[8] = {kStampMagic, HeaderWord1(id, pattern.block_size()), id.run_id, id.block,
                        id.generation, id.pin_epoch, 0, 0};
  header[7] = XXH64(header, 56, 0);
  std::memcpy(w, header, sizeof header);
}

BlockVerdict ClassifyBlock(const StampPattern& pattern, uint64_t block, const std::byte* data,
                           std::span<const uint32_t> recent_epochs, uint64_t max_generation) {
  const size_t n = pattern.block_size() / 8;
  const auto* w = reinterpret_cast<const uint64_t*>(data);
  const uint64_t* p = pattern.words();
  const uint64_t run = pattern.run_id();
  BlockVerdict v;

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

  // Slow path: attribute every word to a generation, to zero, or to nothing.
  const uint64_t base = BlockBase(run, block);
  constexpr int kMaxGens = 8;
  uint64_t gens[kMaxGens];
  int ngens = 0;
  bool zero = false;
  auto note = [&](uint64_t g) {
    for (int k = 0; k < ngens; ++k)
      if (gens[k] == g) return;
    if (ngens < kMaxGens) gens[ngens++] = g;
  };
  auto is_candidate = [&](uint64_t g) {
    for (int k = 0; k < ngens; ++k)
      if (gens[k] == g) return true;
    return false;
  };
  auto corrupt_at = [&](size_t i) {
    v = BlockVerdict{};
    v.cls = BlockClass::kCorrupt;
    v.bad_word = i;
    return v;
  };
  // A word that decodes to no generation may still be a mix of two at byte granularity: without stable pages
  // a page changes while its write is in flight, and a copy of it (dm-log-writes at submission, a bounce
  // buffer, a loop device) races a writer's copy into it a byte at a time (seen on Debian 6.1 under qemu:
  // a pwrite block of generation 9 whose first 1883 bytes were already generation 10's, the split inside
  // word 235). Such words are judged after every whole word is known: each byte must be the same byte of a
  // generation the block holds in whole words (or zero, where it holds zero words).
  constexpr size_t kMaxMixed = 64;
  size_t mixed[kMaxMixed];
  size_t nmixed = 0;
  for (size_t i = 8; i < n - 2; ++i) {
    if (w[i] == 0) {
      zero = true;
      continue;
    }
    const uint64_t g = DecodeGeneration(w[i], p[i], base);
    if (g > kMaxPlausibleGeneration) {
      if (nmixed == kMaxMixed) return corrupt_at(i);
      mixed[nmixed++] = i;
      continue;
    }
    note(g);
  }
  // Every byte of `word` is the same byte of one of the candidates' words at this position (expected(g)), or
  // zero: anywhere where the block holds zero words, else only as one run at the start or the end of the
  // word (a split between zeros and a generation: a block's first write racing a copy of its page).
  auto zero_split = [](uint64_t word) {
    for (int k = 1; k < 8; ++k)
      if ((word << (8 * k)) == 0 || (word >> (8 * k)) == 0) return true;
    return false;
  };
  bool split_zero = false;
  auto bytes_of_candidates = [&](uint64_t word, auto expected) {
    const bool zero_ok = zero || zero_split(word);
    bool used_zero = false;
    for (int byte = 0; byte < 8; ++byte) {
      const uint64_t mask = uint64_t{0xff} << (8 * byte);
      bool found = false;
      for (int k = 0; k < ngens && !found; ++k) found = ((word ^ expected(gens[k])) & mask) == 0;
      if (!found && zero_ok && (word & mask) == 0) found = used_zero = true;
      if (!found) return false;
    }
    if (used_zero) split_zero = true;
    return true;
  };
  // Identity words: ours, zero, or split between the two.
  auto identity_ok = [&](uint64_t word, uint64_t ours) {
    if (word == 0 || word == ours) return true;
    if (!zero_split(word)) return false;
    for (int byte = 0; byte < 8; ++byte) {
      const uint64_t b = (word >> (8 * byte)) & 0xff;
      if (b != 0 && b != ((ours >> (8 * byte)) & 0xff)) return false;
    }
    split_zero = true;
    return true;
  };
  // Header and tail words: identity fields must be ours (or zero), generation fields must be candidates.
  // A zero identity word is a part the write had not reached (or a copy read before it did).
  if (w[0] == 0 || w[1] == 0 || w[2] == 0 || w[7] == 0 || w[n - 1] == 0) zero = true;
  if (!identity_ok(w[0], kStampMagic)) return corrupt_at(0);
  if (!identity_ok(w[2], run)) return corrupt_at(2);
  if (!identity_ok(w[3], block)) return corrupt_at(3);
  if (w[6] != 0) return corrupt_at(6);
  // A generation field vouched for by its own check (header checksum, tail check) is a generation even when
  // no payload word carries it: the header and tail are stored last, so a copy racing a writer's stores can
  // pair an old, whole header or tail with a payload that is already all new.
  const bool tail_vouched = w[n - 2] <= kMaxPlausibleGeneration && w[n - 1] == TailCheck(run, block, w[n - 2]);
  // A copy that cut the header store itself (StampBlock stores it in 16-byte pieces, a copy reads forward and
  // may be overtaken): the generation word and the checksum come from consecutive generations, g and g-1 or
  // g and g+1. The checksum then vouches for the header with the neighbouring generation put back, which no
  // damage but a +-1 change of the generation word itself can imitate (that still classifies as torn, never
  // intact). Without this, the cut reads as one generation with a broken header: corrupt, a false alarm.
  // The pin epoch word travels with the generation word (same piece) unless the cut fell between them; a
  // DMA write's epoch differs from the previous stamp's, so the caller's recent epochs are tried as well.
  uint64_t header_cut_other = 0;
  if (!header_valid && w[0] == kStampMagic && w[4] <= kMaxPlausibleGeneration) {
    uint64_t h[7];
    std::memcpy(h, w, sizeof h);
    for (uint64_t other : {w[4] - 1, w[4] + 1}) {
      if (other == 0 || other > kMaxPlausibleGeneration) continue;
      h[4] = other;
      h[5] = w[5];
      if (XXH64(h, 56, 0) == w[7]) header_cut_other = other;
      for (uint32_t epoch : recent_epochs) {
        h[5] = epoch;
        if (!header_cut_other && XXH64(h, 56, 0) == w[7]) header_cut_other = other;
      }
    }
  }
  if (header_cut_other) note(header_cut_other);
  // Where the log says how many generations the block had, a generation that a copy left only in the cut
  // header or tail (no whole payload word of it) is found by exact match, never guessed:
  //   the tail check is TailCheck(X) of one X (a cut inside the tail's generation word);
  //   the header check is that of the header with generation X (a cut inside the header's generation or
  //   epoch word), the generation word then being X's bytes after a prefix of another generation's;
  //   the header check is a byte mix of the checks of the header's own generation and a candidate's (a cut
  //   inside the check word).
  uint64_t header_vouches = 0;
  auto is_gen = [](uint64_t g) { return g != 0 && g <= kMaxPlausibleGeneration; };
  if (max_generation != 0 && max_generation <= kMaxGenerationSearch) {
    bool tail_known = w[n - 1] == 0 || tail_vouched;
    for (int k = 0; k < ngens && !tail_known; ++k) tail_known = w[n - 1] == TailCheck(run, block, gens[k]);
    for (uint64_t x = 1; x <= max_generation && !tail_known; ++x)
      if (TailCheck(run, block, x) == w[n - 1]) {
        note(x);
        tail_known = true;
      }
    if (!header_valid && !header_cut_other && w[0] == kStampMagic && w[2] == run && w[3] == block &&
        !is_candidate(w[4])) {
      uint64_t h[7];
      std::memcpy(h, w, sizeof h);
      for (uint64_t x = 1; x <= max_generation && !header_vouches; ++x) {
        h[4] = x;
        h[5] = w[5];
        if (XXH64(h, 56, 0) == w[7]) header_vouches = x;
        for (uint32_t epoch : recent_epochs) {
          h[5] = epoch;
          if (!header_vouches && XXH64(h, 56, 0) == w[7]) header_vouches = x;
        }
      }
      if (header_vouches) {
        note(header_vouches);
        if (!is_candidate(w[4])) {
          // The generation word is another issued generation's, whole (the cut fell after it) or as a prefix
          // of its bytes (the rest the vouched one's). Several may fit (generation 1 is 257's low byte):
          // the newest that fits is taken, so that no lower bound fails on a guess.
          for (uint64_t x = max_generation; x >= 1; --x) {
            bool ok = true;
            for (int byte = 0; byte < 8 && ok; ++byte) {
              const uint64_t mask = uint64_t{0xff} << (8 * byte);
              ok = ((w[4] ^ x) & mask) == 0 || ((w[4] ^ header_vouches) & mask) == 0;
            }
            if (ok) {
              note(x);
              break;
            }
          }
        }
      } else if (is_gen(w[4]) && w[4] <= max_generation) {
        // The check word itself cut: its bytes from the checks of this header's generation and candidates'.
        uint64_t checks[2 * (kMaxGens + 1) * 3];
        int nchecks = 0;
        auto add_checks = [&](uint64_t g) {
          h[4] = g;
          h[5] = w[5];
          checks[nchecks++] = XXH64(h, 56, 0);
          for (uint32_t epoch : recent_epochs.first(std::min<size_t>(recent_epochs.size(), 2))) {
            h[5] = epoch;
            checks[nchecks++] = XXH64(h, 56, 0);
          }
        };
        add_checks(w[4]);
        for (int k = 0; k < ngens; ++k) add_checks(gens[k]);
        bool ok = true;
        for (int byte = 0; byte < 8 && ok; ++byte) {
          const uint64_t mask = uint64_t{0xff} << (8 * byte);
          ok = false;
          for (int c = 0; c < nchecks && !ok; ++c) ok = ((w[7] ^ checks[c]) & mask) == 0;
        }
        if (ok) note(w[4]);
      }
    }
  }
  size_t mixed_gen_words[2];
  size_t nmixed_gen = 0;
  for (size_t i : {size_t{4}, n - 2}) {
    const bool vouched = i == 4 ? header_valid || header_cut_other != 0 : tail_vouched;
    if (w[i] == 0) {
      zero = true;
    } else if ((ngens == 0 || vouched) && w[i] <= kMaxPlausibleGeneration) {
      note(w[i]);
    } else if (!is_candidate(w[i])) {
      mixed_gen_words[nmixed_gen++] = i;  // judged byte by byte below
    }
  }
  // Now every generation the block holds in whole words is known: the mixed words must be made of them.
  for (size_t k = 0; k < nmixed; ++k) {
    const size_t i = mixed[k];
    if (!bytes_of_candidates(w[i], [&](uint64_t g) { return p[i] ^ PayloadKey(run, block, g); })) return corrupt_at(i);
  }
  for (size_t k = 0; k < nmixed_gen; ++k) {
    const size_t i = mixed_gen_words[k];
    if (!bytes_of_candidates(w[i], [](uint64_t g) { return g; })) return corrupt_at(i);
  }
  if (w[n - 1] != 0) {
    bool match = false;
    for (int k = 0; k < ngens && !match; ++k) match = w[n - 1] == TailCheck(run, block, gens[k]);
    if (!match && !bytes_of_candidates(w[n - 1], [&](uint64_t g) { return TailCheck(run, block, g); }))
      return corrupt_at(n - 1);
  }
  if (split_zero) zero = true;
  // A write's first bytes over zeros, cut before its generation word: the header's identity words are the
  // second source (a generation the block does not name).
  const bool unnamed_write = ngens == 0 && zero && (w[0] | w[2] | w[3]) != 0;
  const int sources = ngens + (zero ? 1 : 0) + (unnamed_write ? 1 : 0);
  if (sources < 2) return corrupt_at(header_valid ? n - 1 : 7);  // one generation, yet not intact
  v.cls = BlockClass::kTorn;
  v.has_zero_words = zero;
  v.generation = gens[0];
  v.min_generation = gens[0];
  for (int k = 1; k < ngens; ++k) {
    if (gens[k] > v.generation) v.generation = gens[k];
    if (gens[k] < v.min_generation) v.min_generation = gens[k];
  }
  if (ngens == 0) v.generation = v.min_generation = 0;
  if (zero) v.min_generation = 0;
  return v;
}

}  // namespace longpin
