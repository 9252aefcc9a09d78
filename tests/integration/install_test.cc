// Packaging: `cmake --install` of this build into a staging prefix that is then moved elsewhere still runs a
// preset from its own share/longpin (not from the source tree, which is still on this machine), and the .deb
// of `cpack -G DEB` declares the libraries' packages and runs `longpin list` once extracted. Never `dpkg -i`.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "core/subprocess.h"
#include "tests/integration/test_helpers.h"

namespace longpin::it {
namespace {

namespace fs = std::filesystem;

CommandResult RunTool(const std::vector<std::string>& argv, double timeout_s = 120) {
  auto r = RunCommand(argv, timeout_s);
  if (!r.ok()) return CommandResult{-1, r.status().message(), false};
  return *r;
}

std::string Describe(const std::vector<std::string>& argv, const CommandResult& r) {
  std::string cmd;
  for (const auto& a : argv) cmd += (cmd.empty() ? "" : " ") + a;
  return cmd + ": exit " + std::to_string(r.exit_code) + (r.timed_out ? " (timed out)" : "") + "\n" +
         r.output;
}

bool IsExecutable(const std::string& path) {
  return ::access(path.c_str(), X_OK) == 0;
}

// The names `longpin list workloads` prints, one per line below its heading.
std::vector<std::string> ListedWorkloads(const std::string& out) {
  std::vector<std::string> names;
  std::istringstream in(out);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("  ", 0) != 0) continue;
    std::istringstream words(line);
    std::string name;
    words >> name;
    names.push_back(name);
  }
  return names;
}

bool Contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

TEST(Install, MovedInstallRunsAPresetFromItsOwnShare) {
  TempDir tmp("longpin-install");
  ASSERT_FALSE(tmp.path().empty());
  const std::string staged = tmp.File("staged"), moved = tmp.File("moved");
  const std::vector<std::string> install = {"cmake", "--install", LONGPIN_BUILD_DIR, "--prefix", staged};
  const CommandResult installed = RunTool(install);
  ASSERT_EQ(installed.exit_code, 0) << Describe(install, installed);

  // What the install must carry: the binary, every preset of the source tree, the qemu harness, the man page.
  const std::string presets = staged + "/share/longpin/presets";
  for (const auto& e : fs::directory_iterator(std::string(LONGPIN_SOURCE_DIR) + "/workloads/presets")) {
    if (e.path().extension() != ".toml") continue;
    EXPECT_TRUE(fs::exists(presets + "/" + e.path().filename().string())) << e.path() << " not installed";
  }
  EXPECT_TRUE(IsExecutable(staged + "/bin/longpin"));
  EXPECT_TRUE(IsExecutable(staged + "/share/longpin/vm/run"));
  EXPECT_TRUE(fs::exists(staged + "/share/longpin/vm/packages.txt"));
  EXPECT_TRUE(fs::exists(staged + "/share/man/man1/longpin.1"));

  // Proof that the moved binary reads its own presets and not the source tree's: one preset only the install
  // has, and one the source tree has that the install lost.
  {
    std::ifstream storm(presets + "/writeback-storm.toml");
    std::ofstream own(presets + "/staged-storm.toml");
    own << "# staged-storm: a preset only this install has\n" << storm.rdbuf();
  }
  ASSERT_TRUE(fs::remove(presets + "/split-page.toml"));
  std::error_code ec;
  fs::rename(staged, moved, ec);
  ASSERT_FALSE(ec) << "mv " << staged << " " << moved << ": " << ec.message();
  const std::string bin = moved + "/bin/longpin";

  const std::vector<std::string> list = {bin, "list", "workloads"};
  const CommandResult listed = RunTool(list);
  ASSERT_EQ(listed.exit_code, 0) << Describe(list, listed);
  const auto names = ListedWorkloads(listed.output);
  EXPECT_TRUE(Contains(names, "staged-storm")) << Describe(list, listed);
  EXPECT_TRUE(Contains(names, "pinned-redirty")) << Describe(list, listed);
  EXPECT_FALSE(Contains(names, "split-page")) << "read the source tree's presets\n" << Describe(list, listed);

  const std::string report = tmp.File("report.json");
  const std::vector<std::string> run = {
      bin,      "run",        "--workload", "staged-storm", "--fs", "dir:" + tmp.path(), "--size",
      "16M",    "--duration", "1s",         "--rounds",     "1",    "--workdir",         tmp.File("work"),
      "--json", report,       "--quiet"};
  const CommandResult ran = RunTool(run, 180);
  EXPECT_EQ(ran.exit_code, 0) << Describe(run, ran);
  auto doc = ReadJson(report);
  ASSERT_TRUE(doc) << "no report at " << report << "\n" << Describe(run, ran);
  EXPECT_EQ((*doc)["verdict"], "pass");
  EXPECT_EQ((*doc)["run"]["pinner"], "vmsplice") << "the preset's pinner";
}

std::optional<std::string> NeedDebTools() {
  for (const char* tool : {"cpack", "dpkg-deb", "dpkg-shlibdeps", "file", "readelf"})
    if (!HaveProgram(tool))
      return std::string(tool) + " not installed (dpkg-dev, file and binutils build the .deb)";
  return std::nullopt;
}

TEST(Install, DebDeclaresTheLibrariesPackagesAndRunsOnceExtracted) {
  if (auto why = NeedDebTools()) GTEST_SKIP() << *why;
  TempDir tmp("longpin-deb");
  ASSERT_FALSE(tmp.path().empty());
  const std::vector<std::string> cpack = {
      "cpack", "--config", std::string(LONGPIN_BUILD_DIR) + "/CPackConfig.cmake", "-G", "DEB",
      "-B",    tmp.path()};
  const CommandResult packed = RunTool(cpack, 400);
  ASSERT_EQ(packed.exit_code, 0) << Describe(cpack, packed);
  std::string deb;
  for (const auto& name : ListDir(tmp.path()))
    if (name.size() > 4 && name.substr(name.size() - 4) == ".deb") deb = tmp.File(name);
  ASSERT_FALSE(deb.empty()) << "no .deb in " << tmp.path() << "\n" << packed.output;

  const std::vector<std::string> fields = {"dpkg-deb",   "-f",         deb,      "Depends",
                                           "Recommends", "Maintainer", "Section"};
  const CommandResult control = RunTool(fields);
  ASSERT_EQ(control.exit_code, 0) << Describe(fields, control);
  EXPECT_NE(control.output.find("Maintainer: "), std::string::npos) << control.output;
  EXPECT_NE(control.output.find("Section: "), std::string::npos) << control.output;
  EXPECT_NE(control.output.find("qemu-system-x86"), std::string::npos) << control.output;

  // Each shared library the binary links must come out as its Debian package in Depends (dpkg-shlibdeps).
  const std::vector<std::string> needed = {"readelf", "-d", LongpinBinary()};
  const CommandResult elf = RunTool(needed);
  ASSERT_EQ(elf.exit_code, 0) << Describe(needed, elf);
  struct Library {
    const char* soname;
    const char* package;
  };
  int checked = 0;
  for (Library lib : {Library{"[libibverbs.so", "libibverbs1"}, Library{"[liburing.so", "liburing"},
                      Library{"[libfuse3.so", "libfuse3-"}, Library{"[libstdc++.so", "libstdc++6"}}) {
    if (elf.output.find(lib.soname) == std::string::npos) continue;
    ++checked;
    EXPECT_NE(control.output.find(lib.package), std::string::npos)
        << "the binary links " << lib.soname + 1 << " but Depends lacks " << lib.package << "\n"
        << control.output;
  }
  EXPECT_GE(checked, 2) << "liburing and libstdc++ are always linked\n" << elf.output;

  const std::string root = tmp.File("root");
  const std::vector<std::string> extract = {"dpkg-deb", "-x", deb, root};
  const CommandResult extracted = RunTool(extract);
  ASSERT_EQ(extracted.exit_code, 0) << Describe(extract, extracted);
  EXPECT_TRUE(fs::exists(root + "/usr/share/longpin/presets/pinned-redirty.toml"));
  EXPECT_TRUE(IsExecutable(root + "/usr/share/longpin/vm/run"));
  const std::vector<std::string> list = {root + "/usr/bin/longpin", "list"};
  const CommandResult listed = RunTool(list);
  EXPECT_EQ(listed.exit_code, 0) << Describe(list, listed);
  EXPECT_NE(listed.output.find("vmsplice"), std::string::npos) << Describe(list, listed);
  EXPECT_TRUE(Contains(ListedWorkloads(listed.output), "pinned-redirty")) << Describe(list, listed);
}

}  // namespace
}  // namespace longpin::it
