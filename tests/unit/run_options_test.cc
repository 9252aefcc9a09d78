// `longpin run` option parsing: every kind of bad input gives one error line naming the option, and good
// input fills the RunConfig.
#include "cli/run_options.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

namespace longpin {
namespace {

struct Parsed {
  std::optional<std::string> error;  // the line the user would see; nullopt = accepted
  RunConfig cfg;
};

// Parses like `longpin run ARGS`: CLI11 errors and FinishRunConfig errors both end up as one line.
Parsed ParseRun(std::vector<std::string> args) {
  Parsed out;
  CLI::App app{"run"};
  RunOptionText text;
  AddRunOptions(app, out.cfg, text);
  std::vector<std::string> reversed(args.rbegin(), args.rend());  // CLI11 takes the vector back to front
  try {
    app.parse(reversed);
  } catch (const CLI::ParseError& e) {
    out.error = e.what();
    return out;
  }
  text.fs_given = app.count("--fs") > 0;
  out.error = FinishRunConfig(out.cfg, text);
  return out;
}

struct BadCase {
  std::vector<std::string> args;
  const char* option;  // the error line must name it
};

TEST(RunOptions, BadInputGivesOneLineNamingTheOption) {
  const BadCase cases[] = {
      {{"--bogus"}, "--bogus"},
      {{"--size", "12Q"}, "--size"},
      {{"--size", "0"}, "--size"},
      {{"--size", "-5M"}, "--size"},
      {{"--block-size", "3000"}, "--block-size"},
      {{"--block-size", "256"}, "--block-size"},
      {{"--block-size", "4M"}, "--block-size"},
      {{"--block-size", "lots"}, "--block-size"},
      {{"--size", "10000"}, "--size"},
      {{"--size", "1M", "--block-size", "2M"}, "--size"},
      {{"--duration", "0"}, "--duration"},
      {{"--duration=-1s"}, "--duration"},
      {{"--duration", "soon"}, "--duration"},
      {{"--fs", "dir:/nonexistent/longpin-test-dir"}, "--fs"},
      {{"--fs", "dir:"}, "--fs"},
      {{"--fs", "dir:/etc/hostname"}, "--fs"},  // a file, not a directory
      {{"--fs", "zfs"}, "--fs"},
      {{"--writers", "gpu:1"}, "--writers"},
      {{"--writers", "cpu:x"}, "--writers"},
      {{"--writers", "cpu:2x"}, "--writers"},
      {{"--writers", "cpu:100"}, "--writers"},
      {{"--writers", "cpu:0,pwrite:0"}, "--writers"},
      {{"--sync", "fsnc"}, "--sync"},
      {{"--sync", "fsync:0"}, "--sync"},
      {{"--sync", "fsync:often"}, "--sync"},
      {{"--phases", "warmup"}, "--phases"},
      {{"--phases", "baseline,crash"}, "--phases"},
      {{"--phases", ","}, "--phases"},
      {{"--syncers", "0"}, "--syncers"},
      {{"--hang-threshold", "0"}, "--hang-threshold"},
      {{"--pin-window", "1"}, "--pin-window"},
      {{"--pin-access", "wo"}, "--pin-access"},
      {{"--fs", "dir:/tmp", "--size", "1024T"}, "--size"},  // larger than the free space
  };
  for (const BadCase& c : cases) {
    std::string shown;
    for (const auto& a : c.args) shown += a + " ";
    Parsed p = ParseRun(c.args);
    ASSERT_TRUE(p.error.has_value()) << "accepted: " << shown;
    EXPECT_FALSE(p.error->empty()) << shown;
    EXPECT_EQ(p.error->find('\n'), std::string::npos) << shown << "-> " << *p.error;
    EXPECT_NE(p.error->find(c.option), std::string::npos) << shown << "-> " << *p.error;
  }
}

TEST(RunOptions, GoodInputFillsTheConfig) {
  Parsed p = ParseRun({"--fs",       "dir:/tmp",       "--size",   "64M",           "--block-size", "512",
                       "--writers",  "cpu:1,pwrite:3", "--sync",   "fdatasync:5ms", "--syncers",    "2",
                       "--duration", "250ms",          "--phases", "pinned",        "--seed",       "42",
                       "--keep",     "--pinner",       "none"});
  ASSERT_FALSE(p.error.has_value()) << *p.error;
  EXPECT_EQ(p.cfg.fs, "dir:/tmp");
  EXPECT_EQ(p.cfg.size, 64ull << 20);
  EXPECT_EQ(p.cfg.block_size, 512u);
  EXPECT_EQ(p.cfg.writers.cpu, 1);
  EXPECT_EQ(p.cfg.writers.pwrite, 3);
  EXPECT_EQ(p.cfg.writers.dma, 0);
  EXPECT_EQ(p.cfg.sync_op, SyncOpKind::kFdatasync);
  EXPECT_DOUBLE_EQ(p.cfg.sync_interval_s, 0.005);
  EXPECT_EQ(p.cfg.syncers, 2);
  EXPECT_DOUBLE_EQ(p.cfg.duration_s, 0.25);
  EXPECT_EQ(p.cfg.phases, std::vector<std::string>{"pinned"});
  EXPECT_EQ(p.cfg.seed, 42u);
  EXPECT_TRUE(p.cfg.keep);
  EXPECT_EQ(p.cfg.pinner, "none");
}

TEST(RunOptions, DefaultsAreTheReadmeJob) {
  Parsed p = ParseRun({"--fs", "dir:/tmp"});
  ASSERT_FALSE(p.error.has_value()) << *p.error;
  EXPECT_EQ(p.cfg.size, 256ull << 20);
  EXPECT_EQ(p.cfg.block_size, 4096u);
  EXPECT_EQ(p.cfg.writers.cpu, 2);
  EXPECT_EQ(p.cfg.writers.pwrite, 1);
  EXPECT_EQ(p.cfg.sync_op, SyncOpKind::kFsync);
  EXPECT_DOUBLE_EQ(p.cfg.sync_interval_s, 0.005);
  EXPECT_DOUBLE_EQ(p.cfg.rate, 1000.0);
  // Four counterbalanced rounds of 1.25 s each (ABBA ABBA): 5 s of each phase kind.
  EXPECT_EQ(p.cfg.rounds, 4);
  EXPECT_DOUBLE_EQ(p.cfg.duration_s, 1.25);
  EXPECT_EQ(p.cfg.phases, (std::vector<std::string>{"baseline", "pinned", "pinned", "baseline", "baseline",
                                                    "pinned", "pinned", "baseline"}));
  EXPECT_EQ(p.cfg.pinner, "vmsplice");
}

TEST(RunOptions, EveryBlockSizeFromMinToMaxIsAccepted) {
  for (uint64_t bs = 512; bs <= (2u << 20); bs *= 2) {
    Parsed p = ParseRun({"--fs", "dir:/tmp", "--size", "4M", "--block-size", std::to_string(bs)});
    EXPECT_FALSE(p.error.has_value()) << bs << ": " << p.error.value_or("");
    EXPECT_EQ(p.cfg.block_size, bs);
  }
}

}  // namespace
}  // namespace longpin
