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
      return "foreign(block " + std::to_string(v.found_block) + " gen " + std::to_string(v.generation) + " run " +
             std::to_string(v.found_run) + ")";
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

}  // namespace

Verification Judge(const ExpectedState& ex, const DiskImage& disk, VerifyMode mode, size_t max_listed) {
  Verification out;
  out.mode = mode == VerifyMode::kCrash ? "crash" : "sync";
  out.checked_blocks = disk.verdicts.size();
  std::vector<Violation> kernel, strict;
  auto add = [&](std::vector<Violation>& list, Violation v) {
    if (list.size() < max_listed) list.push_back(std::move(v));
    else ++out.violations_dropped;
  };
  for (uint64_t b = 0; b < disk.verdicts.size() && b < ex.blocks.size(); ++b) {
    const BlockVerdict& v = disk.verdicts[b];
    const BlockExpectation& e = ex.blocks[b];
    out.classes[BlockClassName(v.cls)]++;
    // A crash may leave the write in flight at the crash point: one generation above the log's newest.
    const uint64_t allowed_max = e.max_issued + (mode == VerifyMode::kCrash ? 1 : 0);
    const bool quiet = e.last_write_seq < ex.promise_seq || e.max_issued == 0;
    auto base = [&](const char* contract, const char* kind, uint64_t expected, WriterKind writer) {
      Violation x;
      x.contract = contract;
      x.kind = kind;
      x.block = b;
      x.offset = b * ex.block_size;
      x.expected_generation = expected;
      x.found = Describe(v);
      x.found_generation = v.generation;
      x.writer = WriterKindName(writer);
      x.sync_id = ex.promise_sync_id;
      x.sync_op = ex.promise_sync_op;
      return x;
    };

    // A cut log (power cut) lost its tail: a generation above the newest it knows may have been issued, and
    // the block's writes around it are unknown (quiet or not, torn or not): not judged, counted.
    if (!ex.log_complete && (v.cls == BlockClass::kIntact || v.cls == BlockClass::kTorn) &&
        v.generation > e.max_issued) {
      ++out.beyond_log;
      const uint64_t oldest_part = OldestFound(v);
      // The lower bound still holds for what the log does know: a promised generation must not be missing.
      if (e.kernel_gen > 0 && oldest_part < e.kernel_gen && !(ex.punches_logged && v.has_zero_words)) {
        add(kernel, base("kernel", v.cls == BlockClass::kTorn ? "torn" : "lost", e.kernel_gen, e.kernel_kind));
        ++out.kernel_violations;
      }
      if (e.strict_gen > 0) {
        StrictTally& t = out.strict_by_writer[WriterKindName(e.strict_kind)];
        ++t.promised;
        if (oldest_part >= e.strict_gen) ++t.found;
        else ++out.strict_misses;
      }
      continue;
    }
    // A cut log of a run that punched holes may have lost a punch of this block: zeros are not judged.
    if (!ex.log_complete && ex.punches_logged && e.kernel_gen > 0 &&
        (v.cls == BlockClass::kZero || (v.cls == BlockClass::kTorn && v.has_zero_words))) {
      ++out.beyond_log;
      continue;
    }

    // Upper bound (kernel contract: damage no contract allows).
    bool upper_bad = false;
    if (v.cls == BlockClass::kForeign || v.cls == BlockClass::kCorrupt) {
      add(kernel, base("kernel", BlockClassName(v.cls), e.kernel_gen, e.last_kind));
      upper_bad = true;
    } else if ((v.cls == BlockClass::kIntact || v.cls == BlockClass::kTorn) && v.generation > allowed_max) {
      if (!ex.log_complete) {
        ++out.beyond_log;  // the log lost its tail in the cut: this generation may well have been issued
      } else {
        add(kernel, base("kernel", "never_issued", allowed_max, e.last_kind));
        upper_bad = true;
      }
    } else if ((v.cls == BlockClass::kIntact || v.cls == BlockClass::kTorn) && e.stale_gen > 0 &&
               v.generation > 0 && v.generation <= e.stale_gen) {
      add(kernel, base("kernel", "reappeared", 0, e.last_kind));  // punched-out data came back
      upper_bad = true;
    } else if (v.cls == BlockClass::kTorn && (quiet || mode == VerifyMode::kSync)) {
      add(kernel, base("kernel", "torn", e.kernel_gen, e.last_kind));
      upper_bad = true;
    }

    // Lower bound, both contracts. A torn block keeps its promise only if every part is at least promised.
    const uint64_t oldest = OldestFound(v);
    const bool unreadable = v.cls == BlockClass::kForeign || v.cls == BlockClass::kCorrupt;
    // A torn block below its promise is reported as what was found (torn), a whole older block as lost.
    if (!upper_bad && e.kernel_gen > 0 && (unreadable || oldest < e.kernel_gen))
      add(kernel, base("kernel", v.cls == BlockClass::kTorn ? "torn" : "lost", e.kernel_gen, e.kernel_kind));
    if (upper_bad) ++out.kernel_violations;
    else if (e.kernel_gen > 0 && (unreadable || oldest < e.kernel_gen)) ++out.kernel_violations;

    if (e.strict_gen > 0) {
      StrictTally& t = out.strict_by_writer[WriterKindName(e.strict_kind)];
      ++t.promised;
      if (!unreadable && oldest >= e.strict_gen) {
        ++t.found;
      } else {
        ++out.strict_misses;
        // Misses the kernel contract already lists are not listed twice.
        if (e.kernel_gen < e.strict_gen) add(strict, base("strict", "lost", e.strict_gen, e.strict_kind));
      }
    }
  }
  out.violations = std::move(kernel);
  out.violations.insert(out.violations.end(), strict.begin(), strict.end());
  return out;
}

}  // namespace longpin
