// The pinner registry lists every pinner that needs no special hardware, compiled in or not, and an
// unavailable pinner always says why.
#include <gtest/gtest.h>

#include <string>

#include "pinners/pinner.h"

namespace longpin {
namespace {

TEST(PinnerRegistryNoHw, ListsEveryPinnerWithAReasonWhenUnavailable) {
  for (const char* name : {"none", "vmsplice", "io_uring", "odirect", "process-vm", "fuse"}) {
    const PinnerInfo* info = FindPinner(name);
    ASSERT_NE(info, nullptr) << name << " missing from the registry";
    EXPECT_STREQ(info->name, name);
    EXPECT_NE(std::string(info->description), "") << name;
    ASSERT_NE(info->unavailable, nullptr) << name;
    ASSERT_NE(info->factory, nullptr) << name;
    if (auto why = info->unavailable()) {
      EXPECT_FALSE(why->empty()) << name << " is unavailable without a reason";
    }
  }
}

TEST(PinnerRegistryNoHw, ReferencesSayWhatTheKernelTakes) {
  EXPECT_EQ(FindPinner("io_uring")->reference, PinReference::kFollPinLongterm);
  EXPECT_EQ(FindPinner("odirect")->reference, PinReference::kFollPin);
  EXPECT_EQ(FindPinner("process-vm")->reference, PinReference::kFollPin);
  EXPECT_EQ(FindPinner("vmsplice")->reference, PinReference::kFollGet);
  EXPECT_EQ(FindPinner("none")->reference, PinReference::kNone);
}

TEST(PinnerRegistryNoHw, FuseIsListedEvenWhenCompiledOut) {
  const PinnerInfo* fuse = FindPinner("fuse");
  ASSERT_NE(fuse, nullptr);
#ifndef LONGPIN_HAVE_FUSE
  ASSERT_TRUE(fuse->unavailable().has_value());
  EXPECT_EQ(*fuse->unavailable(), "built without libfuse3 (LONGPIN_WITH_FUSE)");
  auto made = fuse->create(PinTarget{}, PinnerOptions{});
  ASSERT_FALSE(made.ok());
  EXPECT_EQ(made.status().what(), "built without libfuse3 (LONGPIN_WITH_FUSE)");
#endif
}

TEST(PinnerRegistryNoHw, ReadOnlyAccessIsRefusedWithAReasonByWritingPinners) {
  // These pinners pin by writing the mapping (or, for io_uring, always writable): ro must be refused at
  // creation, never silently treated as rw. Creation with ro fails before touching the target.
  for (const char* name : {"io_uring", "odirect", "process-vm", "fuse"}) {
    const PinnerInfo* info = FindPinner(name);
#ifndef LONGPIN_HAVE_FUSE
    if (std::string(name) == "fuse") continue;
#endif
    PinnerOptions o;
    o.access = PinAccess::kReadOnly;
    auto r = info->create(PinTarget{}, o);
    ASSERT_FALSE(r.ok()) << name;
    EXPECT_EQ(r.status().err(), ENOTSUP) << name;
    EXPECT_NE(r.status().what().find("ro"), std::string::npos) << name << ": " << r.status().what();
  }
}

TEST(PinnerRegistryNoHw, HoldModelIsInTheEntry) {
  for (const char* name : {"odirect", "process-vm", "fuse"})
    EXPECT_EQ(FindPinner(name)->hold, PinHold::kPerIo) << name;
  for (const char* name : {"none", "vmsplice", "io_uring", "rdma", "rdma-odp", "cuda"})
    EXPECT_EQ(FindPinner(name)->hold, PinHold::kWindow) << name;
}

TEST(PinnerOptions, ALaterValueOfAKeyReplacesTheEarlier) {
  PinnerOptions o;
  EXPECT_FALSE(o.Get("hold"));
  o.Set("hold", "1s");
  o.Set("hold", "2s");
  EXPECT_EQ(o.Get("hold").value_or(""), "2s");
  EXPECT_EQ(o.pairs.size(), 1u);
}

TEST(PinnerOptions, AnUnknownKeyIsRefusedNamingTheKnownOnes) {
  PinnerOptions o;
  o.Set("foo", "1");
  Status s = FindPinner("cuda")->CheckOptions(o);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.what(), "pinner cuda: unknown option foo (known: device, flags, write)");
  auto made = FindPinner("vmsplice")->create(PinTarget{}, o);
  ASSERT_FALSE(made.ok());
  EXPECT_EQ(made.status().what(), "pinner vmsplice: unknown option foo (known: none)");
  EXPECT_FALSE(CheckPinnerOptions("odirect", o).ok());
}

TEST(PinnerOptions, ASharedFlagKeyIsIgnoredByPinnersThatDoNotTakeIt) {
  PinnerOptions o;
  o.Set("hold", "20ms", /*from_shared_flag=*/true);
  o.Set("device", "mlx5_0", /*from_shared_flag=*/true);
  EXPECT_TRUE(FindPinner("vmsplice")->CheckOptions(o).ok());
  EXPECT_TRUE(CheckPinnerOptions("vmsplice", o).ok());
  EXPECT_TRUE(CheckPinnerOptions("fuse", o).ok());
}

TEST(PinnerOptions, ValuesAreCheckedByThePinnerThatTakesThem) {
  PinnerOptions hold;
  hold.Set("hold", "soon");
  Status s = FindPinner("fuse")->CheckOptions(hold);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.what(), "pinner fuse: option hold=soon: not a duration");
  // The cuda flags are checked whichever pinner runs, as --cuda-flags always was.
  PinnerOptions flags;
  flags.Set("flags", "bogus", /*from_shared_flag=*/true);
  s = CheckPinnerOptions("vmsplice", flags);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.what().find("unknown flag 'bogus'"), std::string::npos) << s.what();
}

}  // namespace
}  // namespace longpin

namespace longpin {
namespace {

// Every pinner's expected reference kind per kernel comes from its own registry entry; the boundaries are
// ../shared/KERNEL_NOTES.md's (FUSE direct IO pins from 6.9, O_DIRECT from 6.5).
TEST(PinnerInfo, ExpectedReferenceFollowsTheKernelOfTheEntry) {
  EXPECT_EQ(ExpectedPinReference("fuse", "6.1.0-57-amd64"), "FOLL_GET");
  EXPECT_EQ(ExpectedPinReference("fuse", "6.9.0"), "FOLL_PIN");
  EXPECT_EQ(ExpectedPinReference("odirect", "6.4.16"), "FOLL_GET");
  EXPECT_EQ(ExpectedPinReference("odirect", "6.12.118+deb13-amd64"), "FOLL_PIN");
  EXPECT_EQ(ExpectedPinReference("vmsplice", "6.18.44"), "FOLL_GET");
  EXPECT_EQ(ExpectedPinReference("process-vm", "5.10.0"), "FOLL_PIN");
  EXPECT_EQ(ExpectedPinReference("io_uring", "6.1.0"), "FOLL_PIN, long-term");
  EXPECT_EQ(ExpectedPinReference("rdma", "6.1.0"), "FOLL_PIN, long-term");
  EXPECT_EQ(ExpectedPinReference("rdma-odp", "6.1.0"), "none");
  EXPECT_EQ(ExpectedPinReference("none", "6.1.0"), "none");
  EXPECT_EQ(ExpectedPinReference("no-such-pinner", "6.1.0"), "none");
  for (const auto& p : PinnerRegistry()) EXPECT_NE(p.expected.kind, nullptr) << p.name;
}

}  // namespace
}  // namespace longpin
