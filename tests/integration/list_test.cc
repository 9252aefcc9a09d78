// `longpin list mappings` says for each mapping whether this machine can give it and, when not, what to do;
// and `longpin list pinners` shows the pin kind a run measured on this kernel (core/measured_pin_kinds.h).
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/utsname.h>

#include <cstdlib>
#include <fstream>
#include <map>

#include "core/measured_pin_kinds.h"
#include "tests/integration/test_helpers.h"

namespace longpin::it {
namespace {

using namespace std::chrono_literals;

// Sets an environment variable for this process and the longpin processes it starts, and puts it back.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::string& value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    ::setenv(name, value.c_str(), 1);
  }
  ~ScopedEnv() {
    if (old_) ::setenv(name_, old_->c_str(), 1);
    else ::unsetenv(name_);
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* name_;
  std::optional<std::string> old_;
};

// "name state rest of the line" of each indented line of a `longpin list` section.
std::map<std::string, std::pair<std::string, std::string>> ListLines(const std::string& out) {
  std::map<std::string, std::pair<std::string, std::string>> lines;
  std::istringstream in(out);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("  ", 0) != 0) continue;
    std::istringstream words(line);
    std::string name, state, rest;
    words >> name >> state;
    std::getline(words, rest);
    lines[name] = {state, rest};
  }
  return lines;
}

std::string Release() {
  utsname u{};
  ::uname(&u);
  return u.release;
}

uint64_t FreeHugePages() {
  std::ifstream f("/proc/meminfo");
  for (std::string line; std::getline(f, line);)
    if (line.rfind("HugePages_Free:", 0) == 0) return std::stoull(line.substr(15));
  return 0;
}

TEST(ListMappings, EveryMappingWithWhetherItIsUsableHere) {
  Outcome o = RunLongpin({"list", "mappings"}, 30s);
  ASSERT_EQ(o.exit_code, 0) << o.Describe();
  auto lines = ListLines(o.out);
  for (const char* m : {"shared", "private", "memfd", "thp", "hugetlb"}) {
    ASSERT_TRUE(lines.count(m)) << m << " not listed\n" << o.out;
    EXPECT_TRUE(lines[m].first == "available" || lines[m].first == "unavailable")
        << m << ": " << lines[m].first;
    EXPECT_GT(lines[m].second.size(), 10u) << m << ": no detail or reason\n" << o.out;
  }
  EXPECT_EQ(lines["shared"].first, "available");
  EXPECT_EQ(lines["private"].first, "available");

  // The same checks the list makes, made here independently.
  const int fd = ::memfd_create("list-test", MFD_CLOEXEC);
  EXPECT_EQ(lines["memfd"].first, fd >= 0 ? "available" : "unavailable") << o.out;
  if (fd >= 0) ::close(fd);
  const bool hugetlb_usable = ::geteuid() == 0 && FreeHugePages() > 0;
  EXPECT_EQ(lines["hugetlb"].first, hugetlb_usable ? "available" : "unavailable") << o.out;
  if (::geteuid() == 0 && FreeHugePages() == 0) {
    EXPECT_NE(lines["hugetlb"].second.find("/proc/sys/vm/nr_hugepages"), std::string::npos)
        << "say how to reserve huge pages\n"
        << o.out;
  }
  std::ifstream shmem("/sys/kernel/mm/transparent_hugepage/shmem_enabled");
  std::string switches;
  std::getline(shmem, switches);
  const bool thp_denied = switches.find("[deny]") != std::string::npos || switches.empty();
  if (thp_denied || ::geteuid() == 0) {
    EXPECT_EQ(lines["thp"].first, thp_denied ? "unavailable" : "available") << switches << "\n" << o.out;
  }
}

TEST(ListMappings, ListWithoutWhatHasTheMappingsAndAnUnknownListSaysWhichExist) {
  Outcome all = RunLongpin({"list"}, 30s);
  ASSERT_EQ(all.exit_code, 0) << all.Describe();
  EXPECT_NE(all.out.find("\nmappings"), std::string::npos) << all.out;
  Outcome bad = RunLongpin({"list", "mapings"}, 30s);
  EXPECT_EQ(bad.exit_code, 2) << bad.Describe();
  EXPECT_NE(bad.err.find("mappings"), std::string::npos) << bad.Describe();
}

// The "measured here" column of the vmsplice line, as printed.
std::string MeasuredColumnOf(const std::string& pinner) {
  Outcome o = RunLongpin({"list", "pinners"}, 30s);
  EXPECT_EQ(o.exit_code, 0) << o.Describe();
  auto lines = ListLines(o.out);
  return lines.count(pinner) ? lines[pinner].second : "(not listed)\n" + o.out;
}

TEST(ListPinners, ShowsThePinKindARunMeasuredOnThisKernel) {
  TempDir tmp;
  ASSERT_FALSE(tmp.path().empty());
  ScopedEnv state("LONGPIN_STATE_DIR", tmp.File("state"));
  EXPECT_NE(MeasuredColumnOf("vmsplice").find("not yet measured"), std::string::npos);

  const std::string report = tmp.File("report.json");
  Outcome run =
      RunLongpin({"run", "--pinner", "vmsplice", "--fs", "dir:" + tmp.path(), "--size", "16M", "--duration",
                  "1s", "--rounds", "1", "--workdir", tmp.File("work"), "--json", report, "--quiet"},
                 120s);
  ASSERT_EQ(run.exit_code, 0) << run.Describe();
  auto doc = ReadJson(report);
  ASSERT_TRUE(doc) << run.Describe();
  std::string measured;
  for (const auto& ph : (*doc)["phases"])
    if (ph["name"] == "pinned") measured = ph["pins"]["measured_reference"];
  const std::string column = MeasuredColumnOf("vmsplice");
  if (measured != "FOLL_PIN" && measured != "FOLL_GET/none") {
    EXPECT_NE(column.find("not yet measured"), std::string::npos)
        << "nothing measured, nothing to show: " << column;
    GTEST_SKIP() << "the pinned phase measured no pin kind here (" << measured
                 << "): the pin counters of /proc/vmstat need root and /proc/sys/vm/stat_refresh";
  }
  EXPECT_NE(column.find(measured + " (" + Release() + ", "), std::string::npos)
      << "want " << measured << " on " << Release() << ", got: " << column;
  EXPECT_TRUE(std::ifstream(tmp.File("state/pin-kinds.json")).good());
  EXPECT_NE(MeasuredColumnOf("io_uring").find("not yet measured"), std::string::npos) << "only vmsplice ran";
}

TEST(MeasuredPinKinds, KeepsAnswersPerKernelAndIgnoresNonAnswers) {
  TempDir tmp;
  ScopedEnv state("LONGPIN_STATE_DIR", tmp.File("deeper/state"));
  EXPECT_EQ(MeasuredPinKindsPath(), tmp.File("deeper/state/pin-kinds.json"));
  RecordMeasuredPinKind("vmsplice", "FOLL_GET/none", "6.1.0-test");
  RecordMeasuredPinKind("odirect", "FOLL_PIN", "6.1.0-test");
  RecordMeasuredPinKind("odirect", "FOLL_GET/none", "6.12.0-test");
  RecordMeasuredPinKind("vmsplice", "unclear", "6.1.0-test");     // a non-answer never replaces an answer
  RecordMeasuredPinKind("io_uring", "unmeasured", "6.1.0-test");  // nor is one kept
  auto v = LookupMeasuredPinKind("vmsplice", "6.1.0-test");
  ASSERT_TRUE(v);
  EXPECT_EQ(v->kind, "FOLL_GET/none");
  EXPECT_EQ(v->date.size(), 10u) << v->date;
  ASSERT_TRUE(LookupMeasuredPinKind("odirect", "6.1.0-test"));
  EXPECT_EQ(LookupMeasuredPinKind("odirect", "6.1.0-test")->kind, "FOLL_PIN");
  ASSERT_TRUE(LookupMeasuredPinKind("odirect", "6.12.0-test"));
  EXPECT_EQ(LookupMeasuredPinKind("odirect", "6.12.0-test")->kind, "FOLL_GET/none");
  EXPECT_FALSE(LookupMeasuredPinKind("io_uring", "6.1.0-test"));
  EXPECT_FALSE(LookupMeasuredPinKind("vmsplice", "6.12.0-test"));
  // Replaced by rename: no temporary file stays behind.
  EXPECT_EQ(ListDir(tmp.File("deeper/state")), std::vector<std::string>{"pin-kinds.json"});
}

TEST(MeasuredPinKinds, AStoreThatCannotBeReadOrWrittenNeverFailsARun) {
  TempDir tmp;
  ASSERT_FALSE(tmp.path().empty());
  // Damaged: read as empty, then replaced by the next record.
  {
    ScopedEnv state("LONGPIN_STATE_DIR", tmp.File("damaged"));
    ::mkdir(tmp.File("damaged").c_str(), 0755);
    std::ofstream(tmp.File("damaged/pin-kinds.json")) << "{\"schema_version\": 1, \"kernels\": {\"6.1\": [";
    EXPECT_FALSE(LookupMeasuredPinKind("vmsplice", "6.1"));
    RecordMeasuredPinKind("vmsplice", "FOLL_GET/none", "6.1");
    ASSERT_TRUE(LookupMeasuredPinKind("vmsplice", "6.1"));
    std::ofstream(tmp.File("damaged/pin-kinds.json")) << "{\"schema_version\": 1, \"kernels\": {\"6.1\": 7}}";
    EXPECT_FALSE(LookupMeasuredPinKind("vmsplice", "6.1"));
    RecordMeasuredPinKind("vmsplice", "FOLL_PIN", "6.1");
    ASSERT_TRUE(LookupMeasuredPinKind("vmsplice", "6.1"));
    EXPECT_EQ(LookupMeasuredPinKind("vmsplice", "6.1")->kind, "FOLL_PIN");
  }
  // Unwritable: the state directory's place is taken by a file; the run passes and the list says nothing yet.
  std::ofstream(tmp.File("a-file")) << "not a directory\n";
  ScopedEnv state("LONGPIN_STATE_DIR", tmp.File("a-file/state"));
  Outcome run = RunLongpin({"run", "--pinner", "vmsplice", "--fs", "dir:" + tmp.path(), "--size", "8M",
                            "--duration", "1s", "--rounds", "1", "--workdir", tmp.File("work"), "--quiet"},
                           120s);
  EXPECT_EQ(run.exit_code, 0) << run.Describe();
  EXPECT_EQ(run.err.find("pin-kinds"), std::string::npos) << run.Describe();
  EXPECT_NE(MeasuredColumnOf("vmsplice").find("not yet measured"), std::string::npos);
}

}  // namespace
}  // namespace longpin::it
