// Command-line parsing for `longpin run` into a RunConfig, and its validation. Parse errors are one line
// (what, which option, what to do) for exit 2; nothing here touches the system except stat calls.
#pragma once

#include <CLI/CLI.hpp>
#include <optional>
#include <string>

#include "workloads/run_config.h"

namespace longpin {

// The raw strings as given on the command line, checked and converted by FinishRunConfig.
struct RunOptionText {
  std::string fs, size, block_size, writers, sync, duration, phases, hang_threshold, pin_window, pin_rotate,
      pin_access, pin_hold, mapping, crash, crash_at, pressure, race, contract;
  double rate = 0;
  int rounds = 0;  // 0: not given
  bool fs_given = false;
};

// Refuses an empty value ("--size ''"): a mistake, never "the default".
CLI::Validator NonEmptyValue();
// Declares the options of `longpin run` on app.
void AddRunOptions(CLI::App& app, RunConfig& cfg, RunOptionText& text);
// Validates and fills cfg; returns the error line, or nullopt when cfg is ready.
std::optional<std::string> FinishRunConfig(RunConfig& cfg, const RunOptionText& text);

}  // namespace longpin
