// ClassifyKernelLine: the lines of shared/KERNEL_NOTES.md fall in their class, longpin's own shutdown lines
// are "expected" (never an alarm), and ordinary chatter is ignored.
#include "core/kernel_log.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "tests/temp_dir.h"

namespace longpin {
namespace {

struct Case {
  const char* line;
  KernelEventClass cls;
};

TEST(KernelLog, LinesWorthFlaggingAreClassified) {
  const Case cases[] = {
      {"EXT4-fs warning (device loop3): ext4_writepage:2096: page 17 does not have buffers attached",
       KernelEventClass::kDataRisk},
      {"EXT4-fs warning (device loop0): mpage_prepare_extent_to_map:2547: inode #12: comm kworker/u4:1: "
       "page 0 does not have buffers attached",
       KernelEventClass::kDataRisk},
      {"Page cache invalidation failure on direct I/O.  Possible data corruption due to collision with "
       "buffered I/O!",
       KernelEventClass::kDataRisk},
      {"WARNING: CPU: 1 PID: 4242 at fs/ext4/inode.c:3619 ext4_dirty_folio+0x41/0x50",
       KernelEventClass::kWarning},
      {"WARNING: CPU: 0 PID: 91 at fs/ext4/inode.c:3588 ext4_set_page_dirty+0x3a/0x60",
       KernelEventClass::kWarning},
      {"WARNING: CPU: 0 PID: 77 at fs/iomap/buffered-io.c:1800 iomap_writepage_map+0x5c/0x400",
       KernelEventClass::kWarning},
      {"WARNING: CPU: 1 PID: 12 at mm/gup.c:2201 try_grab_folio+0x1a0/0x1c0", KernelEventClass::kWarning},
      {"WARNING: CPU: 1 PID: 12 at mm/page-writeback.c:2893 folio_mark_dirty+0x50/0x60",
       KernelEventClass::kWarning},
      {"kernel BUG at fs/ext4/inode.c:2716!", KernelEventClass::kBug},
      {"BUG: Bad page state in process longpin  pfn:1a2b3", KernelEventClass::kBug},
      {"BUG: unable to handle page fault for address: ffff888000000000", KernelEventClass::kBug},
      {"Oops: general protection fault, probably for non-canonical address 0xdead000000000100: 0000 [#1] SMP",
       KernelEventClass::kOops},
      {"INFO: task kworker/u4:2:123 blocked for more than 120 seconds.", KernelEventClass::kHungTask},
      {"INFO: task longpin:4711 blocked for more than 30 seconds.", KernelEventClass::kHungTask},
      {"EXT4-fs error (device loop0): ext4_find_entry:1455: inode #2: comm ls: reading directory lblock 0",
       KernelEventClass::kFsError},
      {"XFS (loop1): Corruption detected. Unmount and run xfs_repair", KernelEventClass::kFsError},
      {"BTRFS error (device loop2): bdev /dev/loop2 errs: wr 1, rd 0, flush 0, corrupt 0, gen 0",
       KernelEventClass::kFsError},
      {"BTRFS critical (device loop2): corrupt leaf: root=5 block=30457856 slot=0",
       KernelEventClass::kFsError},
  };
  for (const Case& c : cases) {
    auto got = ClassifyKernelLine(c.line);
    ASSERT_TRUE(got.has_value()) << "not flagged: " << c.line;
    EXPECT_EQ(*got, c.cls) << c.line << " classified " << KernelEventClassName(*got) << ", want "
                           << KernelEventClassName(c.cls);
    KernelEvent e;
    e.cls = *got;
    e.line = c.line;
    EXPECT_TRUE(e.alarm()) << c.line;
  }
}

TEST(KernelLog, OwnShutdownLinesAreExpectedNotAlarms) {
  for (const char* line :
       {"EXT4-fs (loop0): shut down requested (2)", "XFS (loop1): User initiated shutdown received.",
        "XFS (loop1): User initiated shutdown (0x2) received. Shutting down filesystem",
        "XFS (loop1): Log I/O error (0x6) detected at xfs_fs_goingdown+0x7a/0xa0",
        "XFS (loop1): Please unmount the filesystem and rectify the problem(s)"}) {
    auto got = ClassifyKernelLine(line);
    ASSERT_TRUE(got.has_value()) << line;
    EXPECT_EQ(*got, KernelEventClass::kExpected) << line << " classified " << KernelEventClassName(*got);
    KernelEvent e;
    e.cls = *got;
    EXPECT_FALSE(e.alarm());
  }
}

TEST(KernelLog, OrdinaryLinesAreIgnored) {
  for (const char* line :
       {"EXT4-fs (loop0): mounted filesystem 5e3f r/w with ordered data mode. Quota mode: none.",
        "EXT4-fs (loop0): unmounting filesystem 5e3f.", "loop0: detected capacity change from 0 to 2097152",
        "XFS (loop1): Mounting V5 Filesystem 0f1e", "XFS (loop1): Ending clean mount",
        "BTRFS info (device loop2): first mount of filesystem 1234",
        "BTRFS: device fsid 1234 devid 1 transid 6 /dev/loop2 scanned by mount (42)",
        "audit: type=1400 audit(0.0:1): apparmor=\"STATUS\"", "",
        "a process named WARNINGS printed nothing"}) {
    auto got = ClassifyKernelLine(line);
    EXPECT_FALSE(got.has_value()) << "flagged as " << (got ? KernelEventClassName(*got) : "") << ": " << line;
  }
}

TEST(KernelLog, ClassNames) {
  EXPECT_STREQ(KernelEventClassName(KernelEventClass::kBug), "bug");
  EXPECT_STREQ(KernelEventClassName(KernelEventClass::kHungTask), "hung_task");
  EXPECT_STREQ(KernelEventClassName(KernelEventClass::kExpected), "expected");
  EXPECT_STREQ(KernelEventClassName(KernelEventClass::kDataRisk), "data_risk");
}

// KernelLogParser: /dev/kmsg is system-wide, so each event carries the task the kernel named and whether it
// is this run's. The records are in the format of /dev/kmsg; the task tests use a fixed "ours" set.
bool PidIs4242(int pid) {
  return pid == 4242;
}

TEST(KernelLogParser, WarningTakesItsPidFromItsLineAndItsNameFromTheTaskRecord) {
  KernelLogParser p(PidIs4242);
  EXPECT_TRUE(p.Feed("4,1001,5000000,-;WARNING: CPU: 1 PID: 777 at mm/gup.c:2456 __get_user_pages+0x1/0x2"));
  EXPECT_FALSE(p.Feed("4,1002,5000001,c;Modules linked in:"));
  EXPECT_TRUE(p.Feed("4,1003,5000002,c;CPU: 1 UID: 0 PID: 777 Comm: stress-ng Not tainted 6.18.44 #1"));
  ASSERT_EQ(p.events().size(), 1u);
  const KernelEvent& e = p.events()[0];
  EXPECT_EQ(e.cls, KernelEventClass::kWarning);
  EXPECT_EQ(e.pid, 777);
  EXPECT_EQ(e.comm, "stress-ng");
  EXPECT_EQ(e.origin, "other process");
  EXPECT_EQ(e.usec, 5000000u);
  EXPECT_EQ(e.TaskSuffix(), " (PID 777 stress-ng, other process)");
}

TEST(KernelLogParser, BugWithoutPidInItsLineIsNamedByTheTaskRecord) {
  KernelLogParser p(PidIs4242);
  p.Feed("0,7,100,-;BUG: Bad page state in process longpin  pfn:1234");
  p.Feed("0,8,101,c;page: refcount:0 mapcount:0 mapping:0000000000000000");
  p.Feed("4,9,102,c;CPU: 0 PID: 4242 Comm: longpin Tainted: G    B");  // the older format, without UID
  ASSERT_EQ(p.events().size(), 1u);
  EXPECT_EQ(p.events()[0].pid, 4242);
  EXPECT_EQ(p.events()[0].origin, "longpin");
}

TEST(KernelLogParser, HungTaskIsNamedByItsOwnLine) {
  KernelLogParser p(PidIs4242);
  p.Feed("3,50,900,-;INFO: task kworker/u8:3:4242 blocked for more than 120 seconds.");
  ASSERT_EQ(p.events().size(), 1u);
  EXPECT_EQ(p.events()[0].comm, "kworker/u8:3");
  EXPECT_EQ(p.events()[0].pid, 4242);
  EXPECT_EQ(p.events()[0].origin, "longpin");
}

TEST(KernelLogParser, ATaskRecordFarFromAnyEventNamesNothing) {
  KernelLogParser p(PidIs4242);
  p.Feed("4,1,1,-;WARNING: at fs/iomap/buffered-io.c:1 iomap_writepage_map+0x1/0x2");
  for (int i = 0; i < 12; ++i) p.Feed("6,2,2,-;loop0: detected capacity change");
  EXPECT_FALSE(p.Feed("4,3,3,-;CPU: 1 UID: 0 PID: 4242 Comm: longpin Not tainted"));
  ASSERT_EQ(p.events().size(), 1u);
  EXPECT_EQ(p.events()[0].pid, 0);
  EXPECT_EQ(p.events()[0].TaskSuffix(), "");
  EXPECT_FALSE(p.Feed("garbage without a separator"));
}

TEST(KernelLogParser, ThisProcessAndItsThreadsAreOurs) {
  EXPECT_TRUE(IsThisProcessOrChild(::getpid()));
  EXPECT_TRUE(IsThisProcessOrChild(int(::gettid())));
  EXPECT_FALSE(IsThisProcessOrChild(1));
  EXPECT_FALSE(IsThisProcessOrChild(0));
}

// Which block device a filesystem line names, so that another run's device can be told from the run's own.
TEST(KernelLogParser, FilesystemLinesNameTheirDevice) {
  KernelLogParser p(PidIs4242);
  const std::pair<const char*, const char*> cases[] = {
      {"6,1,1,-;EXT4-fs (loop3): shut down requested (2)", "loop3"},
      {"3,2,2,-;EXT4-fs error (device loop7): ext4_find_entry:1455: inode #2: comm ls: reading directory",
       "loop7"},
      {"1,3,3,-;XFS (dm-2): Corruption detected. Unmount and run xfs_repair", "dm-2"},
      {"3,4,4,-;BTRFS error (device sda1): bdev /dev/sda1 errs: wr 1, rd 0", "sda1"},
  };
  for (const auto& [record, device] : cases) {
    ASSERT_TRUE(p.Feed(record)) << record;
    EXPECT_EQ(p.events().back().device, device) << record;
  }
  ASSERT_TRUE(p.Feed("4,5,5,-;WARNING: CPU: 0 PID: 1 at fs/ext4/inode.c:3960 ext4_dirty_folio+0x1/0x2"));
  EXPECT_EQ(p.events().back().device, "")
      << "a WARNING names no device: it is the kernel's, whoever caused it";
}

// A fake /sys: class/block/NAME with loop/backing_file for loop devices and slaves/ for dm devices.
class FakeSysfs {
 public:
  void Loop(const std::string& name, const std::string& backing) {
    std::filesystem::create_directories(dir_.File("class/block/" + name + "/loop"));
    std::ofstream(dir_.File("class/block/" + name + "/loop/backing_file")) << backing << "\n";
  }
  void Dm(const std::string& name, std::initializer_list<std::string> slaves) {
    std::filesystem::create_directories(dir_.File("class/block/" + name + "/slaves"));
    for (const auto& s : slaves)
      std::filesystem::create_directories(dir_.File("class/block/" + name + "/slaves/" + s));
  }
  void Disk(const std::string& name) {
    std::filesystem::create_directories(dir_.File("class/block/" + name));
  }
  const std::string& root() const { return dir_.path(); }

 private:
  test::TempDir dir_;
};

TEST(DeviceOwnership, LoopAndDmDevicesAreTheRunsOnlyOverItsOwnFiles) {
  FakeSysfs sys;
  sys.Loop("loop1", "/var/tmp/longpin/run-aaaa/scratch.img");
  sys.Loop("loop2", "/var/tmp/longpin/run-bbbb/scratch.img");
  sys.Loop("loop3", "/var/tmp/longpin/run-aaaa-other/scratch.img");  // a prefix is not a parent
  sys.Loop("loop4", "/var/tmp/longpin/run-aaaa/data.img (deleted)");
  sys.Loop("loop5", "");  // detached
  sys.Dm("dm-0", {"loop1", "loop4"});
  sys.Dm("dm-1", {"loop2"});
  sys.Disk("sda1");
  sys.Disk("nvme0n1p2");
  const DeviceOwnership own{{"/var/tmp/longpin/run-aaaa"}, {"nvme0n1p2"}};
  EXPECT_EQ(own.Owns("loop1", sys.root()), true);
  EXPECT_EQ(own.Owns("loop2", sys.root()), false) << "another run's image";
  EXPECT_EQ(own.Owns("loop3", sys.root()), false);
  EXPECT_EQ(own.Owns("loop4", sys.root()), true) << "an image unlinked while attached is still the run's";
  EXPECT_EQ(own.Owns("loop5", sys.root()), std::nullopt) << "detached: cannot be told";
  EXPECT_EQ(own.Owns("loop9", sys.root()), std::nullopt) << "gone: cannot be told";
  EXPECT_EQ(own.Owns("dm-0", sys.root()), true) << "a log-writes device over the run's loops";
  EXPECT_EQ(own.Owns("dm-1", sys.root()), false);
  EXPECT_EQ(own.Owns("sda1", sys.root()), false) << "a disk the run does not use";
  EXPECT_EQ(own.Owns("nvme0n1p2", sys.root()), true) << "the disk of the run's --target";
}

TEST(KernelEvent, AnotherDevicesLineIsNoAlarmAndSaysWhose) {
  KernelEvent e;
  e.cls = KernelEventClass::kFsError;
  e.device = "loop2";
  EXPECT_TRUE(e.alarm());
  EXPECT_EQ(e.Label(), "fs_error");
  e.other_device = true;
  EXPECT_FALSE(e.alarm());
  EXPECT_EQ(e.Label(), "another device's");
  e.cls = KernelEventClass::kExpected;
  EXPECT_EQ(e.Label(), "another device's") << "another run's shutdown is not expected by this one";
}

TEST(DeviceOwnership, TheBlockDeviceOfAPathIsNamedAsTheKernelNamesIt) {
  // /proc is no block device; a file on a block-backed filesystem names one (when the machine has one).
  EXPECT_EQ(BlockDeviceOf("/proc/self/status"), "");
  EXPECT_EQ(BlockDeviceOf("/nonexistent/path"), "");
}

}  // namespace
}  // namespace longpin
