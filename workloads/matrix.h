// The qualification matrix: `longpin matrix` runs one whole run per cell of pinner x filesystem x mapping x
// sync op (a fresh scratch filesystem each), carries on after failing, refused or skipped cells, and prints one
// outcome per cell with the fsync p99 of the baseline and the pinned phase. --json holds
// {"schema_version": 1, "cells": [{pinner, fs, mapping, sync, outcome, report}]} (report: the run's own JSON
// document), which the JUnit, KTAP and HTML renderers take as it is.
#pragma once

#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "workloads/run_report.h"

namespace longpin {

struct MatrixOptions {
  std::string pinners = "vmsplice", filesystems = "ext4", mappings = "shared", syncs = "fsync";
  std::string workload;         // a preset applied to every cell (the cell's coordinates override it)
  std::string duration = "2s";  // per phase
  std::string size = "64M";
  std::string workdir;
  std::string json, junit, html;
  bool ktap = false;
  bool quiet = false;
};

void AddMatrixOptions(CLI::App& matrix, MatrixOptions& options);
// Runs the matrix; returns the exit code (1 if any cell failed, hung or logged a kernel alarm; else 3 if any
// cell could not complete; else 0).
int MatrixCommand(const MatrixOptions& options);

// One cell's outcome: "pass", "refused EFAULT", "fail: 3 violations", "fail: REASON", "kernel event", "hang",
// "skipped: REASON", "error: REASON".
std::string CellOutcome(const RunReport& report);

}  // namespace longpin
