// RunState: what `longpin verify` needs to check a target after the run that wrote it is gone (power cut,
// user-allowed shutdown): the run id, the target, the block geometry and where the expected log is.
// Written durably (fsync of the file and its directory) before the first write of the run.
#pragma once

#include <string>

#include "core/status.h"

namespace longpin {

struct RunState {
  int state_version = 1;
  uint64_t run_id = 0;
  uint64_t seed = 0;
  std::string target_path;
  uint64_t block_size = 0;
  uint64_t block_count = 0;
  std::string fs;
  std::string mapping;
  std::string log_path;
  std::string crash_model;
  std::string pinner;
  std::string sync_op;
};

Status WriteRunState(const std::string& dir, const RunState& s);
Result<RunState> ReadRunState(const std::string& dir);

}  // namespace longpin
