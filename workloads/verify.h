// `longpin verify`: the second half of a two-phase run (power cut, or a user-allowed shutdown). Reads the
// state and the expected log from the state directory, the target from disk, and judges it as a crash.
#pragma once

#include <string>

#include "report/run_report.h"

namespace longpin {

RunReport VerifyFromState(const std::string& state_dir, const std::string& target_override);

}  // namespace longpin
