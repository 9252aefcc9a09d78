#include "workloads/selftest.h"

#include <fmt/format.h>
#include <sys/random.h>

#include <nlohmann/json.hpp>

#include "core/run_directory.h"
#include "verifiers/fault_planter.h"
#include "workloads/run.h"

namespace longpin {

namespace {

// A planted cycle: every planted fault must be reported as its kind, and nothing else as a kernel violation.
// False when the self-test fails on it.
bool JudgePlantedCycle(const std::string& fs, const RunConfig& rc, const RunReport& r, SelftestReport& out) {
  bool ok = true;
  std::vector<PlantedFault> planted = r.planted;
  MatchPlantedFaults(*r.verification, &planted);
  for (auto& f : planted) {
    if (!f.detected) {
      ok = false;
      out.reasons.push_back(
          fs + ": planted " + f.cls + " at block " + std::to_string(f.block) + " not reported as " +
          f.expected_kind +
          (f.reported_kind.empty() ? " (nothing reported)" : " (reported " + f.reported_kind + ")"));
    }
    out.planted.emplace_back(fs, f);
  }
  if (planted.size() < 6) {
    ok = false;
    out.reasons.push_back(fs + ": only " + std::to_string(planted.size()) + " of 6 faults could be planted");
  }
  // Anything reported beyond the planted blocks is a false alarm.
  bool as_planted = planted.size() >= 6;
  for (const auto& f : planted) as_planted &= f.detected;
  for (const auto& v : r.verification->violations) {
    bool planted_block = false;
    for (const auto& f : planted) planted_block |= f.block == v.block;
    if (!planted_block && v.contract == "kernel") {
      ok = false;
      as_planted = false;
      out.reasons.push_back(fs + ": unplanted kernel violation at block " + std::to_string(v.block) + " (" +
                            v.kind + ")");
    }
  }
  // The cycle "failed" exactly as planted: its run directory (kept by Run() as evidence of a failing
  // run) is no evidence of anything; a surprise keeps it.
  if (as_planted && !rc.keep && !r.run_dir.empty())
    if (auto dir = RunDirectory::OpenOwn(r.run_dir); dir.ok()) (void)dir->Remove();
  return ok;
}

}  // namespace

SelftestReport RunSelftest(const SelftestConfig& cfg) {
  SelftestReport out;
  bool ok = true, judged_any = false;
  uint64_t seed = cfg.base.seed;
  if (!seed) ::getrandom(&seed, sizeof seed, 0);
  seed |= 1;
  out.first_seed = seed;
  for (const std::string& fs : cfg.filesystems) {
    RunConfig rc = cfg.base;
    rc.fs = fs;
    rc.crash = cfg.crash;
    rc.json_path.clear();
    if (cfg.plant) {
      rc.seed = seed++;
      rc.progress.label = "selftest " + fs + " planted";
      BeforeVerifyHook plant = [&](BeforeVerify& a) {
        return PlantFaults(*a.scratch, a.target_path, a.pattern, a.expected, rc.seed, a.planted);
      };
      RunReport r = Run(rc, plant);
      if (r.exit_code() == kExitCannotRun) {
        out.skipped.push_back(fs + ": " + (r.reasons.empty() ? "cannot run" : r.reasons.front()));
        continue;
      }
      if (!r.verification) {
        ok = false;
        out.reasons.push_back(fs +
                              " planted cycle: " + (r.reasons.empty() ? "not verified" : r.reasons.front()));
      } else {
        judged_any = true;
        ok &= JudgePlantedCycle(fs, rc, r, out);
      }
    }
    CleanRuns& clean = out.clean[fs];
    for (int i = 0; i < cfg.clean_runs; ++i) {
      rc.seed = seed++;
      rc.progress.label = "selftest " + fs + " clean";
      rc.progress.cycle = i + 1;
      rc.progress.cycles = cfg.clean_runs;
      rc.progress.violations_before = clean.violations;
      RunReport r = Run(rc);
      if (r.exit_code() == kExitCannotRun) {
        out.skipped.push_back(fs + ": " + (r.reasons.empty() ? "cannot run" : r.reasons.front()));
        break;
      }
      ++clean.runs;
      if (!r.verification) {
        ++clean.errors;
        ok = false;
        clean.failures.push_back(
            fmt::format("seed {}: {}", rc.seed, r.reasons.empty() ? "not verified" : r.reasons.front()));
        continue;
      }
      judged_any = true;
      clean.violations += r.verification->kernel_violations;
      if (r.verdict != Verdict::kPass) {
        ok = false;
        clean.failures.push_back(fmt::format("seed {}: {}", rc.seed,
                                             r.reasons.empty() ? VerdictName(r.verdict) : r.reasons.front()));
      }
    }
  }
  if (!judged_any) {
    out.verdict = Verdict::kSkip;
    out.reasons.push_back("no filesystem could run a crash cycle here");
  } else {
    out.verdict = ok ? Verdict::kPass : Verdict::kFail;
  }
  return out;
}

std::string RenderSelftestJson(const SelftestReport& r) {
  nlohmann::json planted = nlohmann::json::array();
  for (const auto& [fs, f] : r.planted)
    planted.push_back({{"fs", fs},
                       {"class", f.cls},
                       {"block", f.block},
                       {"expected_kind", f.expected_kind},
                       {"detected", f.detected},
                       {"reported_class", f.reported_kind},
                       {"detail", f.detail}});
  nlohmann::json clean = nlohmann::json::object();
  for (const auto& [fs, c] : r.clean)
    clean[fs] = {
        {"runs", c.runs}, {"violations", c.violations}, {"errors", c.errors}, {"failures", c.failures}};
  nlohmann::json doc{
      {"schema_version", 1},        {"tool", "longpin selftest"}, {"verdict", VerdictName(r.verdict)},
      {"first_seed", r.first_seed}, {"exit_code", r.exit_code()}, {"reasons", r.reasons},
      {"skipped", r.skipped},       {"planted", planted},         {"clean_runs", clean}};
  return doc.dump(2) + "\n";
}

std::string RenderSelftestSummary(const SelftestReport& r) {
  std::string out = fmt::format("{:<6} {:<14} {:>8} {:<13} {:<13} {}\n", "fs", "planted", "block",
                                "must report", "reported", "detected");
  for (const auto& [fs, f] : r.planted)
    out += fmt::format("{:<6} {:<14} {:>8} {:<13} {:<13} {}\n", fs, f.cls, f.block, f.expected_kind,
                       f.reported_kind.empty() ? "-" : f.reported_kind, f.detected ? "yes" : "NO");
  for (const auto& [fs, c] : r.clean)
    out += fmt::format("clean crash cycles on {}: {} run(s), {} kernel-contract violation(s), {} error(s)\n",
                       fs, c.runs, c.violations, c.errors);
  for (const auto& [fs, c] : r.clean)
    for (const auto& f : c.failures) out += fmt::format("  {}: {}\n", fs, f);
  for (const auto& s : r.skipped) out += "skipped: " + s + "\n";
  out += fmt::format("first seed {} (repeat with --seed {})\n", r.first_seed, r.first_seed);
  out += std::string("verdict: ") + VerdictName(r.verdict) + "\n";
  for (const auto& why : r.reasons) out += "  " + why + "\n";
  return out;
}

}  // namespace longpin
