// ProgressLine: the text of the live line (every field the issue asks for, cut to the terminal's width), the
// control sequences it draws and erases with, and silence when disabled (not a terminal, or --quiet).
// LiveCounter: one writer, readers see a count that only grows and ends exact.
#include "workloads/progress_line.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <functional>
#include <string>
#include <thread>

#include "core/live_counter.h"

namespace longpin {
namespace {

ProgressSample Sample() {
  ProgressSample s;
  s.elapsed_s = 12.34;
  s.phase = "pinned";
  s.phase_number = 2;
  s.phase_count = 2;
  s.writes = 5000;
  s.syncs = 40;
  s.sync_p99_ns = 4'200'000;
  s.pinned_pages = 1024;
  s.kernel_events = 1;
  s.violations = 3;
  return s;
}

// What a ProgressLine wrote to its stream.
std::string Drawn(const std::function<void(ProgressLine&)>& draw, bool enabled) {
  std::FILE* f = std::tmpfile();
  {
    ProgressLine line(enabled, f, 200);
    draw(line);
  }
  std::string out;
  std::rewind(f);
  for (int c; (c = std::fgetc(f)) != EOF;) out += char(c);
  std::fclose(f);
  return out;
}

TEST(ProgressLine, FormatHasEveryField) {
  const std::string line = ProgressLine::Format(Sample(), 123456, 98, 0);
  EXPECT_EQ(line,
            "12.3s pinned 2/2 | writes 123k/s | fsync 98/s p99 4.2ms | pinned 1024 pages | kernel events 1 | "
            "violations 3");
}

TEST(ProgressLine, FormatShowsTheCrashCycleAndUnknownRates) {
  ProgressSample s = Sample();
  s.cycle = 2;
  s.cycles = 5;
  s.sync_p99_ns = 0;
  s.sync_op = "fdatasync";
  const std::string line = ProgressLine::Format(s, -1, -1, 0);
  EXPECT_NE(line.find("cycle 2/5 pinned 2/2"), std::string::npos) << line;
  EXPECT_NE(line.find("writes -/s | fdatasync -/s p99 -"), std::string::npos) << line;
  s.label = "selftest xfs clean";
  EXPECT_EQ(ProgressLine::Format(s, -1, -1, 0).rfind("12.3s selftest xfs clean cycle 2/5 pinned 2/2", 0), 0u);
}

TEST(ProgressLine, FormatFitsTheTerminal) {
  // A line as wide as the terminal would wrap, and the next carriage return would redraw only its last row.
  EXPECT_EQ(ProgressLine::Format(Sample(), 1, 1, 40).size(), 39u);
  EXPECT_GT(ProgressLine::Format(Sample(), 1, 1, 0).size(), 40u);
}

TEST(ProgressLine, DrawsOverItselfAndErasesOnClear) {
  const std::string out = Drawn(
      [](ProgressLine& l) {
        l.Update(Sample(), true);
        l.Clear();
      },
      true);
  ASSERT_EQ(out.rfind("\r12.3s pinned 2/2", 0), 0u) << out;
  EXPECT_NE(out.find("\033[K"), std::string::npos);
  EXPECT_EQ(out.substr(out.size() - 4), "\r\033[K") << "Clear must leave the cursor on an empty line";
  EXPECT_EQ(out.find('\n'), std::string::npos) << "the line never scrolls the terminal";
}

TEST(ProgressLine, ClearsItselfWhenDestroyed) {
  const std::string out = Drawn([](ProgressLine& l) { l.Update(Sample(), true); }, true);
  EXPECT_EQ(out.substr(out.size() - 4), "\r\033[K");
}

TEST(ProgressLine, DisabledWritesNothing) {
  const std::string out = Drawn(
      [](ProgressLine& l) {
        l.Update(Sample(), true);
        l.Update(Sample());
        l.Clear();
      },
      false);
  EXPECT_EQ(out, "");
}

TEST(ProgressLine, RedrawsAtMostFourTimesASecond) {
  const std::string out = Drawn(
      [](ProgressLine& l) {
        for (int i = 0; i < 100; ++i) l.Update(Sample());
      },
      true);
  size_t draws = 0;
  for (size_t p = 0; (p = out.find("\r12.3s", p)) != std::string::npos; ++p) ++draws;
  EXPECT_EQ(draws, 1u) << "100 updates within a few microseconds draw once";
}

TEST(LiveCounter, OneWriterManyReadsEndsExact) {
  LiveCounter c;
  constexpr uint64_t kN = 1'000'000;
  std::atomic<bool> done{false};
  std::thread writer([&] {
    for (uint64_t i = 0; i < kN; ++i) ++c;
    done.store(true);
  });
  uint64_t last = 0;
  while (!done.load()) {
    const uint64_t now = c;
    EXPECT_GE(now, last);
    last = now;
  }
  writer.join();
  EXPECT_EQ(c.Get(), kN);
  c.Set(7);
  EXPECT_EQ(uint64_t(c), 7u);
}

}  // namespace
}  // namespace longpin
