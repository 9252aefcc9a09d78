// SplitMix: a small, fast generator for block choice, seeds and resampling (not for anything cryptographic).
// Every random choice of a run derives from its reported seed through it, so a run can be repeated.
#pragma once

#include <cstdint>

namespace longpin {

struct SplitMix {
  uint64_t state;
  uint64_t Next() {
    uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
};

}  // namespace longpin
