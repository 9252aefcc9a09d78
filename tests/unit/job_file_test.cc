// Job files (cli/job_file.h): keys become `longpin run` options; errors name FILE:LINE.
#include "cli/job_file.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>

#include "cli/run_options.h"

namespace longpin {
namespace {

class JobFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/longpin-jobfile-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    AddRunOptions(app_, cfg_, text_);
    AddJobFileOptions(app_, source_);
  }
  void TearDown() override {
    ::unlink(path_.c_str());
    ::rmdir(dir_.c_str());
  }
  // Parses the command line, then applies a job file holding `toml`; the error, if any.
  std::optional<std::string> Apply(const std::string& toml, std::vector<std::string> args = {}) {
    path_ = dir_ + "/job.toml";
    std::ofstream(path_) << toml;
    args.insert(args.begin(), "run");
    std::vector<const char*> argv;
    for (const auto& a : args) argv.push_back(a.c_str());
    app_.parse(int(argv.size()), argv.data());
    return ApplyJobFile(app_, path_, &job_);
  }

  std::string dir_, path_;
  CLI::App app_;
  RunConfig cfg_;
  RunOptionText text_;
  JobSource source_;
  JobFile job_;
};

TEST_F(JobFileTest, KeysSetOptions) {
  auto err = Apply(
      "pinner = \"fuse\"\nsyncers = 3\nrate = 2.5\nkeep = true\nphases = [\"pinned\"]\nsize = 33554432\n");
  ASSERT_FALSE(err) << *err;
  EXPECT_EQ(cfg_.pinner, "fuse");
  EXPECT_EQ(cfg_.syncers, 3);
  EXPECT_DOUBLE_EQ(cfg_.rate, 2.5);
  EXPECT_TRUE(cfg_.keep);
  EXPECT_EQ(text_.phases, "pinned");
  EXPECT_EQ(text_.size, "33554432");
}

TEST_F(JobFileTest, CommandLineOverridesTheFile) {
  auto err = Apply("pinner = \"fuse\"\nsyncers = 3\n", {"--syncers", "5"});
  ASSERT_FALSE(err) << *err;
  EXPECT_EQ(cfg_.syncers, 5);
  EXPECT_EQ(cfg_.pinner, "fuse");
}

TEST_F(JobFileTest, UnknownKeyNamesFileAndLine) {
  auto err = Apply("size = \"32M\"\n\nbogus = 1\n");
  ASSERT_TRUE(err);
  EXPECT_EQ(err->rfind(path_ + ":3: ", 0), 0u) << *err;
  EXPECT_NE(err->find("unknown key 'bogus'"), std::string::npos) << *err;
}

TEST_F(JobFileTest, WrongTypeNamesFileAndLine) {
  auto err = Apply("duration = \"1s\"\nsyncers = \"two\"\n");
  ASSERT_TRUE(err);
  EXPECT_EQ(err->rfind(path_ + ":2: syncers: expected an integer, got string", 0), 0u) << *err;
  JobFile other;
  std::ofstream(path_) << "keep = 1\n";
  err = ApplyJobFile(app_, path_, &other);
  ASSERT_TRUE(err);
  EXPECT_EQ(err->rfind(path_ + ":1: keep: expected a boolean", 0), 0u) << *err;
}

TEST_F(JobFileTest, OutOfRangeNamesFileAndLine) {
  // Checked by the option itself (a CLI11 range) ...
  auto err = Apply("fs = \"ext4\"\nsyncers = 100\n");
  ASSERT_TRUE(err);
  EXPECT_EQ(err->rfind(path_ + ":2: ", 0), 0u) << *err;
  EXPECT_NE(err->find("100"), std::string::npos) << *err;
}

TEST_F(JobFileTest, LaterValidationErrorsPointAtTheLine) {
  // ... or by the run's validation after all options are in: Locate() points its error at the file's line.
  auto err = Apply("fs = \"ext4\"\nblock-size = \"3k\"\n");
  ASSERT_FALSE(err) << *err;
  auto finish = FinishRunConfig(cfg_, text_);
  ASSERT_TRUE(finish);
  EXPECT_EQ(job_.Locate(*finish).rfind(path_ + ":2: --block-size ", 0), 0u) << job_.Locate(*finish);
  EXPECT_EQ(job_.Locate("--pinner x: y"), "--pinner x: y");  // not from the file: unchanged
}

TEST_F(JobFileTest, MalformedTomlNamesTheLine) {
  auto err = Apply("size = \"32M\"\nsize = \n");
  ASSERT_TRUE(err);
  EXPECT_EQ(err->rfind(path_ + ":2: ", 0), 0u) << *err;
}

TEST_F(JobFileTest, JobFilesDoNotNest) {
  auto err = Apply("workload = \"split-page\"\n");
  ASSERT_TRUE(err);
  EXPECT_EQ(err->rfind(path_ + ":1: workload", 0), 0u) << *err;
}

TEST(Presets, EveryPresetParsesAndValidates) {
  const auto presets = ListPresets();
  ASSERT_GE(presets.size(), 6u);
  for (const char* name : {"pinned-redirty", "split-page", "dio-journal", "truncate-under-pin",
                           "fork-under-pin", "reclaim-under-pin"}) {
    auto path = FindPreset(name);
    ASSERT_TRUE(path) << name;
    CLI::App app;
    RunConfig cfg;
    RunOptionText text;
    AddRunOptions(app, cfg, text);
    const char* argv[] = {"run", "--fs", "dir:/tmp"};
    app.parse(3, argv);
    JobFile job;
    auto err = ApplyJobFile(app, *path, &job);
    ASSERT_FALSE(err) << *err;
    text.fs = "dir:/tmp";  // keep the check free of root and free space
    text.size = "32M";
    auto finish = FinishRunConfig(cfg, text);
    EXPECT_FALSE(finish) << name << ": " << job.Locate(*finish);
  }
}

}  // namespace
}  // namespace longpin
