// longpin: the command line. Subcommands: run, verify, selftest, report, list, cleanup.
// Exit codes: 0 pass (or a two-phase run waiting for `longpin verify`), 1 fail, 2 bad usage, 3 error (the run
// could not complete), 77 cannot run here, 130 interrupted.
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli/commands_list.h"
#include "cli/job_file.h"
#include "cli/matrix_options.h"
#include "cli/run_options.h"
#include "core/measured_pin_kinds.h"
#include "core/run_directory.h"
#include "core/scratch_fs.h"
#include "core/units.h"
#include "crash/dm_log_writes.h"
#include "pinners/pinner.h"
#include "report/report_formats.h"
#include "workloads/matrix.h"
#include "workloads/race_script.h"
#include "workloads/run.h"
#include "workloads/selftest.h"
#include "workloads/target.h"
#include "workloads/verify.h"
#include "workloads/writers.h"

namespace longpin {
namespace {

int UsageError(const std::string& line) {
  std::fprintf(stderr, "longpin: %s\n", line.c_str());
  return kExitUsage;
}

int CleanupCommand(const std::string& workdir, bool dry_run) {
  const std::string base = workdir.empty() ? DefaultWorkBase() : workdir;
  auto actions = CleanupStaleRuns(base, dry_run, RemoveStaleLogWritesDevice);
  bool ok = true;
  for (const auto& a : actions) {
    std::printf("%s\n", a.what.c_str());
    ok = ok && a.ok;
  }
  for (const auto& line : CleanupStaleRaceCgroups(dry_run)) std::printf("%s\n", line.c_str());
  if (actions.empty()) std::printf("nothing to clean under %s\n", base.c_str());
  return ok ? 0 : kExitError;
}

struct OutputOptions {
  std::string json, junit, html;
  bool ktap = false;
};

void AddOutputOptions(CLI::App& app, OutputOptions& o, bool with_json) {
  if (with_json) app.add_option("--json", o.json, "Write the JSON report to FILE");
  app.add_option("--junit", o.junit, "Write a JUnit XML report to FILE");
  app.add_option("--html", o.html, "Write a self-contained HTML report with charts to FILE");
  app.add_flag("--ktap", o.ktap, "Print KTAP v1 results on stdout instead of the summary");
}

bool WriteFile(const std::string& path, const std::string& text) {
  std::ofstream f(path);
  f << text;
  if (!f) std::fprintf(stderr, "longpin: write %s failed\n", path.c_str());
  return bool(f);
}

// Writes the --json/--junit/--html files of a report document; true when KTAP replaced the summary.
bool EmitReports(const nlohmann::json& doc, const OutputOptions& o) {
  if (!o.json.empty()) WriteFile(o.json, doc.dump(2) + "\n");
  if (!o.junit.empty()) WriteFile(o.junit, RenderJUnit(doc));
  if (!o.html.empty()) WriteFile(o.html, RenderHtml(doc));
  if (o.ktap) std::fputs(RenderKtap(doc).c_str(), stdout);
  return o.ktap;
}

// The command line as given, shell-quoted: the report's "reproduce" line adds the seed when it was not given.
std::string g_command_line;
bool g_seed_given = false;

std::string ShellQuoted(const std::string& arg) {
  if (!arg.empty() &&
      arg.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.,:/=+@%") ==
          std::string::npos)
    return arg;
  std::string q = "'";
  for (char c : arg) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

int Finish(const RunReport& finished, const OutputOptions& out, bool quiet) {
  RunReport report = finished;
  if (report.reproduce.empty() && !g_command_line.empty())
    report.reproduce = g_command_line + (g_seed_given ? "" : " --seed " + std::to_string(report.seed));
  const bool ktap = EmitReports(ReportDocument(report), out);
  if (!ktap) {
    if (quiet) std::printf("verdict: %s\n", VerdictName(report.verdict));
    else std::fputs(RenderSummary(report).c_str(), stdout);
  }
  if (report.exit_code() != kExitPass && !report.reasons.empty())
    std::fprintf(stderr, "longpin: %s: %s\n", VerdictName(report.verdict), report.reasons.front().c_str());
  return report.exit_code();
}

// Where a report will be written must be writable before the run starts, not found out after it ran.
std::optional<std::string> CheckOutputPath(const char* option, const std::string& path) {
  if (path.empty()) return std::nullopt;
  const auto slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
    return std::string(option) + " " + path + ": directory " + dir + " does not exist";
  if (::access(dir.c_str(), W_OK) != 0)
    return std::string(option) + " " + path + ": directory " + dir + " is not writable";
  if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode))
    return std::string(option) + " " + path + ": is a directory";
  return std::nullopt;
}

int RunCommand(RunConfig cfg, const RunOptionText& text, OutputOptions out, const JobFile& job) {
  if (auto err = FinishRunConfig(cfg, text)) return UsageError(job.Locate(*err));
  for (const auto& [option, path] : {std::pair<const char*, std::string>{"--json", cfg.json_path},
                                     {"--junit", out.junit},
                                     {"--html", out.html}})
    if (auto err = CheckOutputPath(option, path)) return UsageError(*err);
  // A huge-page mapping this machine cannot give is found here, before a run directory exists, by the check
  // `longpin list mappings` prints (a hugetlb target larger than the free pages is still found by the run).
  if (cfg.mapping == MappingKind::kHugetlb || cfg.mapping == MappingKind::kThp)
    if (auto why = MappingHere(cfg.mapping).why_not) {
      std::fprintf(stderr, "longpin: --mapping %s: %s\n", MappingName(cfg.mapping), why->c_str());
      return kExitCannotRun;
    }
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
  out.json = cfg.json_path;
  // A phase stuck in the kernel ends the process from inside Run(): its report is written here first.
  SetAbandonHook([out, quiet = cfg.quiet](const RunReport& r) { Finish(r, out, quiet); });
  cfg.progress.enabled = !cfg.quiet && ::isatty(STDOUT_FILENO) == 1;
  if (cfg.crash_iterations <= 1) return Finish(Run(cfg), out, cfg.quiet);

  // Crash cycles: each a whole run (fresh filesystem, fresh run id); the last one's report carries the list.
  std::vector<RunReport> cycles;
  const uint64_t first_seed = cfg.seed ? cfg.seed : MonotonicNs();
  SplitMix seeds{first_seed};
  uint64_t violations = 0;
  for (int i = 0; i < cfg.crash_iterations && !g_interrupted.load(); ++i) {
    RunConfig c = cfg;
    c.seed = seeds.Next();
    c.progress.cycle = i + 1;
    c.progress.cycles = cfg.crash_iterations;
    c.progress.violations_before = violations;
    cycles.push_back(Run(c));
    const RunReport& r = cycles.back();
    if (r.verification) violations += r.verification->kernel_violations;
    if (!cfg.quiet)
      std::printf("cycle %d/%d seed %llu: %s, %llu kernel violation(s), %llu strict miss(es)%s\n", i + 1,
                  cfg.crash_iterations, static_cast<unsigned long long>(c.seed), VerdictName(r.verdict),
                  static_cast<unsigned long long>(r.verification ? r.verification->kernel_violations : 0),
                  static_cast<unsigned long long>(r.verification ? r.verification->strict_misses : 0),
                  r.reasons.empty() ? "" : (": " + r.reasons.front()).c_str());
    if (r.exit_code() == kExitCannotRun || r.exit_code() == kExitUsage) break;
  }
  RunReport total = cycles.back();
  total.cycles = cycles;
  for (const auto& r : cycles)
    if (r.verdict == Verdict::kFail || r.verdict == Verdict::kError || r.verdict == Verdict::kBadInput) {
      total.verdict = WorseVerdict(total.verdict, r.verdict);
      if (!r.reasons.empty())
        total.reasons.insert(total.reasons.begin(), "a crash cycle: " + r.reasons.front());
    }
  if (!g_command_line.empty())
    total.reproduce = g_command_line + (g_seed_given ? "" : " --seed " + std::to_string(first_seed));
  nlohmann::json doc = ReportDocument(total);
  nlohmann::json list = nlohmann::json::array();
  for (const auto& r : cycles)
    list.push_back({{"seed", r.seed},
                    {"verdict", VerdictName(r.verdict)},
                    {"kernel_violations", r.verification ? r.verification->kernel_violations : 0},
                    {"strict_misses", r.verification ? r.verification->strict_misses : 0},
                    {"crash_at_s", r.crash ? r.crash->at_s : 0.0},
                    {"reasons", r.reasons}});
  doc["crash_cycles"] = list;
  const bool ktap = EmitReports(doc, out);
  if (!ktap) {
    // What the kernel did wrong in any cycle leads, whatever the verdict of the last one.
    if (std::string f = RenderFindings(total); !f.empty()) std::printf("\n%s", f.c_str());
    std::printf("%d crash cycle(s): verdict %s\n", int(cycles.size()), VerdictName(total.verdict));
  }
  return total.exit_code();
}

int VerifyCommand(const std::string& state_dir, const std::string& target, const OutputOptions& out,
                  bool quiet) {
  if (state_dir.empty())
    return UsageError("verify: --state-dir DIR is required (the --state-dir of the run)");
  return Finish(VerifyFromState(state_dir, target), out, quiet);
}

int SelftestCommand(SelftestConfig cfg, const std::vector<std::string>& fs_list, const std::string& duration,
                    const std::string& size, const std::string& json_path) {
  if (::geteuid() != 0)
    return std::fprintf(stderr, "longpin: selftest needs root (scratch filesystems, shutdown)\n"),
           kExitCannotRun;
  cfg.filesystems.clear();
  for (const auto& fs : fs_list) {
    if (fs.empty()) continue;
    if (!ParseFsType(fs))
      return UsageError("selftest --fs " + fs + ": unknown filesystem (ext4, xfs, btrfs, f2fs)");
    cfg.filesystems.push_back(fs);
  }
  RunOptionText text;
  text.fs_given = true;
  text.duration = duration;
  text.size = size;
  text.phases = "baseline,pinned";
  if (auto err = FinishRunConfig(cfg.base, text)) return UsageError(*err);
  if (Status s = EnterPrivateMountNamespace(); !s.ok()) {
    std::fprintf(stderr, "longpin: %s\n", s.message().c_str());
    return kExitCannotRun;
  }
  InstallInterruptHandlers();
  cfg.base.progress.enabled = ::isatty(STDOUT_FILENO) == 1;
  SelftestReport r = RunSelftest(cfg);
  if (!json_path.empty()) WriteFile(json_path, RenderSelftestJson(r));
  std::fputs(RenderSelftestSummary(r).c_str(), stdout);
  return r.exit_code();
}

// One saved report re-rendered, or several matrix reports (other machines, other kernels) merged into one
// table: printed, and written in the formats asked for.
int ReportCommand(const std::vector<std::string>& inputs, OutputOptions out, const std::string& kcidb) {
  std::vector<nlohmann::json> docs;
  for (const auto& input : inputs) {
    std::ifstream f(input);
    if (!f) return UsageError("report " + input + ": cannot read the file");
    try {
      docs.push_back(nlohmann::json::parse(f));
    } catch (const std::exception& e) {
      return UsageError("report " + input + ": not a longpin JSON report (" + std::string(e.what()) + ")");
    }
  }
  nlohmann::json doc = docs.front();
  if (docs.size() > 1) {
    std::string error;
    auto merged = MergeMatrixDocuments(docs, inputs, &error);
    if (!merged) return UsageError("report: " + error);
    doc = std::move(*merged);
  }
  const bool matrix = report_detail::IsMatrix(doc);
  if (!kcidb.empty() && !matrix)
    return UsageError("report --kcidb: " + inputs.front() + " is not a matrix report");
  if (!matrix && out.html.empty() && out.junit.empty() && !out.ktap && out.json.empty())
    return UsageError("report: give at least one of --html FILE, --junit FILE, --ktap, --json FILE");
  for (const auto& [option, path] : {std::pair<const char*, std::string>{"--json", out.json},
                                     {"--junit", out.junit},
                                     {"--html", out.html},
                                     {"--kcidb", kcidb}})
    if (auto err = CheckOutputPath(option, path)) return UsageError(*err);
  const bool ktap = EmitReports(doc, out);
  if (!kcidb.empty()) WriteFile(kcidb, RenderKcidb(doc));
  if (!matrix) return 0;
  // A matrix is shown as its table and judged again: a merged qualification fails if any kernel's cell did.
  if (!ktap) std::fputs(MatrixTable(doc).c_str(), stdout);
  return MatrixExitCode(doc);
}

struct VerifyArgs {
  std::string state_dir, target;
  OutputOptions out;
  bool quiet = false;
};

CLI::App* AddVerifyCommand(CLI::App& app, VerifyArgs& a) {
  CLI::App* verify = app.add_subcommand(
      "verify", "Verify a target after a power cut or an allowed shutdown, from --state-dir");
  verify->add_option("--state-dir", a.state_dir, "The --state-dir of the run")->required();
  verify->add_option("--target", a.target, "The target file, when it moved (default: from the state)");
  verify->add_flag("--quiet,-q", a.quiet, "Print only the verdict line");
  AddOutputOptions(*verify, a.out, true);
  return verify;
}

struct SelftestArgs {
  SelftestConfig cfg;
  std::vector<std::string> fs = {"ext4", "xfs"};
  std::string duration = "1s", size = "32M", json;
  bool no_plant = false;
  std::string crash = "shutdown";  // log-writes plants into the last replayed crash state
};

CLI::App* AddSelftestCommand(CLI::App& app, SelftestArgs& a) {
  a.cfg.base.writers = WriterCounts{2, 1, 0};
  CLI::App* selftest = app.add_subcommand(
      "selftest",
      "Prove the oracle: plant faults after real crash cycles (all must be reported) and run clean cycles "
      "(none may be reported)");
  selftest->add_option("--fs", a.fs, "Filesystems, comma separated. Default ext4,xfs")
      ->delimiter(',')
      ->allow_extra_args(false);
  selftest->add_option("--clean-runs", a.cfg.clean_runs, "Clean crash cycles per filesystem. Default 3")
      ->check(CLI::Range(0, 100000));
  selftest->add_flag("--no-plant", a.no_plant, "Skip the planted-fault cycle");
  selftest->add_option("--duration", a.duration, "Phase duration of each cycle. Default 1s");
  selftest->add_option("--size", a.size, "Target size of each cycle. Default 32M");
  selftest->add_option("--pinner", a.cfg.base.pinner, "Pinner of the cycles. Default vmsplice");
  selftest->add_option("--seed", a.cfg.base.seed, "First seed (each cycle takes the next)");
  selftest->add_option("--workdir", a.cfg.base.workdir, "Base directory for run directories");
  selftest->add_option("--json", a.json, "Write the self-test JSON to FILE");
  selftest->add_option("--crash", a.crash, "Crash model of the cycles: shutdown (default) or log-writes")
      ->check(CLI::IsMember({"shutdown", "log-writes"}));
  return selftest;
}

struct ReportArgs {
  std::vector<std::string> inputs;
  std::string kcidb;
  OutputOptions out;
};

CLI::App* AddReportCommand(CLI::App& app, ReportArgs& a) {
  CLI::App* report = app.add_subcommand(
      "report",
      "Re-render a saved JSON report (run or matrix) as HTML, JUnit or KTAP; several matrix reports "
      "(other machines, other kernels) are merged into one table");
  report->add_option("input", a.inputs, "The JSON report(s)")->required();
  AddOutputOptions(*report, a.out, true);
  report->add_option("--kcidb", a.kcidb, "Write KernelCI KCIDB JSON of a matrix report to FILE");
  return report;
}

struct CleanupArgs {
  std::string workdir;
  bool dry_run = false;
};

CLI::App* AddCleanupCommand(CLI::App& app, CleanupArgs& a) {
  CLI::App* cleanup = app.add_subcommand(
      "cleanup", "Remove mounts, loop devices and files left by killed runs (only longpin's own)");
  cleanup->add_option("--workdir", a.workdir, "Base directory of run directories");
  cleanup->add_flag("--dry-run", a.dry_run, "List what would be removed");
  return cleanup;
}

// The command line as given, shell-quoted, for the report's "reproduce" line.
void RecordCommandLine(int argc, char** argv) {
  for (int i = 0; i < argc; ++i) {
    const std::string a = argv[i];
    g_command_line += (i ? " " : "") + ShellQuoted(i == 0 ? std::string("longpin") : a);
    if (a == "--seed" || a.rfind("--seed=", 0) == 0) g_seed_given = true;
  }
}

}  // namespace
}  // namespace longpin

int main(int argc, char** argv) {
  using namespace longpin;
  CLI::App app{
      "longpin: hold pages of a file mapping under pins while threads write and fsync it, then check the "
      "disk.\n"
      "Exit codes: 0 pass, 1 fail, 2 bad usage, 3 error, 77 cannot run here, 130 interrupted."};
  app.require_subcommand(1);
  app.set_help_all_flag("--help-all", "Help of every subcommand");

  RunConfig cfg;
  RunOptionText text;
  OutputOptions run_out;
  CLI::App* run = app.add_subcommand("run", "Run the workload (default: ext4 scratch image as root, 2x5 s)");
  AddRunOptions(*run, cfg, text);
  AddOutputOptions(*run, run_out, false);
  JobSource job_source;
  AddJobFileOptions(*run, job_source);

  MatrixConfig matrix_config;
  CLI::App* matrix = app.add_subcommand(
      "matrix",
      "Run every cell of pinners x filesystems x mappings x sync ops and print one outcome per cell");
  AddMatrixOptions(*matrix, matrix_config);
  VerifyArgs verify_args;
  CLI::App* verify = AddVerifyCommand(app, verify_args);
  SelftestArgs st;
  CLI::App* selftest = AddSelftestCommand(app, st);
  ReportArgs report_args;
  CLI::App* report = AddReportCommand(app, report_args);
  std::string list_what;
  CLI::App* list = app.add_subcommand(
      "list",
      "List pinners (with the pin kind measured on this kernel), filesystems, mappings and workloads, with "
      "availability and reasons");
  list->add_option("what", list_what, "pinners | filesystems | mappings | workloads");
  CleanupArgs cleanup_args;
  CLI::App* cleanup = AddCleanupCommand(app, cleanup_args);

  JobFile job;
  try {
    app.parse(argc, argv);
    std::string job_error;
    if (auto path = ResolveJobSource(job_source, &job_error)) {
      if (auto err = ApplyJobFile(*run, *path, &job))
        return std::fprintf(stderr, "%s\n", err->c_str()), kExitUsage;
    } else if (!job_error.empty()) {
      return UsageError(job_error);
    }
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
  RecordCommandLine(argc, argv);
  if (*run) return longpin::RunCommand(cfg, text, run_out, job);
  if (*matrix) return RunMatrix(matrix_config);
  if (*verify)
    return VerifyCommand(verify_args.state_dir, verify_args.target, verify_args.out, verify_args.quiet);
  st.cfg.plant = !st.no_plant;
  if (*selftest && st.crash == "log-writes") st.cfg.crash = CrashKind::kLogWrites;
  if (*selftest) return SelftestCommand(st.cfg, st.fs, st.duration, st.size, st.json);
  if (*report) return ReportCommand(report_args.inputs, report_args.out, report_args.kcidb);
  if (*list) return ListCommand(list_what);
  if (*cleanup) return CleanupCommand(cleanup_args.workdir, cleanup_args.dry_run);
  return kExitUsage;
}
