#include "verifiers/oracle.h"

#include <string>

namespace longpin {
namespace {

std::string Describe(const BlockVerdict& v) {
  switch (v.cls) {
    case BlockClass::kZero: return "zero";
    case BlockClass::kIntact: return "intact@" + std::to_string(v.generation);
    case BlockClass::kTorn:
      return "torn@" + std::to_string(v.min_generation) + ".." + std::to_string(v.generation) +
             (v.has_zero_words ? "+zero" : "");
    case BlockClass::kForeign:
      return "foreign(block " + std::to_string(v.found_block) + " gen " + std::to_string(v.generation) +
             " run " + std::to_string(v.found_run) + ")";
    case BlockClass::kCorrupt: return "corrupt(word " + std::to_string(v.bad_word) + ")";
  }
  return "?";
}

// The oldest generation the block holds in full or in part (0 for zero words).
uint64_t OldestFound(const BlockVerdict& v) {
  switch (v.cls) {
    case BlockClass::kIntact: return v.generation;
    case BlockClass::kTorn: return v.min_generation;
    default: return 0;
  }
}

// One block's judgement: the block, what the disk holds and what the log expects of it.
struct BlockCase {
  uint64_t block;
  const BlockVerdict& found;
  const BlockExpectation& expected;
  bool whole() const { return found.cls == BlockClass::kIntact || found.cls == BlockClass::kTorn; }
  bool unreadable() const { return found.cls == BlockClass::kForeign || found.cls == BlockClass::kCorrupt; }
};

// Judges block after block into one Verification: kernel violations and strict misses are listed (up to a
// cap) apart and joined at the end, kernel first.
class Judgement {
 public:
  Judgement(const ExpectedState& ex, VerifyMode mode, size_t max_listed)
      : ex_(ex), mode_(mode), max_(max_listed) {
    out_.mode = mode == VerifyMode::kCrash ? "crash" : "sync";
  }

  void Block(const BlockCase& c) {
    out_.classes[BlockClassName(c.found.cls)]++;
    if (BeyondLog(c)) return;
    const bool upper_bad = UpperBoundBroken(c);
    LowerBound(c, upper_bad);
  }

  Verification Finish(uint64_t checked_blocks) {
    out_.checked_blocks = checked_blocks;
    out_.violations = std::move(kernel_);
    out_.violations.insert(out_.violations.end(), strict_.begin(), strict_.end());
    return std::move(out_);
  }

 private:
  void Add(std::vector<Violation>& list, const BlockCase& c, const char* contract, const char* kind,
           uint64_t expected, WriterKind writer) {
    if (list.size() >= max_) {
      ++out_.violations_dropped;
      return;
    }
    Violation x;
    x.contract = contract;
    x.kind = kind;
    x.block = c.block;
    x.offset = c.block * ex_.block_size;
    x.expected_generation = expected;
    x.found = Describe(c.found);
    x.found_generation = c.found.generation;
    x.writer = WriterKindName(writer);
    x.sync_id = ex_.promise_sync_id;
    x.sync_op = ex_.promise_sync_op;
    list.push_back(std::move(x));
  }
  const char* LostOrTorn(const BlockCase& c) const {
    return c.found.cls == BlockClass::kTorn ? "torn" : "lost";
  }

  // The strict contract is measured, not failed: per writer kind, how many promised blocks kept it.
  // Returns whether this one did.
  bool TallyStrict(const BlockCase& c, bool kept) {
    StrictTally& t = out_.strict_by_writer[WriterKindName(c.expected.strict_kind)];
    ++t.promised;
    if (kept) ++t.found;
    else ++out_.strict_misses;
    return kept;
  }

  // What a cut log (power cut) cannot judge; true when the block is done with.
  bool BeyondLog(const BlockCase& c) {
    const BlockExpectation& e = c.expected;
    if (ex_.log_complete) return false;
    // The log lost its tail: a generation above the newest it knows may have been issued, and the block's
    // writes around it are unknown (quiet or not, torn or not): not judged, counted.
    if (c.whole() && c.found.generation > e.max_issued) {
      ++out_.beyond_log;
      const uint64_t oldest_part = OldestFound(c.found);
      // The lower bound still holds for what the log does know: a promised generation must not be missing.
      if (e.kernel_gen > 0 && oldest_part < e.kernel_gen && !(ex_.punches_logged && c.found.has_zero_words)) {
        Add(kernel_, c, "kernel", LostOrTorn(c), e.kernel_gen, e.kernel_kind);
        ++out_.kernel_violations;
      }
      if (e.strict_gen > 0) TallyStrict(c, oldest_part >= e.strict_gen);
      return true;
    }
    // A cut log of a run that punched holes may have lost a punch of this block: zeros are not judged.
    if (ex_.punches_logged && e.kernel_gen > 0 &&
        (c.found.cls == BlockClass::kZero || (c.found.cls == BlockClass::kTorn && c.found.has_zero_words))) {
      ++out_.beyond_log;
      return true;
    }
    return false;
  }

  // Upper bound (kernel contract: damage no contract allows). Returns whether it was broken (and listed).
  bool UpperBoundBroken(const BlockCase& c) {
    const BlockExpectation& e = c.expected;
    const BlockVerdict& v = c.found;
    // A crash may leave the write in flight at the crash point: one generation above the log's newest.
    const uint64_t allowed_max = e.max_issued + (mode_ == VerifyMode::kCrash ? 1 : 0);
    const bool quiet = e.last_write_seq < ex_.promise_seq || e.max_issued == 0;
    if (c.unreadable()) {
      Add(kernel_, c, "kernel", BlockClassName(v.cls), e.kernel_gen, e.last_kind);
      return true;
    }
    if (c.whole() && v.generation > allowed_max) {
      if (!ex_.log_complete) {
        ++out_.beyond_log;  // the log lost its tail in the cut: this generation may well have been issued
        return false;
      }
      Add(kernel_, c, "kernel", "never_issued", allowed_max, e.last_kind);
      return true;
    }
    if (c.whole() && e.stale_gen > 0 && v.generation > 0 && v.generation <= e.stale_gen) {
      Add(kernel_, c, "kernel", "reappeared", 0, e.last_kind);  // punched-out data came back
      return true;
    }
    if (v.cls == BlockClass::kTorn && (quiet || mode_ == VerifyMode::kSync)) {
      Add(kernel_, c, "kernel", "torn", e.kernel_gen, e.last_kind);
      return true;
    }
    return false;
  }

  // Lower bound, both contracts. A torn block keeps its promise only if every part is at least promised; a
  // torn block below its promise is reported as what was found (torn), a whole older block as lost.
  void LowerBound(const BlockCase& c, bool upper_bad) {
    const BlockExpectation& e = c.expected;
    const uint64_t oldest = OldestFound(c.found);
    const bool kernel_missed = e.kernel_gen > 0 && (c.unreadable() || oldest < e.kernel_gen);
    if (!upper_bad && kernel_missed) Add(kernel_, c, "kernel", LostOrTorn(c), e.kernel_gen, e.kernel_kind);
    if (upper_bad || kernel_missed) ++out_.kernel_violations;
    // Misses the kernel contract already lists are not listed twice.
    if (e.strict_gen > 0 && !TallyStrict(c, !c.unreadable() && oldest >= e.strict_gen) &&
        e.kernel_gen < e.strict_gen)
      Add(strict_, c, "strict", "lost", e.strict_gen, e.strict_kind);
  }

  const ExpectedState& ex_;
  const VerifyMode mode_;
  const size_t max_;
  Verification out_;
  std::vector<Violation> kernel_, strict_;
};

}  // namespace

Verification Judge(const ExpectedState& ex, const DiskImage& disk, VerifyMode mode, size_t max_listed) {
  Judgement judgement(ex, mode, max_listed);
  for (uint64_t b = 0; b < disk.verdicts.size() && b < ex.blocks.size(); ++b)
    judgement.Block(BlockCase{b, disk.verdicts[b], ex.blocks[b]});
  return judgement.Finish(disk.verdicts.size());
}

}  // namespace longpin
