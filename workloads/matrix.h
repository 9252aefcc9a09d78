// The qualification matrix: `longpin matrix` runs one whole run per cell of pinner x filesystem x mapping x
// sync op (a fresh scratch filesystem each) on each kernel of --kernels (this host's, and others booted once
// each under vm/run, where the same matrix runs on the guest kernel), carries on after failing, refused or
// skipped cells, and judges each cell's pin outcome by the kernel's rules (pinners/kernel-rules.toml): "as
// expected (rule R)", "UNEXPECTED" (fails the matrix) or "no rule". --json holds
// {"schema_version": 1, "kind": "matrix", "kernels": [...], "cells": [{pinner, fs, mapping, sync,
// kernel_name, kernel, outcome, pin_outcome, rule, as_expected, judgement, comparison, report}]} (report: the
// run's own JSON document), which the JUnit, KTAP, HTML and KCIDB renderers take as it is.
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "report/run_report.h"
#include "workloads/run_config.h"

namespace longpin {

// The run options every cell shares. Those `longpin run` takes as text and converts with its own checks stay
// text here, so that a cell is refused or skipped for what `run` would say; the rest are typed.
struct MatrixRunOptions {
  std::string duration = "2s";  // per phase
  std::string size = "64M";
  std::string writers;  // empty: the run's default, or cpu:2[,dma:1] on a private mapping
  std::string pin_access, block_size;
  std::string workdir;
  std::optional<double> rate;
  std::optional<int> rounds;
  std::optional<uint64_t> seed;
};

struct MatrixConfig {
  std::vector<std::string> pinners = {"vmsplice"}, filesystems = {"ext4"}, mappings = {"shared"},
                           syncs = {"fsync"};
  std::vector<std::string> kernels = {"host"};  // host, debian-6.1, debian-6.12, or a path to a bzImage
  std::string workload;  // a preset applied to every cell (the cell's coordinates override it)
  std::string rules;     // the kernel rules file (default: the shipped one)
  MatrixRunOptions run;
  std::string json, junit, html, kcidb;
  bool ktap = false;
  bool quiet = false;
  bool vm_rdma = false;  // guests get Soft-RoCE (set when rdma is among the pinners)
};

// One cell's coordinates; fs is "-" for a memory mapping (memfd, thp, hugetlb), which lives on no filesystem.
struct MatrixCell {
  std::string pinner, fs, mapping, sync;
};
std::vector<MatrixCell> MatrixCells(const MatrixConfig& config);

// What one cell runs: its coordinates over the matrix's run options, with the writers a cell needs to pin at
// all filled in. fs is empty for a memory mapping.
struct CellRunOptions {
  std::string pinner, fs, mapping, sync;
  MatrixRunOptions run;
};
CellRunOptions CellOptions(const MatrixConfig& config, const MatrixCell& cell);

// A cell's RunConfig, or why there is none: a cell this machine cannot express is skipped, not fatal.
struct CellConfigResult {
  std::optional<RunConfig> config;
  std::string error;
};
// Turns a cell's options into its RunConfig by the checks of `longpin run` (cli/matrix_options.cc).
using CellConfigFn = std::function<CellConfigResult(const CellRunOptions&)>;

// Runs the matrix; returns the exit code (1 if any cell failed, hung, logged a kernel alarm or did what its
// kernel's rule says it must not; else 3 if any cell could not complete; else 0).
int MatrixCommand(const MatrixConfig& config, const CellConfigFn& cell_config);

// One cell's outcome: "pass", "refused EFAULT", "fail: 3 violations", "fail: REASON", "kernel event", "hang",
// "skipped: REASON", "error: REASON".
std::string CellOutcome(const RunReport& report);
// What the pin did, for the rules: "granted", "refused ERRNO", or "" when the run never tried to pin.
std::string PinOutcome(const RunReport& report);

// The matrix document's exit code, from its cells (shared by matrix and `report` of merged matrices).
int MatrixExitCode(const nlohmann::json& doc);
// The text table: one row per cell coordinate, one outcome column per kernel, then the UNEXPECTED cells.
std::string MatrixTable(const nlohmann::json& doc);
// Merges matrix documents (several machines, several kernels) into one; an error names the input that is no
// matrix document.
std::optional<nlohmann::json> MergeMatrixDocuments(const std::vector<nlohmann::json>& docs,
                                                   const std::vector<std::string>& names, std::string* error);

// The guest side of --kernels: runs the matrix of `config` (without --kernels) on `kernel` under vm/run,
// one boot for all cells. Returns the guest's cells, or an error with its exit code (2 bad kernel or no boot,
// 77 cannot run here, 3 no result).
struct GuestMatrix {
  nlohmann::json cells = nlohmann::json::array();
  std::string release;
  int exit_code = 0;
  std::string error;
};
GuestMatrix RunMatrixInGuest(const std::string& kernel, const MatrixConfig& config);
// Checks a --kernels entry before anything runs: a known name or a readable file.
std::optional<std::string> CheckKernelName(const std::string& kernel);
// The vm/run harness: $LONGPIN_VM_RUN, the source tree's, or the installed one.
std::optional<std::string> FindVmRun();

}  // namespace longpin
