// The arithmetic of the stamp format (docs/formats.md), header-only and constexpr so that every producer of
// stamps computes the same bits: the CPU writers (core/block_stamp.cc) and the GPU stamp kernel of the CUDA
// pinner (nvcc --expt-relaxed-constexpr lets device code call these).
#pragma once

#include <cstdint>

namespace longpin::stamp_math {

inline constexpr uint64_t kGenMultiplier = 0x9e3779b97f4a7c15ULL;  // odd, hence invertible mod 2^64

constexpr uint64_t InverseOf(uint64_t a) {
  uint64_t x = a;  // correct to 3 bits for odd a; each Newton step doubles the correct bits
  for (int i = 0; i < 6; ++i) x *= 2 - a * x;
  return x;
}
inline constexpr uint64_t kGenInverse = InverseOf(kGenMultiplier);
static_assert(kGenMultiplier * kGenInverse == 1);

constexpr uint64_t Fmix(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}
constexpr uint64_t BlockBase(uint64_t run, uint64_t block) {
  return Fmix(run ^ Fmix(block + 0x6a09e667f3bcc909ULL));
}
// Payload word i of (run, block, gen) is pattern[i] ^ PayloadKey(run, block, gen).
constexpr uint64_t PayloadKey(uint64_t run, uint64_t block, uint64_t gen) {
  return BlockBase(run, block) ^ gen * kGenMultiplier;
}
constexpr uint64_t TailCheck(uint64_t run, uint64_t block, uint64_t gen) {
  return Fmix(BlockBase(run, block) ^ Fmix(gen ^ 0x510e527fade682d1ULL));
}
constexpr uint64_t DecodeGeneration(uint64_t word, uint64_t pattern, uint64_t base) {
  return (word ^ pattern ^ base) * kGenInverse;
}
// Word i of the per-run pattern.
constexpr uint64_t PatternWord(uint64_t run, uint64_t i) {
  return Fmix((run ^ 0x243f6a8885a308d3ULL) + (i + 1) * 0x9e3779b97f4a7c15ULL);
}

}  // namespace longpin::stamp_math
