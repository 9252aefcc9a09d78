// Fault planting for the self-test: damage written straight into a scratch filesystem's image, at the
// physical location of chosen blocks of the target (FIEMAP), between the remount after a crash and the
// verification. The verifier must report every planted fault, with the right class and block.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/block_stamp.h"
#include "core/scratch_fs.h"
#include "verifiers/expected_state.h"
#include "verifiers/oracle.h"

namespace longpin {

// A fault the self-test planted, and what the verifier said of its block.
struct PlantedFault {
  std::string cls;  // dropped_write | zeroed | torn | bit_flip | misdirected | never_issued
  uint64_t block = 0;
  std::string expected_kind;  // the violation kind that must be reported
  bool detected = false;
  std::string reported_kind;  // what the verifier reported for that block ("" = nothing)
  std::string detail;
};

// Plants one fault of each class in distinct promised blocks. The filesystem is unmounted while the
// image is written and mounted again before returning.
Status PlantFaults(ScratchFs& fs, const std::string& target_path, const StampPattern& pattern,
                   const ExpectedState& expected, uint64_t seed, std::vector<PlantedFault>* planted);

// Marks each planted fault detected when the verification lists a kernel violation of its kind at its block.
void MatchPlantedFaults(const Verification& v, std::vector<PlantedFault>* planted);

}  // namespace longpin
