#include "workloads/matrix.h"

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "core/scratch_fs.h"
#include "workloads/cli/run_options.h"
#include "workloads/job_file.h"
#include "workloads/report_formats.h"
#include "workloads/run.h"

namespace longpin {
namespace {

std::vector<std::string> SplitList(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ','))
    if (!item.empty()) out.push_back(item);
  return out;
}

struct Cell {
  std::string pinner, fs, mapping, sync;
  std::string outcome = "skipped: not run";
  nlohmann::json report;  // null until the cell ran
  std::string p99_baseline = "-", p99_pinned = "-";
};

std::string FormatLatency(uint64_t ns) {
  char buf[32];
  if (ns < 1000000) std::snprintf(buf, sizeof buf, "%.0f us", double(ns) / 1e3);
  else std::snprintf(buf, sizeof buf, "%.1f ms", double(ns) / 1e6);
  return buf;
}

// p99 of the phase's sync op (the busiest op when there are several).
std::string PhaseP99(const RunReport& r, const std::string& phase) {
  for (const auto& p : r.phases) {
    if (p.name != phase) continue;
    uint64_t best = 0, p99 = 0;
    for (const auto& [op, h] : p.sync)
      if (h.count() > best) {
        best = h.count();
        p99 = h.Quantile(0.99);
      }
    return best ? FormatLatency(p99) : "-";
  }
  return "-";
}

nlohmann::json MatrixDocument(const std::vector<Cell>& cells, const std::string& workload) {
  nlohmann::json list = nlohmann::json::array();
  for (const auto& c : cells) {
    nlohmann::json j = {{"pinner", c.pinner}, {"fs", c.fs}, {"mapping", c.mapping}, {"sync", c.sync},
                        {"outcome", c.outcome}, {"p99_baseline", c.p99_baseline}, {"p99_pinned", c.p99_pinned}};
    if (!workload.empty()) j["workload"] = workload;
    if (!c.report.is_null()) j["report"] = c.report;
    list.push_back(std::move(j));
  }
  return {{"schema_version", 1}, {"kind", "matrix"}, {"cells", std::move(list)}};
}

std::string Table(const std::vector<Cell>& cells) {
  size_t wp = 6, wf = 2, wm = 7, ws = 4;
  for (const auto& c : cells) {
    wp = std::max(wp, c.pinner.size());
    wf = std::max(wf, c.fs.size());
    wm = std::max(wm, c.mapping.size());
    ws = std::max(ws, c.sync.size());
  }
  std::string out;
  char line[1024];
  std::snprintf(line, sizeof line, "%-*s  %-*s  %-*s  %-*s  %-22s  %s\n", int(wp), "pinner", int(wf), "fs", int(wm),
                "mapping", int(ws), "sync", "fsync p99 base->pinned", "outcome");
  out += line;
  for (const auto& c : cells) {
    const std::string p99 = c.p99_baseline + " -> " + c.p99_pinned;
    std::snprintf(line, sizeof line, "%-*s  %-*s  %-*s  %-*s  %-22s  %s\n", int(wp), c.pinner.c_str(), int(wf),
                  c.fs.c_str(), int(wm), c.mapping.c_str(), int(ws), c.sync.c_str(), p99.c_str(), c.outcome.c_str());
    out += line;
  }
  return out;
}

bool WriteText(const std::string& path, const std::string& text) {
  std::ofstream f(path);
  f << text;
  if (!f) std::fprintf(stderr, "longpin: write %s failed\n", path.c_str());
  return bool(f);
}

int ExitCodeOf(const std::vector<Cell>& cells) {
  bool failed = false, errored = false;
  for (const auto& c : cells) {
    const auto& o = c.outcome;
    if (o.rfind("fail", 0) == 0 || o.rfind("hang", 0) == 0 || o.rfind("kernel event", 0) == 0) failed = true;
    if (o.rfind("error", 0) == 0) errored = true;
  }
  return failed ? kExitFail : errored ? kExitError : kExitPass;
}

// Writes --json/--junit/--html and prints the table (or KTAP); returns the exit code.
int Emit(const std::vector<Cell>& cells, const MatrixOptions& o) {
  const nlohmann::json doc = MatrixDocument(cells, o.workload);
  if (!o.json.empty()) WriteText(o.json, doc.dump(2) + "\n");
  if (!o.junit.empty()) WriteText(o.junit, RenderJUnit(doc));
  if (!o.html.empty()) WriteText(o.html, RenderHtml(doc));
  if (o.ktap) std::fputs(RenderKtap(doc).c_str(), stdout);
  else std::fputs(Table(cells).c_str(), stdout);
  std::fflush(stdout);
  return ExitCodeOf(cells);
}

// The cell's RunConfig: the preset (if any) under the cell's own coordinates and the matrix's duration/size.
std::optional<std::string> CellConfig(const MatrixOptions& o, const std::string& preset, const Cell& c, RunConfig* cfg,
                                      bool* usage_error) {
  CLI::App app;
  RunOptionText text;
  AddRunOptions(app, *cfg, text);
  // A memory mapping (memfd, thp, hugetlb) lives on no filesystem under test: its cells name none.
  const bool in_memory = c.mapping == "memfd" || c.mapping == "thp" || c.mapping == "hugetlb";
  std::vector<std::string> args = {"longpin-matrix-cell", "--pinner", c.pinner, "--mapping", c.mapping,
                                   "--sync", c.sync, "--duration", o.duration, "--size", o.size, "--quiet"};
  if (!in_memory) args.insert(args.end(), {"--fs", c.fs});
  if (!o.workdir.empty()) args.insert(args.end(), {"--workdir", o.workdir});
  std::vector<const char*> argv;
  for (const auto& a : args) argv.push_back(a.c_str());
  try {
    app.parse(int(argv.size()), argv.data());
  } catch (const CLI::ParseError& e) {
    *usage_error = true;
    return std::string(e.what());
  }
  JobFile job;
  if (!preset.empty())
    if (auto err = ApplyJobFile(app, preset, &job)) {
      *usage_error = true;
      return err;
    }
  text.fs_given = !in_memory;
  if (auto err = FinishRunConfig(*cfg, text)) return job.Locate(*err);
  return std::nullopt;
}

}  // namespace

std::string CellOutcome(const RunReport& r) {
  auto first_reason = [&] { return r.reasons.empty() ? std::string("no reason given") : r.reasons.front(); };
  if (r.verdict == "skip") return "skipped: " + first_reason();
  if (!r.hangs.empty()) return "hang";
  for (const auto& e : r.kernel_events)
    if (e.alarm()) return "kernel event";
  if (r.verdict == "fail") {
    if (r.verification && r.verification->kernel_violations > 0)
      return "fail: " + std::to_string(r.verification->kernel_violations) + " violations";
    return "fail: " + first_reason();
  }
  if (r.verdict == "error") return "error: " + first_reason();
  for (const auto& p : r.phases) {
    if (p.name != "pinned" || p.pins.granted_pages > 0 || p.pins.refused.empty()) continue;
    std::string top;
    uint64_t most = 0;
    for (const auto& [err, pages] : p.pins.refused)
      if (pages > most) {
        most = pages;
        top = err;
      }
    return "refused " + top;
  }
  if (r.verdict == "pass") return "pass";
  return r.verdict + ": " + first_reason();
}

void AddMatrixOptions(CLI::App& m, MatrixOptions& o) {
  m.add_option("--pinners", o.pinners, "Pinners, comma separated (see `longpin list`). Default vmsplice");
  m.add_option("--fs", o.filesystems, "Filesystems, comma separated (ext4, xfs, btrfs, f2fs, dir:PATH). Default ext4");
  m.add_option("--mappings", o.mappings, "Mappings, comma separated (shared, private, memfd, thp, hugetlb). Default shared");
  m.add_option("--sync", o.syncs, "Sync ops, comma separated (fsync, fdatasync, msync, sync_file_range, syncfs). Default fsync");
  m.add_option("--workload", o.workload, "A preset applied to every cell (`longpin list workloads`)");
  m.add_option("--duration", o.duration, "Duration of each phase of each cell. Default 2s");
  m.add_option("--size", o.size, "Target size of each cell. Default 64M");
  m.add_option("--workdir", o.workdir, "Base directory for run directories");
  m.add_option("--json", o.json, "Write the matrix JSON (every cell with its run's report) to FILE");
  m.add_option("--junit", o.junit, "Write a JUnit XML report (one testcase per cell) to FILE");
  m.add_option("--html", o.html, "Write a self-contained HTML report with the matrix table to FILE");
  m.add_flag("--ktap", o.ktap, "Print KTAP v1 results on stdout instead of the table");
  m.add_flag("--quiet,-q", o.quiet, "No progress line per cell");
}

int MatrixCommand(const MatrixOptions& o) {
  std::vector<Cell> cells;
  for (const auto& p : SplitList(o.pinners))
    for (const auto& f : SplitList(o.filesystems))
      for (const auto& m : SplitList(o.mappings))
        for (const auto& s : SplitList(o.syncs)) {
          Cell c;
          c.pinner = p, c.fs = f, c.mapping = m, c.sync = s;
          cells.push_back(std::move(c));
        }
  if (cells.empty()) {
    std::fprintf(stderr, "longpin: matrix: every list needs at least one entry\n");
    return kExitUsage;
  }
  std::string preset;
  if (!o.workload.empty()) {
    auto path = FindPreset(o.workload);
    if (!path) {
      std::fprintf(stderr, "longpin: matrix --workload %s: no such preset (`longpin list workloads`)\n", o.workload.c_str());
      return kExitUsage;
    }
    preset = *path;
  }
  // Every cell's options are checked before the first one runs: a typo must not surface an hour in.
  std::vector<RunConfig> configs(cells.size());
  bool any_scratch = false;
  for (size_t i = 0; i < cells.size(); ++i) {
    bool usage = false;
    if (auto err = CellConfig(o, preset, cells[i], &configs[i], &usage)) {
      if (usage) {
        std::fprintf(stderr, "longpin: matrix: %s\n", err->c_str());
        return kExitUsage;
      }
      // A cell this machine cannot express (e.g. pwrite writers on a private mapping) is skipped, not fatal.
      cells[i].outcome = "skipped: " + *err;
      configs[i].pinner.clear();
      continue;
    }
    any_scratch = any_scratch || configs[i].fs.rfind("dir:", 0) != 0;
  }
  if (any_scratch) {
    if (::geteuid() != 0) {
      std::fprintf(stderr, "longpin: matrix: scratch filesystems need root (loop device and mount); use --fs dir:PATH\n");
      return kExitCannotRun;
    }
    if (Status s = EnterPrivateMountNamespace(); !s.ok()) {
      std::fprintf(stderr, "longpin: %s\n", s.message().c_str());
      return kExitCannotRun;
    }
  }
  InstallInterruptHandlers();
  for (size_t i = 0; i < cells.size(); ++i) {
    Cell& c = cells[i];
    if (configs[i].pinner.empty()) continue;  // skipped above
    if (g_interrupted.load()) {
      c.outcome = "skipped: interrupted";
      continue;
    }
    // A cell whose threads stay stuck in the kernel ends the process (run.h): the matrix so far is written
    // first, the rest marked as not run.
    SetAbandonHook([&cells, &o, i](const RunReport& r) {
      std::vector<Cell> out = cells;
      out[i].outcome = "hang";
      out[i].report = nlohmann::json::parse(RenderJson(r));
      for (size_t k = i + 1; k < out.size(); ++k)
        if (out[k].outcome == "skipped: not run") out[k].outcome = "skipped: an earlier cell hung";
      Emit(out, o);
    });
    RunReport r = Run(configs[i]);
    c.outcome = CellOutcome(r);
    c.report = nlohmann::json::parse(RenderJson(r));
    c.p99_baseline = PhaseP99(r, "baseline");
    c.p99_pinned = PhaseP99(r, "pinned");
    if (!o.quiet && !o.ktap)
      std::fprintf(stderr, "cell %zu/%zu %s/%s/%s/%s: %s\n", i + 1, cells.size(), c.pinner.c_str(), c.fs.c_str(),
                   c.mapping.c_str(), c.sync.c_str(), c.outcome.c_str());
  }
  SetAbandonHook({});
  const int code = Emit(cells, o);
  return g_interrupted.load() && code == kExitPass ? kExitInterrupted : code;
}

}  // namespace longpin
