// longpin: the command line. Subcommands: run, list, cleanup. Exit codes: 0 pass, 1 fail, 2 bad usage,
// 3 error (the run could not complete), 77 cannot run here, 130 interrupted.
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iostream>

#include <CLI/CLI.hpp>

#include "core/run_directory.h"
#include "core/scratch_fs.h"
#include "pinners/pinner.h"
#include "workloads/cli/run_options.h"
#include "workloads/run.h"

namespace longpin {
namespace {

int UsageError(const std::string& line) {
  std::fprintf(stderr, "longpin: %s\n", line.c_str());
  return kExitUsage;
}

int ListCommand(const std::string& what) {
  if (what.empty() || what == "pinners") {
    std::printf("pinners:\n");
    for (const auto& p : PinnerRegistry()) {
      auto why = p.create ? p.unavailable() : p.unavailable().value_or("compiled out");
      std::printf("  %-12s %-11s %-24s %s\n", p.name, why ? "unavailable" : "available", PinReferenceName(p.reference),
                  why ? why->c_str() : p.description);
    }
  }
  if (what.empty() || what == "filesystems") {
    std::printf("filesystems:\n");
    for (FsType t : kAllFsTypes) {
      auto why = FsUnavailableReason(t);
      std::printf("  %-12s %-11s %s\n", FsTypeName(t), why ? "unavailable" : "available",
                  why ? why->c_str() : "scratch image on a loop device");
    }
    std::printf("  %-12s %-11s %s\n", "dir:PATH", "available", "a file in an existing directory (any user)");
  }
  if (!what.empty() && what != "pinners" && what != "filesystems")
    return UsageError("list " + what + ": unknown list (pinners, filesystems)");
  return 0;
}

int CleanupCommand(const std::string& workdir, bool dry_run) {
  const std::string base = workdir.empty() ? DefaultWorkBase() : workdir;
  auto actions = CleanupStaleRuns(base, dry_run);
  bool ok = true;
  for (const auto& a : actions) {
    std::printf("%s\n", a.what.c_str());
    ok = ok && a.ok;
  }
  if (actions.empty()) std::printf("nothing to clean under %s\n", base.c_str());
  return ok ? 0 : kExitError;
}

int RunCommand(RunConfig cfg, const RunOptionText& text) {
  if (auto err = FinishRunConfig(cfg, text)) return UsageError(*err);
  const bool scratch = cfg.fs.rfind("dir:", 0) != 0;
  if (scratch && ::geteuid() != 0)
    return std::fprintf(stderr, "longpin: --fs %s needs root (loop device and mount); use --fs dir:PATH\n",
                        cfg.fs.c_str()),
           kExitCannotRun;
  if (scratch) {
    // Our mounts live in our own namespace: nobody else sees them, and they vanish if we are killed.
    if (Status s = EnterPrivateMountNamespace(); !s.ok()) {
      std::fprintf(stderr, "longpin: %s\n", s.message().c_str());
      return kExitCannotRun;
    }
  }
  InstallInterruptHandlers();
  RunReport report = Run(cfg);
  if (!cfg.json_path.empty()) {
    std::ofstream f(cfg.json_path);
    f << RenderJson(report);
    if (!f) std::fprintf(stderr, "longpin: write report %s failed\n", cfg.json_path.c_str());
  }
  if (cfg.quiet) {
    std::printf("verdict: %s\n", report.verdict.c_str());
  } else {
    std::fputs(RenderSummary(report).c_str(), stdout);
  }
  if (report.exit_code != kExitPass && !report.reasons.empty())
    std::fprintf(stderr, "longpin: %s: %s\n", report.verdict.c_str(), report.reasons.front().c_str());
  return report.exit_code;
}

}  // namespace
}  // namespace longpin

int main(int argc, char** argv) {
  using namespace longpin;
  CLI::App app{
      "longpin: hold pages of a file mapping under pins while threads write and fsync it, then check the disk.\n"
      "Exit codes: 0 pass, 1 fail, 2 bad usage, 3 error, 77 cannot run here, 130 interrupted."};
  app.require_subcommand(1);
  app.set_help_all_flag("--help-all", "Help of every subcommand");

  RunConfig cfg;
  RunOptionText text;
  CLI::App* run = app.add_subcommand("run", "Run the workload (default: ext4 scratch image as root, 2x5 s)");
  AddRunOptions(*run, cfg, text);

  std::string list_what;
  CLI::App* list = app.add_subcommand("list", "List pinners and filesystems with availability and reasons");
  list->add_option("what", list_what, "pinners | filesystems");

  std::string cleanup_dir;
  bool dry_run = false;
  CLI::App* cleanup = app.add_subcommand("cleanup", "Remove mounts, loop devices and files left by killed runs (only longpin's own)");
  cleanup->add_option("--workdir", cleanup_dir, "Base directory of run directories");
  cleanup->add_flag("--dry-run", dry_run, "List what would be removed");

  try {
    app.parse(argc, argv);
    text.fs_given = run->count("--fs") > 0;
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::string what = e.what();
    std::fprintf(stderr, "longpin: %s (see longpin --help)\n", what.c_str());
    return kExitUsage;
  }
  if (*run) return longpin::RunCommand(cfg, text);
  if (*list) return ListCommand(list_what);
  if (*cleanup) return CleanupCommand(cleanup_dir, dry_run);
  return kExitUsage;
}
