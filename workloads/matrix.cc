#include "workloads/matrix.h"

#include <linux/magic.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <thread>

#include "core/kernel_release.h"
#include "core/run_directory.h"
#include "core/scratch_fs.h"
#include "core/units.h"
#include "pinners/kernel_rules.h"
#include "pinners/pinner.h"
#include "report/report_formats.h"
#include "workloads/run.h"
#include "workloads/target.h"

namespace longpin {
namespace {

bool InMemory(const std::string& mapping) {
  return mapping == "memfd" || mapping == "thp" || mapping == "hugetlb";
}

// Pinners whose hold a DMA writer can write through (Pinner::can_write), without creating one.
bool PinnerWrites(const std::string& pinner) {
  return pinner != "none" && pinner != "vmsplice";
}
// Pinners that hold pages only while one of their IOs is in flight (Pinner::holds_per_io): without a DMA
// writer they never pin, and the cell would judge nothing.
bool PinsPerIo(const std::string& pinner) {
  return pinner == "odirect" || pinner == "fuse" || pinner == "process-vm";
}

std::string FormatLatency(uint64_t ns) {
  char buf[32];
  if (ns < 1000000) std::snprintf(buf, sizeof buf, "%.0f us", double(ns) / 1e3);
  else std::snprintf(buf, sizeof buf, "%.1f ms", double(ns) / 1e6);
  return buf;
}

// p99 of the phase's sync op (the busiest op when there are several), for the HTML page's detail line.
std::string PhaseP99(const RunReport& r, const std::string& phase) {
  uint64_t best = 0, p99 = 0;
  for (const auto& p : r.phases)
    if (p.name == phase)
      for (const auto& [op, h] : p.sync)
        if (h.count() > best) {
          best = h.count();
          p99 = h.Quantile(0.99);
        }
  return best ? FormatLatency(p99) : "-";
}

// The latency column: the pinned/baseline p99 ratio with its interval, never two bare percentiles.
std::string ComparisonText(const RunReport& r) {
  if (!r.comparison) return "-";
  const auto& c = *r.comparison;
  char buf[96];
  std::snprintf(buf, sizeof buf, "p99 x%.2f [%.2f, %.2f]%s", c.p99.ratio, c.p99.lo, c.p99.hi,
                c.detectable ? "" : " (no difference)");
  return buf;
}

// What the mapping's pages are, for the rules: a filesystem with writeback and dirty tracking, or shmem.
std::string Backing(const MatrixCell& c) {
  if (c.mapping == "memfd" || c.mapping == "thp") return "shmem";
  if (c.mapping == "hugetlb") return "hugetlb";
  if (c.fs.rfind("dir:", 0) != 0) return "file";
  struct statfs st {};
  if (::statfs(c.fs.substr(4).c_str(), &st) != 0) return "file";
  if (st.f_type == TMPFS_MAGIC) return "shmem";
  if (st.f_type == HUGETLBFS_MAGIC) return "hugetlb";
  return "file";
}

nlohmann::json CellJson(const MatrixCell& c, const std::string& kernel_name, const std::string& release) {
  return {{"pinner", c.pinner},
          {"fs", c.fs},
          {"mapping", c.mapping},
          {"sync", c.sync},
          {"kernel_name", kernel_name},
          {"kernel", release},
          {"outcome", "skipped: not run"},
          {"pin_outcome", ""},
          {"rule", nullptr},
          {"as_expected", nullptr},
          {"judgement", "not judged"},
          {"comparison", "-"},
          {"p99_baseline", "-"},
          {"p99_pinned", "-"}};
}

// Marks the cell by the kernel's rules: only a pin that was tried is judged.
void Judge(nlohmann::json& cell, const MatrixCell& c, const KernelRules& rules, const std::string& access,
           const std::string& workdir, const std::string& measured) {
  const std::string pin = cell["pin_outcome"].get<std::string>();
  if (pin.empty()) return;
  PinCell facts;
  facts.pinner = c.pinner;
  facts.backing = Backing(c);
  facts.mapping = c.mapping;
  facts.access = access.empty() ? "rw" : access;
  // The running kernel's upstream version: a distribution's release string may carry an ABI number where the
  // stable patch level would be (Debian's 6.1.0-57 is 6.1.158).
  if (auto v = RunningKernelVersion()) facts.kernel = *v;
  // Where the pinner's own IO goes (odirect reads its source file from the run directory's filesystem).
  struct statfs st {};
  if (::statfs(workdir.c_str(), &st) == 0) facts.io_fs = st.f_type == TMPFS_MAGIC ? "tmpfs" : "block";
  RuleJudgement j = JudgeCell(rules, facts, pin, measured);
  cell["judgement"] = j.text;
  if (j.rule) cell["rule"] = j.rule->id;
  if (j.as_expected) cell["as_expected"] = *j.as_expected;
}

bool WriteText(const std::string& path, const std::string& text) {
  std::ofstream f(path);
  f << text;
  if (!f) std::fprintf(stderr, "longpin: write %s failed\n", path.c_str());
  return bool(f);
}

nlohmann::json MatrixDocument(const nlohmann::json& cells, const nlohmann::json& kernels,
                              const std::string& workload) {
  nlohmann::json doc = {{"schema_version", 1}, {"kind", "matrix"}, {"kernels", kernels}, {"cells", cells}};
  if (!workload.empty()) doc["workload"] = workload;
  return doc;
}

// Writes --json/--junit/--html/--kcidb and prints the table (or KTAP); returns the exit code.
int Emit(const nlohmann::json& doc, const MatrixConfig& o) {
  if (!o.json.empty()) WriteText(o.json, doc.dump(2) + "\n");
  if (!o.junit.empty()) WriteText(o.junit, RenderJUnit(doc));
  if (!o.html.empty()) WriteText(o.html, RenderHtml(doc));
  if (!o.kcidb.empty()) WriteText(o.kcidb, RenderKcidb(doc));
  if (o.ktap) std::fputs(RenderKtap(doc).c_str(), stdout);
  else std::fputs(MatrixTable(doc).c_str(), stdout);
  std::fflush(stdout);
  return MatrixExitCode(doc);
}

std::optional<KernelRules> LoadRules(const MatrixConfig& o, std::string* error) {
  std::string path = o.rules;
  if (path.empty()) {
    auto found = FindKernelRulesFile();
    if (!found) {
      *error = "no kernel rules file (pinners/kernel-rules.toml) found; give --rules FILE";
      return std::nullopt;
    }
    path = *found;
  }
  return LoadKernelRules(path, error);
}

// Runs this host's cells in this process.
int RunHostCells(const MatrixConfig& o, const std::vector<MatrixCell>& cells,
                 const std::vector<RunConfig>& configs, const std::vector<std::string>& skipped,
                 const KernelRules& rules, nlohmann::json& out, const nlohmann::json& kernels) {
  const std::string release = KernelRelease();
  const size_t first = out.size();
  for (const auto& c : cells) out.push_back(CellJson(c, "host", release));
  for (size_t i = 0; i < cells.size(); ++i) {
    nlohmann::json& cell = out[first + i];
    if (!skipped[i].empty()) {
      cell["outcome"] = "skipped: " + skipped[i];
      continue;
    }
    if (g_interrupted.load()) {
      cell["outcome"] = "skipped: interrupted";
      continue;
    }
    // A cell whose threads stay stuck in the kernel ends the process (run.h): the matrix so far is written
    // first, the rest marked as not run.
    SetAbandonHook([&out, &o, &kernels, &cell, first, n = cells.size()](const RunReport& r) {
      cell["outcome"] = "hang";
      cell["report"] = ReportDocument(r);
      for (size_t k = first; k < first + n; ++k)
        if (out[k]["outcome"] == "skipped: not run") out[k]["outcome"] = "skipped: an earlier cell hung";
      Emit(MatrixDocument(out, kernels, o.workload), o);
    });
    RunReport r = Run(configs[i]);
    cell["outcome"] = CellOutcome(r);
    cell["pin_outcome"] = PinOutcome(r);
    cell["comparison"] = ComparisonText(r);
    cell["p99_baseline"] = PhaseP99(r, "baseline");
    cell["p99_pinned"] = PhaseP99(r, "pinned");
    std::string measured;
    for (const auto& p : r.phases)
      if (p.name == "pinned") measured = MeasuredReference(p.pins);
    Judge(cell, cells[i], rules, o.run.pin_access,
          configs[i].workdir.empty() ? DefaultWorkBase() : configs[i].workdir, measured);
    cell["report"] = ReportDocument(r);
    if (!o.quiet && !o.ktap)
      std::fprintf(stderr, "%scell %zu/%zu %s/%s/%s/%s: %s; %s\n",
                   o.kernels == std::vector<std::string>{"host"} ? "" : "[host] ", i + 1, cells.size(),
                   cells[i].pinner.c_str(), cells[i].fs.c_str(), cells[i].mapping.c_str(),
                   cells[i].sync.c_str(), cell["outcome"].get<std::string>().c_str(),
                   cell["judgement"].get<std::string>().c_str());
  }
  SetAbandonHook({});
  return 0;
}

}  // namespace

std::string CellOutcome(const RunReport& r) {
  auto first_reason = [&] { return r.reasons.empty() ? std::string("no reason given") : r.reasons.front(); };
  if (r.verdict == Verdict::kSkip) return "skipped: " + first_reason();
  if (!r.hangs.empty()) return "hang";
  for (const auto& e : r.kernel_events)
    if (e.alarm()) return "kernel event";
  if (r.verdict == Verdict::kFail) {
    if (r.verification && r.verification->kernel_violations > 0)
      return "fail: " + std::to_string(r.verification->kernel_violations) + " violations";
    return "fail: " + first_reason();
  }
  if (r.verdict == Verdict::kError || r.verdict == Verdict::kBadInput) return "error: " + first_reason();
  const std::string pin = PinOutcome(r);
  if (pin.rfind("refused", 0) == 0) return pin;
  if (r.verdict == Verdict::kPass) return "pass";
  return std::string(VerdictName(r.verdict)) + ": " + first_reason();
}

std::string PinOutcome(const RunReport& r) {
  for (const auto& p : r.phases) {
    if (p.name != "pinned") continue;
    if (p.pins.granted_pages > 0 || p.pins.ios > 0) return "granted";
    std::string top;
    uint64_t most = 0;
    for (const auto& [err, pages] : p.pins.refused)
      if (pages > most) {
        most = pages;
        top = err;
      }
    if (!top.empty()) return "refused " + top;
  }
  return "";
}

std::vector<MatrixCell> MatrixCells(const MatrixConfig& o) {
  std::vector<MatrixCell> cells;
  for (const auto& p : o.pinners)
    for (const auto& m : o.mappings)
      for (const auto& f : InMemory(m) ? std::vector<std::string>{"-"} : o.filesystems)
        for (const auto& s : o.syncs) cells.push_back({p, f, m, s});
  return cells;
}

CellRunOptions CellOptions(const MatrixConfig& o, const MatrixCell& c) {
  CellRunOptions cell{c.pinner, InMemory(c.mapping) ? "" : c.fs, c.mapping, c.sync, o.run};
  // A pinner that holds pages only through its own IO, or a private mapping that pwrite would bypass, needs
  // writers the run's default does not have for the cell to judge anything.
  if (cell.run.writers.empty() && c.mapping == "private")
    cell.run.writers = PinnerWrites(c.pinner) ? "cpu:2,dma:1" : "cpu:2";
  else if (cell.run.writers.empty() && PinsPerIo(c.pinner)) cell.run.writers = "cpu:2,pwrite:1,dma:1";
  return cell;
}

namespace {

// Names are checked before anything runs: a typo is the user's to fix, not a cell that could not run.
std::optional<int> CheckNames(const MatrixConfig& o, size_t cells) {
  if (cells == 0 || o.kernels.empty()) {
    std::fprintf(stderr, "longpin: matrix: every list needs at least one entry\n");
    return kExitUsage;
  }
  auto unknown = [](const char* option, const std::string& name, const char* known) {
    std::fprintf(stderr, "longpin: matrix %s %s: unknown (%s)\n", option, name.c_str(), known);
    return kExitUsage;
  };
  for (const auto& p : o.pinners)
    if (p != "none" && !FindPinner(p)) return unknown("--pinners", p, "see `longpin list pinners`");
  for (const auto& f : o.filesystems)
    if (f.rfind("dir:", 0) != 0 && !ParseFsType(f))
      return unknown("--fs", f, "ext4, xfs, btrfs, f2fs or dir:PATH");
  for (const auto& m : o.mappings)
    if (!ParseMapping(m)) return unknown("--mappings", m, "shared, private, memfd, thp, hugetlb");
  for (const auto& y : o.syncs)
    if (!ParseSyncOpName(y)) return unknown("--sync", y, "fsync, fdatasync, msync, sync_file_range, syncfs");
  const auto& kernels = o.kernels;
  for (size_t i = 0; i < kernels.size(); ++i)
    if (std::find(kernels.begin(), kernels.begin() + long(i), kernels[i]) != kernels.begin() + long(i)) {
      std::fprintf(stderr, "longpin: matrix --kernels %s: named twice (each kernel is one column)\n",
                   kernels[i].c_str());
      return kExitUsage;
    }
  for (const auto& k : kernels)
    if (auto err = CheckKernelName(k)) {
      std::fprintf(stderr, "longpin: matrix --kernels: %s\n", err->c_str());
      return kExitUsage;
    }
  return std::nullopt;
}

struct HostCells {
  std::vector<RunConfig> configs;
  std::vector<std::string> skipped;  // why a cell this machine cannot express is skipped ("" runs it)
  bool any_scratch = false;
};

// Every cell's options are checked before the first one runs: a typo must not surface an hour in.
HostCells MakeConfigs(const MatrixConfig& o, const std::vector<MatrixCell>& cells,
                      const CellConfigFn& cell_config) {
  HostCells host;
  host.configs.resize(cells.size());
  host.skipped.resize(cells.size());
  for (size_t i = 0; i < cells.size(); ++i) {
    CellConfigResult r = cell_config(CellOptions(o, cells[i]));
    if (!r.config) {
      host.skipped[i] = r.error;
      continue;
    }
    host.configs[i] = std::move(*r.config);
    host.any_scratch = host.any_scratch || host.configs[i].fs.rfind("dir:", 0) != 0;
  }
  return host;
}

// Scratch filesystems need root, and their mounts live in a namespace of the matrix's own.
std::optional<int> PrepareHost(const HostCells& host) {
  if (!host.any_scratch) return std::nullopt;
  if (::geteuid() != 0) {
    std::fprintf(
        stderr,
        "longpin: matrix: scratch filesystems need root (loop device and mount); use --fs dir:PATH\n");
    return kExitCannotRun;
  }
  if (Status s = EnterPrivateMountNamespace(); !s.ok()) {
    std::fprintf(stderr, "longpin: %s\n", s.message().c_str());
    return kExitCannotRun;
  }
  return std::nullopt;
}

// The guests' cells after the host's, kernel by kernel in the order given; a guest that ran but sent no
// matrix back has every cell say why.
void CollectCells(const MatrixConfig& o, const std::vector<MatrixCell>& cells, nlohmann::json& host_cells,
                  std::vector<GuestMatrix>& guests, nlohmann::json& kernel_list, nlohmann::json& out) {
  for (size_t ki = 0; ki < o.kernels.size(); ++ki) {
    const std::string& k = o.kernels[ki];
    if (k == "host") {
      for (auto& c : host_cells) out.push_back(std::move(c));
      continue;
    }
    GuestMatrix& g = guests[ki];
    kernel_list[ki]["release"] = g.release;
    kernel_list[ki]["error"] = g.error;
    if (g.cells.empty())
      for (const auto& c : cells) {
        nlohmann::json cell = CellJson(c, k, g.release);
        cell["outcome"] = "error: " + g.error;
        g.cells.push_back(std::move(cell));
      }
    for (auto& c : g.cells) {
      c["kernel_name"] = k;
      out.push_back(std::move(c));
    }
  }
}

}  // namespace

int MatrixCommand(const MatrixConfig& given, const CellConfigFn& cell_config) {
  MatrixConfig o = given;
  const std::vector<MatrixCell> cells = MatrixCells(o);
  if (auto code = CheckNames(o, cells.size())) return *code;
  std::string rules_error;
  auto rules = LoadRules(o, &rules_error);
  if (!rules) {
    std::fprintf(stderr, "longpin: matrix: %s\n", rules_error.c_str());
    return kExitUsage;
  }
  if (!o.rules.empty()) o.rules = rules->path;  // guests read the same file
  const HostCells host = MakeConfigs(o, cells, cell_config);
  const auto& kernels = o.kernels;
  const bool on_host = std::find(kernels.begin(), kernels.end(), "host") != kernels.end();
  if (on_host)
    if (auto code = PrepareHost(host)) return *code;
  InstallInterruptHandlers();
  o.vm_rdma = o.vm_rdma || std::any_of(o.pinners.begin(), o.pinners.end(), [](const std::string& p) {
                return p.find("rdma") != std::string::npos;
              });
  nlohmann::json out = nlohmann::json::array(), kernel_list = nlohmann::json::array();
  for (const auto& k : kernels)  // the table's columns, in the order given
    kernel_list.push_back({{"name", k}, {"release", k == "host" ? KernelRelease() : ""}, {"error", ""}});
  // The guests run side by side with each other and with the host's cells: a cell's phases are bound by the
  // clock, not the CPU (writers are paced), so three kernels take about as long as the slowest one. Their
  // latency figures share the machine; their outcomes do not depend on it.
  std::vector<GuestMatrix> guests(kernels.size());
  std::vector<std::thread> threads;
  for (size_t ki = 0; ki < kernels.size(); ++ki) {
    if (kernels[ki] == "host") continue;
    if (!o.quiet && !o.ktap)
      std::fprintf(stderr, "kernel %s: booting under vm/run for %zu cells\n", kernels[ki].c_str(),
                   cells.size());
    threads.emplace_back([&guests, &kernels, &o, ki] { guests[ki] = RunMatrixInGuest(kernels[ki], o); });
  }
  nlohmann::json host_cells = nlohmann::json::array();
  if (on_host) RunHostCells(o, cells, host.configs, host.skipped, *rules, host_cells, kernel_list);
  for (auto& t : threads) t.join();
  // A kernel that cannot be had or does not boot is the user's to fix: one line, its exit code, nothing
  // judged.
  for (size_t ki = 0; ki < kernels.size(); ++ki)
    if (guests[ki].exit_code == kExitUsage || guests[ki].exit_code == kExitCannotRun) {
      std::fprintf(stderr, "longpin: matrix --kernels %s: %s\n", kernels[ki].c_str(),
                   guests[ki].error.c_str());
      return guests[ki].exit_code;
    }
  CollectCells(o, cells, host_cells, guests, kernel_list, out);
  const int code = Emit(MatrixDocument(out, kernel_list, o.workload), o);
  return g_interrupted.load() && code == kExitPass ? kExitInterrupted : code;
}

}  // namespace longpin
