// ParseSize / ParseDuration: what the command line accepts, and what it must refuse rather than guess.
#include "core/units.h"

#include <gtest/gtest.h>

namespace longpin {
namespace {

TEST(Units, ParseSizeAccepts) {
  const std::pair<const char*, uint64_t> cases[] = {
      {"4096", 4096},       {"0", 0},           {"512b", 512},        {"4k", 4096},
      {"4K", 4096},         {"4KiB", 4096},     {"4kb", 4096},        {"256M", 256ull << 20},
      {"2MiB", 2ull << 20}, {"1G", 1ull << 30}, {"3gib", 3ull << 30}, {"1T", 1ull << 40},
  };
  for (const auto& [text, want] : cases) {
    auto got = ParseSize(text);
    ASSERT_TRUE(got.has_value()) << text;
    EXPECT_EQ(*got, want) << text;
  }
}

TEST(Units, ParseSizeRejects) {
  for (const char* text : {"", "k", "M", "-1", "-4k", "+4k", " 4k", "4 k", "4x", "4kk", "4KiBs", "1.5M",
                           "0x10", "99999999999999999999", "17179869184G", "4P"}) {
    EXPECT_FALSE(ParseSize(text).has_value()) << "accepted '" << text << "'";
  }
}

TEST(Units, ParseDurationAccepts) {
  const std::pair<const char*, double> cases[] = {
      {"5", 5.0},      {"5s", 5.0},   {"1.5s", 1.5},   {"10ms", 0.010}, {"250us", 250e-6},
      {"100ns", 1e-7}, {"2m", 120.0}, {"2min", 120.0}, {"1h", 3600.0},  {"0", 0.0},
  };
  for (const auto& [text, want] : cases) {
    auto got = ParseDuration(text);
    ASSERT_TRUE(got.has_value()) << text;
    EXPECT_DOUBLE_EQ(*got, want) << text;
  }
}

TEST(Units, ParseDurationRejects) {
  for (const char* text : {"", "s", "ms", "-1", "-1s", "5x", "5 s", "5sec", "nan", "inf", "1e999", "5ss"}) {
    EXPECT_FALSE(ParseDuration(text).has_value()) << "accepted '" << text << "'";
  }
}

TEST(Units, FormatSizeAndNs) {
  EXPECT_EQ(FormatSize(4096), "4 KiB");
  EXPECT_EQ(FormatSize(256ull << 20), "256 MiB");
  EXPECT_EQ(FormatSize(1000), "1000 B");
  EXPECT_EQ(FormatNs(999), "999 ns");
  EXPECT_EQ(FormatNs(12345), "12.3 us");
  EXPECT_EQ(FormatNs(12345678), "12.35 ms");
  EXPECT_EQ(FormatNs(12345678901ull), "12.35 s");
}

}  // namespace
TEST(Units, SplitCommaListDropsEmptyEntries) {
  EXPECT_EQ(SplitCommaList("ext4,xfs"), (std::vector<std::string>{"ext4", "xfs"}));
  EXPECT_EQ(SplitCommaList(",ext4,,dir:/a,b,"), (std::vector<std::string>{"ext4", "dir:/a", "b"}));
  EXPECT_TRUE(SplitCommaList("").empty());
  EXPECT_TRUE(SplitCommaList(",,").empty());
}

}  // namespace longpin
