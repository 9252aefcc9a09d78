#include "cli/matrix_options.h"

#include <algorithm>
#include <cstdio>

#include "cli/job_file.h"
#include "cli/run_options.h"
#include "core/units.h"

namespace longpin {
namespace {

// The preset every cell starts from: the run options it sets, before any check. Each cell's own options are
// laid over it, as a command line wins over its job file.
struct CellBase {
  RunConfig cfg;
  RunOptionText text;
  JobFile job;
};

std::optional<std::string> LoadPreset(const std::string& path, CellBase* base) {
  CLI::App app;
  AddRunOptions(app, base->cfg, base->text);
  std::vector<std::string> no_args;
  app.parse(no_args);
  return ApplyJobFile(app, path, &base->job);
}

CellConfigResult CellConfig(const CellBase& base, const CellRunOptions& c) {
  RunConfig cfg = base.cfg;
  RunOptionText text = base.text;
  const MatrixRunOptions& r = c.run;
  cfg.pinner = c.pinner;
  cfg.quiet = true;
  text.mapping = c.mapping;
  text.sync = c.sync;
  text.duration = r.duration;
  text.size = r.size;
  // A memory mapping lives on no filesystem under test: its cells name none.
  if (!c.fs.empty()) text.fs = c.fs;
  text.fs_given = !c.fs.empty();
  if (!r.workdir.empty()) cfg.workdir = r.workdir;
  if (!r.writers.empty()) text.writers = r.writers;
  if (!r.pin_access.empty()) text.pin_access = r.pin_access;
  if (!r.block_size.empty()) text.block_size = r.block_size;
  if (r.rate) cfg.rate = *r.rate;
  if (r.rounds) text.rounds = *r.rounds;
  if (r.seed) cfg.seed = *r.seed;
  if (auto err = FinishRunConfig(cfg, text)) return {std::nullopt, base.job.Locate(*err)};
  return {std::move(cfg), ""};
}

void DropEmptyEntries(std::vector<std::string>& list) {
  list.erase(std::remove(list.begin(), list.end(), std::string()), list.end());
}

}  // namespace

void AddMatrixOptions(CLI::App& m, MatrixConfig& o) {
  // A list is one comma-separated value per option, as it always was: "--pinners a b" names no second list.
  auto list = [&m](const char* name, std::vector<std::string>& into, const char* help) {
    m.add_option(name, into, help)->delimiter(',')->allow_extra_args(false);
  };
  list("--pinners", o.pinners, "Pinners, comma separated (see `longpin list`). Default vmsplice");
  list("--fs", o.filesystems,
       "Filesystems, comma separated (ext4, xfs, btrfs, f2fs, dir:PATH). Default ext4");
  list("--mappings", o.mappings,
       "Mappings, comma separated (shared, private, memfd, thp, hugetlb). Default shared. A memory mapping "
       "(memfd, thp, hugetlb) is one cell per pinner and sync op, on no filesystem");
  list("--sync", o.syncs,
       "Sync ops, comma separated (fsync, fdatasync, msync, sync_file_range, syncfs). Default fsync");
  list("--kernels", o.kernels,
       "Kernels, comma separated: host, debian-6.1, debian-6.12, or a path to a bzImage. Each guest kernel "
       "boots once under vm/run and runs all its cells. Default host");
  m.add_option("--rules", o.rules,
               "Kernel rules file (TOML) the cells are judged by. Default: the shipped one");
  m.add_option("--workload", o.workload, "A preset applied to every cell (`longpin list workloads`)");
  // As `run` takes them: an empty value is a mistake, never "the default".
  const CLI::Validator non_empty = NonEmptyValue();
  MatrixRunOptions& r = o.run;
  m.add_option("--duration", r.duration, "Duration of each phase of each cell. Default 2s")->check(non_empty);
  m.add_option("--size", r.size, "Target size of each cell. Default 64M")->check(non_empty);
  m.add_option(
      "--writers", r.writers,
      "Writers of every cell (cpu:N,pwrite:N,dma:N). Default: the run's, and cpu:2,dma:1 on a private "
      "mapping (pwrite would write the file, which a private mapping does not show)");
  m.add_option("--rate", r.rate, "Writes per second per writer in every cell (see run --rate)")
      ->check(CLI::NonNegativeNumber);
  m.add_option("--rounds", r.rounds, "Baseline/pinned rounds of every cell (see run --rounds)")
      ->check(CLI::Range(1, 1000));
  m.add_option("--pin-access", r.pin_access, "rw or ro pins in every cell (see run --pin-access)");
  m.add_option("--block-size", r.block_size, "Block size of every cell (see run --block-size)");
  m.add_option("--seed", r.seed, "Seed of every cell");
  m.add_option("--workdir", r.workdir, "Base directory for run directories (guests: default /dev/shm)");
  m.add_option("--json", o.json, "Write the matrix JSON (every cell with its run's report) to FILE");
  m.add_option("--junit", o.junit, "Write a JUnit XML report (one testcase per cell and kernel) to FILE");
  m.add_option("--html", o.html, "Write a self-contained HTML report with the matrix table to FILE");
  m.add_option("--kcidb", o.kcidb, "Write KernelCI KCIDB JSON (one test per cell and kernel) to FILE");
  m.add_flag("--ktap", o.ktap, "Print KTAP v1 results on stdout instead of the table (a subtest per kernel)");
  m.add_flag("--quiet,-q", o.quiet, "No progress line per cell");
}

int RunMatrix(MatrixConfig config) {
  for (auto* list : {&config.pinners, &config.filesystems, &config.mappings, &config.syncs, &config.kernels})
    DropEmptyEntries(*list);
  CellBase base;
  if (!config.workload.empty()) {
    auto path = FindPreset(config.workload);
    if (!path) {
      std::fprintf(stderr, "longpin: matrix --workload %s: no such preset (`longpin list workloads`)\n",
                   config.workload.c_str());
      return kExitUsage;
    }
    if (auto err = LoadPreset(*path, &base)) {
      std::fprintf(stderr, "longpin: matrix: %s\n", err->c_str());
      return kExitUsage;
    }
  }
  return MatrixCommand(config, [&base](const CellRunOptions& cell) { return CellConfig(base, cell); });
}

}  // namespace longpin
