// The oracle of a race attempt (see race_oracle.h).
#include "workloads/race_oracle.h"

#include <fmt/format.h>

#include <algorithm>
#include <optional>

namespace longpin::race {

Bound BoundOf(const std::vector<AttemptWrite>& writes, const std::vector<AttemptSync>& syncs, bool strict) {
  Bound b;
  for (const auto& w : writes) {
    const int from = strict ? w.done_step : w.released_step;
    if (from < 0) continue;
    for (const auto& s : syncs)
      if (s.step > from && s.err == 0 && s.promises && w.generation > b.generation) {
        b = {w.generation, &w, &s};
        break;
      }
  }
  return b;
}

namespace {

std::string Described(const BlockVerdict& v, const std::vector<AttemptWrite>& writes) {
  switch (v.cls) {
    case BlockClass::kZero: return "zero";
    case BlockClass::kIntact: {
      std::string what = fmt::format("intact@{}", v.generation);
      for (const auto& w : writes)
        if (w.generation == v.generation) what += fmt::format(" (the {} write)", WriterKindName(w.kind));
      return what;
    }
    case BlockClass::kTorn: return fmt::format("torn@{}..{}", v.min_generation, v.generation);
    case BlockClass::kForeign: return fmt::format("foreign(block {})", v.found_block);
    case BlockClass::kCorrupt: return fmt::format("corrupt(word {})", v.bad_word);
  }
  return "?";
}

// Everything a race run holds; torn down in reverse by the destructor, whatever happened.

// The oldest generation any part of a block holds (0 for zeros), or nullopt when the block is damaged
// (another block's stamp, a corrupt word).
std::optional<uint64_t> GenerationHeld(const BlockVerdict& v) {
  switch (v.cls) {
    case BlockClass::kZero: return 0;
    case BlockClass::kIntact: return v.generation;
    case BlockClass::kTorn: return v.has_zero_words ? 0 : v.min_generation;
    case BlockClass::kForeign:
    case BlockClass::kCorrupt: return std::nullopt;
  }
  return std::nullopt;
}

}  // namespace

bool JudgeWindow(const StampPattern& pattern, const WindowReadback& window,
                 const std::vector<AttemptWrite>& writes, const std::vector<AttemptSync>& syncs,
                 RaceReport& race) {
  const Bound kernel = BoundOf(writes, syncs, false);
  const Bound strict = BoundOf(writes, syncs, true);
  uint64_t newest = 0;
  for (const auto& w : writes) newest = std::max(newest, w.generation);
  const bool strict_dma = strict.write && strict.write->kind == WriterKind::kDma;
  bool found = false;
  for (uint64_t i = 0; i < window.blocks; ++i) {
    const uint64_t block = window.first_block + i;
    const BlockVerdict v = ClassifyBlock(pattern, block, window.data + i * window.block_size);
    const std::optional<uint64_t> held = GenerationHeld(v);
    const bool damaged = !held;
    const uint64_t have = held.value_or(0);
    const bool never_issued =
        (v.cls == BlockClass::kIntact || v.cls == BlockClass::kTorn) && v.generation > newest;
    if (strict_dma) {
      race.dma_blocks_strict_promised++;
      if (!damaged && !never_issued && have >= strict.generation) race.dma_blocks_strict_found++;
    }
    auto record = [&](const char* contract, const Bound& b) {
      RaceExample e;
      e.attempt = window.attempt;
      e.contract = contract;
      e.block = block;
      e.offset = block * window.block_size;
      e.expected_generation = b.generation;
      e.found = Described(v, writes);
      e.writer = b.write ? WriterKindName(b.write->kind) : "-";
      e.promised_by = b.sync ? fmt::format("sync #{} ({}, returned 0)", b.sync->number, b.sync->op) : "-";
      if (race.examples.size() < 20) race.examples.push_back(e);
      found = true;
    };
    if (damaged || never_issued || have < kernel.generation) {
      race.kernel_violations++;
      record("kernel", kernel);
    } else if (have < strict.generation) {
      race.strict_misses++;
      record("strict", strict);
    }
  }
  return found;
}

}  // namespace longpin::race
