// `longpin run` end to end: a short run on loop ext4, xfs and btrfs passes with zero violations and a report
// that carries every key of the schema; bad input exits 2 with one line and creates nothing; SIGINT stops a
// run cleanly with exit 130 and a report.
#include <gtest/gtest.h>

#include "tests/integration/test_helpers.h"

namespace longpin {
namespace {

using nlohmann::json;
using namespace longpin::it;
using namespace std::chrono_literals;

// Keys every phase must carry, zeros where nothing happened (report/report_json.cc ReportDocument).
void ExpectPhaseSchema(const json& phase) {
  const std::string name = phase.value("name", "?");
  for (const char* key : {"name", "seconds", "sync", "writes", "pins", "sync_errors", "write_errors"})
    EXPECT_TRUE(phase.contains(key)) << "phase " << name << " lacks " << key;
  for (const char* op : {"fsync", "fdatasync", "msync", "sync_file_range", "syncfs"}) {
    ASSERT_TRUE(phase["sync"].contains(op)) << "phase " << name << " sync lacks " << op;
    for (const char* k : {"count", "min_ns", "p50_ns", "p90_ns", "p99_ns", "p999_ns", "max_ns"})
      EXPECT_TRUE(phase["sync"][op].contains(k)) << "phase " << name << " sync." << op << " lacks " << k;
  }
  for (const char* kind : {"cpu", "pwrite", "dma"})
    EXPECT_TRUE(phase["writes"].contains(kind)) << "phase " << name << " writes lacks " << kind;
  for (const char* k :
       {"pinner", "requested_pages", "granted_pages", "refused", "foll_pin_acquired", "foll_pin_released"})
    EXPECT_TRUE(phase["pins"].contains(k)) << "phase " << name << " pins lacks " << k;
}

void ExpectReportSchema(const json& r) {
  for (const char* key :
       {"schema_version", "verdict", "environment", "phases", "verification", "kernel_events", "hangs"})
    ASSERT_TRUE(r.contains(key)) << "report lacks " << key;
  for (const char* key : {"kernel", "fs", "root", "block_size", "target_size"})
    EXPECT_TRUE(r["environment"].contains(key)) << "environment lacks " << key;
  const json& v = r["verification"];
  ASSERT_TRUE(v.is_object()) << "no verification in the report";
  for (const char* key : {"mode", "checked_blocks", "kernel_contract", "strict_contract", "violations"})
    EXPECT_TRUE(v.contains(key)) << "verification lacks " << key;
  EXPECT_TRUE(v["kernel_contract"].contains("violations"));
  EXPECT_TRUE(v["strict_contract"].contains("misses"));
  EXPECT_TRUE(v["strict_contract"].contains("by_writer"));
  for (const auto& phase : r["phases"]) ExpectPhaseSchema(phase);
}

class ShortRun : public ::testing::TestWithParam<const char*> {};

TEST_P(ShortRun, PassesWithZeroViolations) {
  const std::string fs = GetParam();
  if (auto why = NeedFs(fs)) GTEST_SKIP() << *why;
  TempDir tmp;
  ASSERT_FALSE(tmp.path().empty());
  const std::string report = tmp.File("report.json");
  Outcome o = RunLongpin({"run", "--fs", fs, "--duration", "1s", "--size", "32M", "--json", report,
                          "--workdir", tmp.File("work")});
  EXPECT_EQ(o.exit_code, 0) << o.Describe();
  auto r = ReadJson(report);
  ASSERT_TRUE(r.has_value()) << "no JSON report at " << report << "\n" << o.Describe();
  EXPECT_EQ((*r)["verdict"], "pass") << r->dump(2);
  ExpectReportSchema(*r);
  EXPECT_EQ((*r)["schema_version"], 1);
  EXPECT_EQ((*r)["environment"]["fs"], fs);
  EXPECT_EQ((*r)["environment"]["target_size"], 32u << 20);
  EXPECT_EQ((*r)["verification"]["kernel_contract"]["violations"], 0);
  EXPECT_EQ((*r)["verification"]["checked_blocks"], (32u << 20) / 4096);

  // Four counterbalanced rounds by default (ABBA ABBA), and their comparison.
  ASSERT_EQ((*r)["phases"].size(), 8u);
  EXPECT_EQ((*r)["run"]["rounds"], 4);
  for (size_t i = 0; i < 8; ++i)
    EXPECT_EQ((*r)["phases"][i]["name"], i % 4 == 1 || i % 4 == 2 ? "pinned" : "baseline") << i;
  ASSERT_TRUE((*r)["comparison"].is_object()) << (*r)["comparison"].dump();
  EXPECT_EQ((*r)["comparison"]["op"], "fsync");
  for (const char* q : {"p50", "p99", "p999"}) {
    const auto& x = (*r)["comparison"][q];
    EXPECT_LE(x["ci95"][0].get<double>(), x["ci95"][1].get<double>()) << x.dump();
    EXPECT_GT(x["ratio"].get<double>(), 0.0) << x.dump();
  }
  EXPECT_TRUE((*r)["comparison"]["detectable"].is_boolean());
  for (const auto& phase : (*r)["phases"]) {
    EXPECT_GT(phase["writes"]["cpu"].get<uint64_t>(), 0u) << phase.dump(2);
    EXPECT_GT(phase["writes"]["pwrite"].get<uint64_t>(), 0u) << phase.dump(2);
    EXPECT_GT(phase["sync"]["fsync"]["count"].get<uint64_t>(), 0u) << phase.dump(2);
  }
  EXPECT_EQ((*r)["phases"][0]["pins"]["granted_pages"], 0) << "baseline holds no pins";
  EXPECT_GT((*r)["phases"][1]["pins"]["granted_pages"].get<uint64_t>(), 0u)
      << "the vmsplice pinner pinned nothing";

  EXPECT_EQ(Join(Leftovers(tmp.path())), "") << "a passing run leaves nothing behind";
}

INSTANTIATE_TEST_SUITE_P(Filesystems, ShortRun, ::testing::Values("ext4", "xfs", "btrfs"),
                         [](const ::testing::TestParamInfo<const char*>& param_info) {
                           return std::string(param_info.param);
                         });

// --sync fsync:each-write: fio's --fsync=1. Every write of a CPU or pwrite writer is followed by its own
// fsync in its thread (no syncer thread), so a phase has exactly as many syncs as writes, and each sync
// promises the write before it: the strict contract finds every one. One round, so each phase lasts the whole
// 1 s: paced at 2 x 200/s, a phase of the default 4 rounds (0.25 s) would hold at most 100 writes, whatever
// the machine.
TEST(RunSyncEachWrite, EveryWriteIsFollowedByItsOwnSync) {
  if (auto why = NeedFs("ext4")) GTEST_SKIP() << *why;
  TempDir tmp;
  ASSERT_FALSE(tmp.path().empty());
  const std::string report = tmp.File("report.json");
  Outcome o = RunLongpin({"run", "--sync", "fsync:each-write", "--writers", "cpu:1,pwrite:1", "--rate", "200",
                          "--rounds", "1", "--duration", "1s", "--size", "16M", "--json", report, "--workdir",
                          tmp.File("work")});
  ASSERT_EQ(o.exit_code, 0) << o.Describe();
  EXPECT_NE(o.out.find("sync fsync after each write"), std::string::npos) << o.out;
  auto r = ReadJson(report);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ((*r)["run"]["sync_each_write"], true);
  for (const auto& phase : (*r)["phases"]) {
    const uint64_t writes =
        phase["writes"]["cpu"].get<uint64_t>() + phase["writes"]["pwrite"].get<uint64_t>();
    EXPECT_GT(writes, 20u) << phase.dump(
        2);  // enough to mean something; each write costs an fsync under load
    EXPECT_EQ(phase["sync"]["fsync"]["count"].get<uint64_t>(), writes) << phase.dump(2);
  }
  for (const char* kind : {"cpu", "pwrite"}) {
    const auto& w = (*r)["verification"]["strict_contract"]["by_writer"][kind];
    EXPECT_GT(w["promised"].get<uint64_t>(), 0u) << kind;
    EXPECT_EQ(w["found"], w["promised"]) << kind;
  }
  EXPECT_EQ(Join(Leftovers(tmp.path())), "");
}

struct BadInput {
  const char* name;
  std::vector<std::string> args;
  int exit_code;
};

TEST(RunBadInput, OneLineExitTwoAndNothingCreated) {
  TempDir tmp;
  ASSERT_FALSE(tmp.path().empty());
  const std::string work = tmp.File("work");
  const std::string report = tmp.File("report.json");
  const BadInput cases[] = {
      {"unknown option", {"--bogus"}, 2},
      {"malformed size", {"--size", "12Q"}, 2},
      {"block size not a power of two", {"--block-size", "3000"}, 2},
      {"block size too large", {"--block-size", "4M"}, 2},
      {"duration zero", {"--duration", "0"}, 2},
      {"negative duration", {"--duration=-2s"}, 2},
      {"missing dir", {"--fs", "dir:/nonexistent/longpin"}, 2},
      {"unknown fs", {"--fs", "zfs"}, 2},
      {"bad writers", {"--writers", "gpu:2"}, 2},
      {"bad sync", {"--sync", "fsync:never"}, 2},
      {"bad sync schedule", {"--sync", "fsync:each"}, 2},
      {"bad phases", {"--phases", "warmup"}, 2},
      {"larger than free space", {"--size", "1024T"}, 2},
      {"unknown pinner", {"--pinner", "no-such-pinner"}, 2},
  };
  for (const BadInput& c : cases) {
    std::vector<std::string> args = {"run", "--workdir", work, "--json", report};
    args.insert(args.end(), c.args.begin(), c.args.end());
    Outcome o = RunLongpin(args, 30s);
    EXPECT_EQ(o.exit_code, c.exit_code) << c.name << "\n" << o.Describe();
    EXPECT_EQ(CountLines(o.err), 1u) << c.name << ": want exactly one line on stderr\n" << o.Describe();
    EXPECT_EQ(o.err.find("terminate called"), std::string::npos) << c.name;
    EXPECT_TRUE(RunDirsUnder(work).empty()) << c.name << ": created " << Join(RunDirsUnder(work));
  }
  EXPECT_EQ(Join(Leftovers(tmp.path())), "");
}

TEST(RunBadInput, UnavailablePinnerIsCannotRunHere) {
  Outcome list = RunLongpin({"list", "pinners"}, 30s);
  ASSERT_EQ(list.exit_code, 0) << list.Describe();
  // Take a registered pinner this machine cannot use (rdma without a device, cuda without a GPU).
  std::string unavailable;
  std::istringstream lines(list.out);
  for (std::string line; std::getline(lines, line);) {
    std::istringstream words(line);
    std::string name, state;
    words >> name >> state;
    if (state == "unavailable") {
      unavailable = name;
      break;
    }
  }
  if (unavailable.empty()) GTEST_SKIP() << "every registered pinner is available here";
  TempDir tmp;
  Outcome o = RunLongpin({"run", "--fs", "dir:" + tmp.path(), "--pinner", unavailable, "--duration", "1s",
                          "--size", "4M", "--workdir", tmp.File("work")},
                         60s);
  EXPECT_EQ(o.exit_code, 77) << "pinner " << unavailable << "\n" << o.Describe();
  EXPECT_NE(o.err.find(unavailable), std::string::npos) << "stderr must say which pinner and why\n"
                                                        << o.Describe();
  EXPECT_EQ(Join(Leftovers(tmp.path())), "");
  for (const auto& name : ListDir(tmp.path()))
    EXPECT_EQ(name.rfind("longpin-target-", 0), std::string::npos) << "left a target behind: " << name;
}

TEST(RunInterrupt, SigintStopsTheRunWritesTheReportAndCleansUp) {
  if (auto why = NeedFs("ext4")) GTEST_SKIP() << *why;
  TempDir tmp;
  ASSERT_FALSE(tmp.path().empty());
  const std::string work = tmp.File("work");
  const std::string report = tmp.File("report.json");
  Process p(
      {"run", "--fs", "ext4", "--duration", "30s", "--size", "32M", "--json", report, "--workdir", work});
  ASSERT_TRUE(p.started());
  // Wait for the run to be under way (its run directory exists), then let it work a little.
  for (int i = 0; i < 100 && RunDirsUnder(work).empty(); ++i) std::this_thread::sleep_for(50ms);
  ASSERT_FALSE(RunDirsUnder(work).empty()) << "the run never started";
  std::this_thread::sleep_for(2s);
  const auto t0 = std::chrono::steady_clock::now();
  p.Signal(SIGINT);
  Outcome o = p.Wait(60s);
  const double stop_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_FALSE(o.timed_out) << o.Describe();
  EXPECT_EQ(o.exit_code, 130) << o.Describe();
  EXPECT_LT(stop_s, 20.0) << "SIGINT took " << stop_s << " s to stop the run";
  auto r = ReadJson(report);
  ASSERT_TRUE(r.has_value()) << "no JSON report after SIGINT\n" << o.Describe();
  EXPECT_EQ((*r)["run"]["interrupted"], true) << r->dump(2);
  EXPECT_EQ((*r)["verdict"], "interrupted") << "what did not run cannot pass";
  EXPECT_NE(o.out.find("verdict: interrupted"), std::string::npos) << o.out;
  EXPECT_EQ((*r)["verification"]["kernel_contract"]["violations"], 0) << r->dump(2);
  EXPECT_FALSE((*r)["phases"].empty());
  for (const auto& phase : (*r)["phases"]) ExpectPhaseSchema(phase);
  EXPECT_EQ(Join(Leftovers(tmp.path())), "") << o.Describe();
}

}  // namespace
}  // namespace longpin

namespace longpin::it {
namespace {

// /dev/kmsg is system-wide: a filesystem error on another run's device (here a loop device over a file of the
// test's own) is shown in the report as another device's, never fails this run, and is never "expected".
TEST(RunKernelLines, AnotherDevicesLinesAreNotThisRunsFindings) {
  if (auto why = NeedFs("ext4")) GTEST_SKIP() << *why;
  TempDir tmp;
  const std::string image = tmp.File("other.img");
  std::ofstream(image).close();
  ASSERT_EQ(::truncate(image.c_str(), 16 << 20), 0);
  FILE* losetup = ::popen(("losetup -f --show " + image).c_str(), "r");
  ASSERT_NE(losetup, nullptr);
  char dev[64] = {};
  const bool attached = std::fgets(dev, sizeof dev, losetup) != nullptr;
  ::pclose(losetup);
  ASSERT_TRUE(attached) << "losetup -f --show " << image;
  std::string loop(dev);
  while (!loop.empty() && loop.back() == '\n') loop.pop_back();
  const std::string name = loop.substr(loop.rfind('/') + 1);
  const std::string report = tmp.File("r.json");
  Process p({"run", "--fs", "ext4", "--duration", "3s", "--rounds", "1", "--size", "16M", "--json", report,
             "--workdir", tmp.File("work"), "--quiet"});
  // Well inside the phases (6 s), after the monitor started (it reads from the end of the log at its start).
  std::this_thread::sleep_for(std::chrono::milliseconds(3000));
  for (const std::string& line : {"<3>EXT4-fs error (device " + name + "): longpin test: another run's error",
                                  "<6>EXT4-fs (" + name + "): shut down requested (2)"}) {
    // With its newline: the kernel keeps an unterminated record open for a continuation, unseen by readers.
    std::ofstream kmsg("/dev/kmsg");
    kmsg << line << "\n" << std::flush;
  }
  Outcome o = p.Wait(std::chrono::seconds(120));
  EXPECT_EQ(::system(("losetup -d " + loop).c_str()), 0);
  EXPECT_EQ(o.exit_code, 0) << o.Describe();
  auto r = ReadJson(report);
  ASSERT_TRUE(r.has_value()) << o.Describe();
  int seen = 0;
  for (const auto& e : (*r)["kernel_events"]) {
    if (e["device"] != name) continue;
    ++seen;
    EXPECT_EQ(e["class"], "another device's") << e.dump();
    EXPECT_EQ(e["alarm"], false) << e.dump();
  }
  EXPECT_EQ(seen, 2) << (*r)["kernel_events"].dump(2);
}

}  // namespace
}  // namespace longpin::it
