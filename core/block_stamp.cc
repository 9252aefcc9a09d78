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
                           std::span<const uint32_t> recent_epochs) {
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
  for (size_t i = 8; i < n - 2; ++i) {
    if (w[i] == 0) {
      zero = true;
      continue;
    }
    const uint64_t g = DecodeGeneration(w[i], p[i], base);
    if (g > kMaxPlausibleGeneration) return corrupt_at(i);
    note(g);
  }
  // Header and tail words: identity fields must be ours (or zero), generation fields must be candidates.
  if (w[0] != 0 && w[0] != kStampMagic) return corrupt_at(0);
  if (w[2] != 0 && w[2] != run) return corrupt_at(2);
  if (w[3] != 0 && w[3] != block) return corrupt_at(3);
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
  for (size_t i : {size_t{4}, n - 2}) {
    const bool vouched = i == 4 ? header_valid || header_cut_other != 0 : tail_vouched;
    if (w[i] == 0) {
      zero = true;
    } else if ((ngens == 0 || vouched) && w[i] <= kMaxPlausibleGeneration) {
      note(w[i]);
    } else if (!is_candidate(w[i])) {
      return corrupt_at(i);
    }
  }
  if (w[n - 1] != 0) {
    bool match = false;
    for (int k = 0; k < ngens && !match; ++k) match = w[n - 1] == TailCheck(run, block, gens[k]);
    if (!match) return corrupt_at(n - 1);
  }
  const int sources = ngens + (zero ? 1 : 0);
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
