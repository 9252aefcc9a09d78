// --crash log-writes: the replay reader on a log written here in the documented dm-log-writes format; the
// clear refusal where the kernel has no dm-log-writes; and the real crash model in the 6.1 guest (vm/run).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <vector>

#include "core/subprocess.h"
#include "crash/dm_log_writes.h"
#include "crash/log_writes_replay.h"
#include "tests/integration/test_helpers.h"

namespace longpin {
namespace {

// Writes a log the way drivers/md/dm-log-writes.c lays it out (super block, one sector per entry, the data
// after it), from a list of entries.
class LogBuilder {
 public:
  explicit LogBuilder(uint32_t sector) : sector_(sector) {}
  void Write(uint64_t sector, const std::string& data, uint64_t flags = 0) {
    Entry(sector, data.size() / sector_, flags, 0, "");
    bytes_ += data;
  }
  void Discard(uint64_t sector, uint64_t nr) { Entry(sector, nr, kLogWritesDiscard, 0, ""); }
  void Flush() { Entry(0, 0, kLogWritesFlush, 0, ""); }
  void Mark(const std::string& label) { Entry(0, 0, kLogWritesMark, label.size(), label); }
  std::string Build() const {
    std::string super(sector_, '\0');
    Put64(&super[0], kLogWritesMagic);
    Put64(&super[8], 1);
    Put64(&super[16], entries_);
    const uint32_t s = sector_;
    std::memcpy(&super[24], &s, 4);
    return super + bytes_;
  }

 private:
  static void Put64(char* p, uint64_t v) { std::memcpy(p, &v, 8); }  // little-endian host
  void Entry(uint64_t sector, uint64_t nr, uint64_t flags, uint64_t len, const std::string& label) {
    std::string e(sector_, '\0');
    Put64(&e[0], sector);
    Put64(&e[8], nr);
    Put64(&e[16], flags);
    Put64(&e[24], len);
    std::memcpy(&e[32], label.data(), label.size());
    bytes_ += e;
    ++entries_;
  }
  uint32_t sector_;
  uint64_t entries_ = 0;
  std::string bytes_;
};

std::string ReadAll(const std::string& path) {
  std::string out;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  char buf[4096];
  ssize_t n;
  while (fd >= 0 && (n = ::read(fd, buf, sizeof buf)) > 0) out.append(buf, size_t(n));
  if (fd >= 0) ::close(fd);
  return out;
}

void WriteAll(const std::string& path, const std::string& data) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::write(fd, data.data(), data.size()), ssize_t(data.size()));
  ::close(fd);
}

TEST(LogWritesReplay, IndexesAndReplaysToEachMarkInOrder) {
  it::TempDir dir;
  LogBuilder b(4096);
  b.Write(2, std::string(8192, 'a'));
  b.Flush();
  b.Mark("longpin-sync-1");
  b.Write(3, std::string(4096, 'b'), kLogWritesFua);
  b.Discard(2, 1);
  b.Mark("longpin-sync-2");
  b.Mark(kLogWritesEndMark);
  WriteAll(dir.File("log"), b.Build());

  auto idx = IndexLogWrites(dir.File("log"));
  ASSERT_TRUE(idx.ok()) << idx.status().message();
  EXPECT_EQ(idx->sector_size, 4096u);
  ASSERT_EQ(idx->entries.size(), 7u);
  EXPECT_TRUE(idx->complete);
  EXPECT_EQ(idx->entries[2].mark, "longpin-sync-1");
  EXPECT_EQ(idx->entries[0].nr_sectors, 2u);

  int log = ::open(dir.File("log").c_str(), O_RDONLY | O_CLOEXEC);
  int img = ::open(dir.File("img").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  ASSERT_EQ(::ftruncate(img, 6 * 4096), 0);
  // Up to the first mark: sectors 2 and 3 hold 'a'.
  ASSERT_TRUE(ApplyLogWrites(log, *idx, 0, 2, img).ok());
  std::string state = ReadAll(dir.File("img"));
  EXPECT_EQ(state.substr(2 * 4096, 8192), std::string(8192, 'a'));
  EXPECT_EQ(state.substr(0, 8192), std::string(8192, '\0'));
  // To the second: sector 3 rewritten with 'b', sector 2 discarded (zeros).
  ASSERT_TRUE(ApplyLogWrites(log, *idx, 3, 5, img).ok());
  state = ReadAll(dir.File("img"));
  EXPECT_EQ(state.substr(2 * 4096, 4096), std::string(4096, '\0'));
  EXPECT_EQ(state.substr(3 * 4096, 4096), std::string(4096, 'b'));
  ::close(log);
  ::close(img);
}

TEST(LogWritesReplay, RefusesTruncatedAndForeignLogs) {
  it::TempDir dir;
  LogBuilder b(512);
  b.Write(0, std::string(1024, 'x'));
  b.Mark("m");
  std::string log = b.Build();
  WriteAll(dir.File("short"), log.substr(0, log.size() - 700));  // the write's data cut
  auto idx = IndexLogWrites(dir.File("short"));
  EXPECT_FALSE(idx.ok());
  EXPECT_NE(idx.status().message().find("log entry 0"), std::string::npos) << idx.status().message();
  WriteAll(dir.File("foreign"), std::string(4096, 'z'));
  auto foreign = IndexLogWrites(dir.File("foreign"));
  ASSERT_FALSE(foreign.ok());
  EXPECT_NE(foreign.status().message().find("not a dm-log-writes log"), std::string::npos);
  WriteAll(dir.File("noend"), log);
  auto noend = IndexLogWrites(dir.File("noend"));
  ASSERT_TRUE(noend.ok());
  EXPECT_FALSE(
      noend->complete);  // no end mark: the run's log device filled up, or the device was not removed
}

// Where the kernel has no dm-log-writes (this project's host), the run says so in one line and exits 77.
TEST(LogWritesRun, WithoutDmLogWritesExits77WithOneLine) {
  if (auto why = it::NeedFs("xfs")) GTEST_SKIP() << *why;
  if (!DmLogWritesUnavailableReason())
    GTEST_SKIP() << "this kernel has dm-log-writes: the VM test covers the real run";
  it::TempDir work;
  it::Outcome o = it::RunLongpin({"run", "--crash", "log-writes", "--fs", "xfs", "--size", "8M", "--duration",
                                  "200ms", "--quiet", "--workdir", work.path()});
  EXPECT_EQ(o.exit_code, 77) << o.Describe();
  EXPECT_EQ(it::CountLines(o.err), 1u) << o.Describe();
  EXPECT_NE(o.err.find("dm-log-writes not available: "), std::string::npos) << o.Describe();
  EXPECT_TRUE(it::Leftovers(work.path()).empty()) << it::Join(it::Leftovers(work.path()));
}

TEST(LogWritesRun, RefusesANonScratchTarget) {
  it::TempDir work;
  it::Outcome o =
      it::RunLongpin({"run", "--crash", "log-writes", "--fs", "dir:" + work.path(), "--duration", "100ms"});
  EXPECT_EQ(o.exit_code, 2) << o.Describe();
  EXPECT_NE(o.err.find("--crash log-writes: needs a scratch filesystem"), std::string::npos) << o.Describe();
}

// The real crash model under Debian's 6.1 kernel: every mark checked, zero kernel-contract violations.
TEST(LogWritesRun, EveryMarkCheckedUnderTheSixOneGuest) {
  if (auto why = it::NeedRoot()) GTEST_SKIP() << *why;
  if (!HaveProgram("qemu-system-x86_64")) GTEST_SKIP() << "no qemu-system-x86_64 (install qemu-system-x86)";
  const std::string run = std::string(LONGPIN_SOURCE_DIR) + "/vm/run";
  const char* cache_env = std::getenv("LONGPIN_VM_CACHE");
  const std::string cache = cache_env && *cache_env ? cache_env : "/var/cache/longpin-vm";
  struct stat st {};
  if (::stat((cache + "/debian-6.1").c_str(), &st) != 0)
    GTEST_SKIP() << "the 6.1 kernel is not cached in " << cache << " (vm/run --fetch-only fetches it)";
  it::TempDir results;
  const std::string json = results.File("report.json");
  auto r = RunCommand({run,         "--load",       "xfs",   "--timeout",    "500",
                       "--results", results.path(), "--",    LONGPIN_BINARY, "run",
                       "--crash",   "log-writes",   "--fs",  "xfs",          "--size",
                       "16M",       "--duration",   "500ms", "--sync",       "fsync:250ms",
                       "--quiet",   "--json",       json},
                      560);
  ASSERT_TRUE(r.ok()) << r.status().message();
  if (r->exit_code == 77) GTEST_SKIP() << "vm/run: " << LastLine(r->output);
  auto doc = it::ReadJson(json);
  ASSERT_TRUE(doc) << "no report; vm/run exit " << r->exit_code << ": " << r->output;
  EXPECT_EQ(r->exit_code, 0) << r->output;
  EXPECT_EQ((*doc)["verdict"], "pass") << r->output;
  EXPECT_EQ((*doc)["verification"]["kernel_contract"]["violations"], 0);
  std::string note;
  for (const auto& n : (*doc)["notes"])
    if (n.get<std::string>().rfind("log-writes:", 0) == 0) note = n.get<std::string>();
  unsigned placed = 0, checked = 0;
  ASSERT_EQ(std::sscanf(note.c_str(), "log-writes: %u mark(s) placed", &placed), 1) << note;
  const auto at = note.find(" per mark); ");
  ASSERT_NE(at, std::string::npos) << note;
  ASSERT_EQ(std::sscanf(note.c_str() + at + 12, "%u crash state", &checked), 1) << note;
  EXPECT_GT(placed, 0u) << note;
  EXPECT_EQ(placed, checked) << note;
}

}  // namespace
}  // namespace longpin
