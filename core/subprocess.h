// Running the system's tools (mkfs.*, fio) as child processes: argv only (no shell), output captured, the
// child killed with its process group when it outlives its deadline or when longpin dies (PDEATHSIG).
#pragma once

#include <string>
#include <vector>

#include "core/status.h"

namespace longpin {

struct CommandResult {
  int exit_code = -1;  // -1: did not exit normally (signal, timeout)
  std::string output;  // stdout and stderr interleaved, at most 64 KiB kept
  bool timed_out = false;
};

Result<CommandResult> RunCommand(const std::vector<std::string>& argv, double timeout_s = 120.0);
// The last non-empty line of a command's output, for one-line error messages.
std::string LastLine(const std::string& output);
// Whether an executable named `name` is on PATH (or /sbin, /usr/sbin, which non-login root shells may lack).
bool HaveProgram(const std::string& name);

}  // namespace longpin
