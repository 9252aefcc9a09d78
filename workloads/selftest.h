// `longpin selftest`: proves the oracle on real crash cycles. Planted faults (one per class, written into the
// image between remount and verify) must all be reported with the right class and block; N clean seeded
// crash cycles per filesystem must show zero kernel-contract violations.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "report/run_report.h"
#include "workloads/run_config.h"

namespace longpin {

struct SelftestConfig {
  std::vector<std::string> filesystems = {"ext4", "xfs"};
  int clean_runs = 3;  // per filesystem
  bool plant = true;
  CrashKind crash = CrashKind::kShutdown;  // or kLogWrites: faults planted into the last replayed state
  RunConfig base;                          // duration, size, pinner, writers of each cycle
};

struct CleanRuns {
  int runs = 0;
  uint64_t violations = 0;
  int errors = 0;  // cycles that could not be judged
  std::vector<std::string> failures;
};

struct SelftestReport {
  Verdict verdict = Verdict::kError;
  int exit_code() const { return ExitCodeOf(verdict); }
  std::vector<std::string> reasons;
  std::vector<std::pair<std::string, PlantedFault>> planted;  // fs, fault
  std::map<std::string, CleanRuns> clean;
  std::vector<std::string> skipped;  // "btrfs: no FS_IOC_SHUTDOWN"
  uint64_t first_seed = 0;
};

SelftestReport RunSelftest(const SelftestConfig& cfg);
std::string RenderSelftestJson(const SelftestReport& r);
std::string RenderSelftestSummary(const SelftestReport& r);

}  // namespace longpin
