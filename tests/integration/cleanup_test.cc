// `longpin cleanup`: a run killed with SIGKILL in its pinned phase leaves a run directory (and maybe a loop
// device) behind; cleanup removes exactly that, and --dry-run only lists it.
#include <gtest/gtest.h>

#include "tests/integration/test_helpers.h"

namespace longpin {
namespace {

using namespace longpin::it;
using namespace std::chrono_literals;

TEST(Cleanup, KilledRunIsCleanedUp) {
  if (auto why = NeedFs("ext4")) GTEST_SKIP() << *why;
  TempDir tmp;
  ASSERT_FALSE(tmp.path().empty());
  const std::string work = tmp.File("work");
  {
    Process p({"run", "--fs", "ext4", "--phases", "pinned", "--duration", "30s", "--size", "32M", "--workdir",
               work});
    ASSERT_TRUE(p.started());
    for (int i = 0; i < 100 && RunDirsUnder(work).empty(); ++i) std::this_thread::sleep_for(50ms);
    ASSERT_FALSE(RunDirsUnder(work).empty()) << "the run never started";
    std::this_thread::sleep_for(2s);  // inside the pinned phase: mkfs and mount take well under a second
    p.Signal(SIGKILL);
    Outcome o = p.Wait(30s);
    ASSERT_EQ(o.signal, SIGKILL) << "the run ended before it was killed\n" << o.Describe();
  }
  const auto stale = RunDirsUnder(work);
  ASSERT_EQ(stale.size(), 1u) << "a killed run leaves its run directory: " << Join(stale);

  Outcome dry = RunLongpin({"cleanup", "--dry-run", "--workdir", work}, 30s);
  EXPECT_EQ(dry.exit_code, 0) << dry.Describe();
  EXPECT_NE(dry.out.find("would remove " + stale[0]), std::string::npos) << dry.Describe();
  EXPECT_EQ(RunDirsUnder(work), stale) << "--dry-run removed something";

  Outcome o = RunLongpin({"cleanup", "--workdir", work}, 60s);
  EXPECT_EQ(o.exit_code, 0) << o.Describe();
  EXPECT_NE(o.out.find("removed " + stale[0]), std::string::npos) << o.Describe();
  EXPECT_EQ(Join(Leftovers(tmp.path())), "") << o.Describe();

  Outcome again = RunLongpin({"cleanup", "--workdir", work}, 30s);
  EXPECT_EQ(again.exit_code, 0) << again.Describe();
  EXPECT_NE(again.out.find("nothing to clean"), std::string::npos) << again.Describe();
}

TEST(Cleanup, KeepKeepsTheImageAndPrintsItsPath) {
  if (auto why = NeedFs("ext4")) GTEST_SKIP() << *why;
  TempDir tmp;
  ASSERT_FALSE(tmp.path().empty());
  const std::string work = tmp.File("work");
  const std::string report = tmp.File("report.json");
  Outcome o = RunLongpin({"run", "--fs", "ext4", "--keep", "--duration", "1s", "--size", "32M", "--json",
                          report, "--workdir", work});
  EXPECT_EQ(o.exit_code, 0) << o.Describe();
  auto r = ReadJson(report);
  ASSERT_TRUE(r.has_value()) << o.Describe();
  const std::string image = (*r)["run"].value("kept_image", "");
  ASSERT_FALSE(image.empty()) << r->dump(2);
  EXPECT_EQ(image.rfind(work + "/", 0), 0u) << "the image lives in the run's directory: " << image;
  EXPECT_NE(o.out.find(image), std::string::npos) << "stdout must print the kept image's path\n"
                                                  << o.Describe();
  struct stat st {};
  EXPECT_EQ(::stat(image.c_str(), &st), 0) << image << " is gone";
  // Kept, but neither mounted nor attached: the user mounts it to inspect it.
  EXPECT_EQ(Join(Leftovers(tmp.path(), /*run_dirs_too=*/false)), "");

  Outcome c = RunLongpin({"cleanup", "--workdir", work}, 30s);
  EXPECT_EQ(c.exit_code, 0) << c.Describe();
  EXPECT_NE(::stat(image.c_str(), &st), 0) << "cleanup left the kept image " << image;
  EXPECT_EQ(Join(Leftovers(tmp.path())), "");
}

}  // namespace
}  // namespace longpin
