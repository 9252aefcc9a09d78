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
    if (auto why = info->unavailable()) {
      EXPECT_FALSE(why->empty()) << name << " is unavailable without a reason";
    } else {
      EXPECT_NE(info->create, nullptr) << name << " claims to be available but is compiled out";
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
#ifdef LONGPIN_HAVE_FUSE
  EXPECT_NE(fuse->create, nullptr);
#else
  EXPECT_EQ(fuse->create, nullptr);
  ASSERT_TRUE(fuse->unavailable().has_value());
  EXPECT_EQ(*fuse->unavailable(), "built without libfuse3 (LONGPIN_WITH_FUSE)");
#endif
}

TEST(PinnerRegistryNoHw, ReadOnlyAccessIsRefusedWithAReasonByWritingPinners) {
  // These pinners pin by writing the mapping (or, for io_uring, always writable): ro must be refused at
  // creation, never silently treated as rw. Creation with ro fails before touching the target.
  for (const char* name : {"io_uring", "odirect", "process-vm", "fuse"}) {
    const PinnerInfo* info = FindPinner(name);
    if (!info->create) continue;
    PinnerOptions o;
    o.access = PinAccess::kReadOnly;
    auto r = info->create(PinTarget{}, o);
    ASSERT_FALSE(r.ok()) << name;
    EXPECT_EQ(r.status().err(), ENOTSUP) << name;
    EXPECT_NE(r.status().what().find("ro"), std::string::npos) << name << ": " << r.status().what();
  }
}

}  // namespace
}  // namespace longpin
