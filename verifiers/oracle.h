// The oracle: compares what the disk holds (DiskImage) with what the log promised (ExpectedState).
//   upper bound: never a generation that was not issued (one more than logged may be in flight at a crash);
//                never torn, foreign or corrupt where the block was quiet since the promise point.
//   lower bound: kernel contract (a miss fails the run) and strict contract (measured, per writer kind).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "verifiers/disk_reader.h"
#include "verifiers/expected_state.h"

namespace longpin {

enum class VerifyMode { kSync, kCrash };

struct Violation {
  std::string contract;  // "kernel" | "strict"
  std::string kind;      // lost | torn | foreign | corrupt | never_issued
  uint64_t block = 0;
  uint64_t offset = 0;
  uint64_t expected_generation = 0;  // the promised generation (or the allowed maximum for never_issued)
  std::string found;                 // "zero", "intact@12", "torn@3..5", "foreign(block 7, run ...)"
  uint64_t found_generation = 0;
  std::string writer;    // kind of the write that set the bound
  uint64_t sync_id = 0;  // the sync that promised it
  std::string sync_op;
};

struct StrictTally {
  uint64_t promised = 0;  // blocks whose strict bound was set by this writer kind
  uint64_t found = 0;     // of those, found at or above the bound
};

struct Verification {
  std::string mode;
  uint64_t checked_blocks = 0;
  std::map<std::string, uint64_t> classes;  // zero/intact/torn/foreign/corrupt -> count
  uint64_t kernel_violations = 0;
  uint64_t strict_misses = 0;
  uint64_t beyond_log = 0;  // generations above an incomplete log's newest (power cut): not judged
  std::map<std::string, StrictTally> strict_by_writer;
  std::vector<Violation> violations;  // kernel violations first, then strict misses; capped
  uint64_t violations_dropped = 0;    // beyond the cap
};

Verification Judge(const ExpectedState& expected, const DiskImage& disk, VerifyMode mode,
                   size_t max_listed = 1000);

}  // namespace longpin
