// RunState: what `longpin verify` needs to check a target after the run that wrote it is gone (power cut,
// user-allowed shutdown): the run id, the target, the block geometry and where the expected log is.
// Written durably (fsync of the file and its directory) before the first write of the run.
#pragma once

#include <string>

#include "core/status.h"

namespace longpin {

// state.json, version 2: the fields below plus "check", the xxh64 (hex) of the canonical text of every other
// field (nlohmann's dump() of the object without "check": sorted keys, no spaces). Version 1 (no check) is
// still read. `log_path` is where the run wrote the log; `longpin verify` reads DIR/expected.log instead, so
// a moved or copied state directory checks its own log.
inline constexpr int kRunStateVersion = 2;
inline constexpr const char* kStateLogName = "expected.log";

struct RunState {
  int state_version = kRunStateVersion;
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
// Errors: ENOENT (no state.json there), EBADMSG (damaged: not JSON, a field missing or of the wrong type, the
// check does not match; the message names the byte offset where known), EINVAL (an unknown version).
Result<RunState> ReadRunState(const std::string& dir);

}  // namespace longpin
