// The HTML report in a real browser: headless Chromium (Debian's chromium package) must build the charts' SVG
// elements into its DOM and paint a screenshot that holds far more than a blank page does.
#include <fcntl.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "report/report_formats.h"
#include "report/run_report.h"

namespace longpin {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr const char* kChromium = "/usr/bin/chromium";
constexpr int kWindowWidth = 1200, kWindowHeight = 2000;

std::optional<std::string> NeedChromium() {
  if (access(kChromium, X_OK) != 0) return std::string("no ") + kChromium + " (apt-get install chromium)";
  return std::nullopt;
}

// A run as `longpin run --json` writes it (RenderJson), with a timeline like a pinned phase produces.
json SampleRun() {
  RunReport r;
  r.verdict = Verdict::kFail;
  r.reasons = {"1 kernel-contract violation(s)"};
  r.kernel = "6.18.44";
  r.fs = "ext4";
  r.fs_detail = "ext4 on /dev/loop0";
  r.pinner = "vmsplice";
  r.sync_op = "fsync";
  for (const char* name : {"baseline", "pinned"}) {
    PhaseReport p;
    p.name = name;
    p.seconds = 1.3;
    p.writes["cpu"] = 5000;
    p.sync["fsync"].Record(name == std::string("baseline") ? 2'000'000 : 300'000'000);
    // Latency growing with the pages each sync wrote back, pinned syncs slower per page.
    const bool pinned = name == std::string("pinned");
    p.writeback.source = "tracefs ext4:ext4_writepages_result";
    for (int i = 0; i < 120; ++i) {
      SyncCallRecord c;
      c.pages_written = uint64_t(5 + (i * 37) % 60);
      c.duration_ns = uint64_t(200'000 + c.pages_written * (pinned ? 90'000 : 40'000) + (i % 7) * 30'000);
      c.off_cpu_ns = c.duration_ns * 3 / 4;
      c.pinned = pinned;
      p.writeback.syncs.push_back(c);
    }
    r.phases.push_back(p);
  }
  Verification v;
  v.mode = "crash";
  v.kernel_violations = 1;
  v.violations.push_back({.contract = "kernel",
                          .kind = "lost",
                          .block = 7,
                          .offset = 28672,
                          .expected_generation = 3,
                          .found = "zero",
                          .found_generation = 0,
                          .writer = "cpu",
                          .sync_id = 4,
                          .sync_op = "fsync"});
  r.verification = v;
  r.kernel_events.push_back({KernelEventClass::kWarning, "WARNING: <script>document.body.remove()</script>",
                             1, 4242, "<i>x</i>", "other process", "", false});
  json doc = json::parse(RenderJson(r));
  json syncs = json::array(), pins = json::array(), vmstat = json::array();
  for (int i = 0; i < 260; ++i) {
    bool pinned = i >= 100;
    double ns =
        pinned ? 2e7 * (1 + 25 * std::pow(std::sin(i * 0.37), 8)) : 1.5e6 * (1 + std::sin(i * 0.9) * 0.5);
    syncs.push_back({i * 10, ns, pinned ? 1 : 0});
  }
  for (int i = 0; i < 8; ++i) pins.push_back({1000 + i * 200, 1120 + i * 200, i << 20, 1 << 20, 0});
  for (int i = 0; i <= 52; ++i)
    vmstat.push_back({i * 50, 3000 + 2000 * std::sin(i * 0.3) + i * 40, (i % 7) * 150});
  doc["timeline"] = {{"syncs", syncs}, {"pins", pins}, {"crash_ms", 2400}, {"vmstat", vmstat}};
  return doc;
}

class ScratchDir {
 public:
  ScratchDir() {
    char path[] = "/tmp/longpin-html-XXXXXX";
    if (mkdtemp(path)) path_ = path;
  }
  ~ScratchDir() {
    std::error_code ignored;
    if (!path_.empty()) fs::remove_all(path_, ignored);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

struct ChromiumResult {
  int exit_status = -1;
  bool timed_out = false;
  std::string stdout_text;
  std::string log;  // stderr, for the failure message
};

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

// Chromium in its own process group, so that it and every helper process it started can be ended together,
// on a timeout and after it exits: the test leaves no process behind.
ChromiumResult RunChromium(const fs::path& scratch, std::vector<std::string> mode_args,
                           const fs::path& page) {
  std::vector<std::string> args = {kChromium,
                                   "--headless",
                                   "--no-sandbox",
                                   "--disable-gpu",
                                   "--disable-quic",
                                   "--no-first-run",
                                   "--disable-background-networking",
                                   "--disable-component-update",
                                   "--disable-sync",
                                   "--hide-scrollbars",
                                   "--user-data-dir=" + (scratch / "profile").string(),
                                   fmt::format("--window-size={},{}", kWindowWidth, kWindowHeight)};
  args.insert(args.end(), mode_args.begin(), mode_args.end());
  args.push_back("file://" + page.string());
  const fs::path out_path = scratch / "chromium.out", log_path = scratch / "chromium.log";
  ChromiumResult result;
  pid_t pid = fork();
  if (pid < 0) return result;
  if (pid == 0) {
    setpgid(0, 0);
    int out = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int log = open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int null_in = open("/dev/null", O_RDONLY);
    if (out < 0 || log < 0 || null_in < 0) _exit(126);
    dup2(null_in, 0);
    dup2(out, 1);
    dup2(log, 2);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(kChromium, argv.data());
    _exit(127);
  }
  setpgid(pid, pid);  // also here: no race with the child's own call
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(90);
  int status = 0;
  for (;;) {
    pid_t done = waitpid(pid, &status, WNOHANG);
    if (done == pid) break;
    if (std::chrono::steady_clock::now() > deadline) {
      result.timed_out = true;
      kill(-pid, SIGKILL);
      waitpid(pid, &status, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  kill(-pid, SIGKILL);  // helpers still in the group (none, normally): ESRCH is the usual answer
  result.exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  result.stdout_text = ReadFile(out_path);
  result.log = ReadFile(log_path);
  return result;
}

void WritePage(const fs::path& path, const std::string& html) {
  std::ofstream out(path, std::ios::binary);
  out << html;
}

// The SVG elements of a DOM as Chromium serialised it, each from "<svg" to its "</svg>".
std::vector<std::string> SvgElements(const std::string& dom) {
  std::vector<std::string> out;
  for (size_t at = dom.find("<svg"); at != std::string::npos; at = dom.find("<svg", at + 1)) {
    size_t end = dom.find("</svg>", at);
    if (end == std::string::npos) break;
    out.push_back(dom.substr(at, end - at));
  }
  return out;
}

size_t Occurrences(const std::string& haystack, std::string_view needle) {
  size_t n = 0;
  for (size_t at = haystack.find(needle); at != std::string::npos; at = haystack.find(needle, at + 1)) ++n;
  return n;
}

// Width and height from the PNG's IHDR chunk; nullopt when the file is not a PNG.
std::optional<std::pair<uint32_t, uint32_t>> PngSize(const std::string& png) {
  static const char kSignature[] = "\x89PNG\r\n\x1a\n";
  if (png.size() < 24 || png.compare(0, 8, kSignature, 8) != 0 || png.compare(12, 4, "IHDR") != 0)
    return std::nullopt;
  auto be32 = [&](size_t at) {
    return uint32_t(uint8_t(png[at])) << 24 | uint32_t(uint8_t(png[at + 1])) << 16 |
           uint32_t(uint8_t(png[at + 2])) << 8 | uint32_t(uint8_t(png[at + 3]));
  };
  return std::make_pair(be32(16), be32(20));
}

// One browser start does both the DOM and the screenshot: Chromium takes about 6 s to start on 2 cores.
TEST(ReportHtmlBrowser, RunPageChartsRender) {
  if (auto why = NeedChromium()) GTEST_SKIP() << *why;
  ScratchDir dir;
  ASSERT_FALSE(dir.path().empty());
  const fs::path page = dir.path() / "run.html", page_png = dir.path() / "run.png";
  WritePage(page, RenderHtml(SampleRun()));
  ChromiumResult r = RunChromium(dir.path(), {"--dump-dom", "--screenshot=" + page_png.string()}, page);
  ASSERT_FALSE(r.timed_out) << r.log;
  ASSERT_EQ(r.exit_status, 0) << r.log;

  std::vector<std::string> svgs = SvgElements(r.stdout_text);
  ASSERT_EQ(svgs.size(), 4u) << r.stdout_text.substr(0, 4000);
  EXPECT_NE(svgs[0].find("class=\"latency-time\""), std::string::npos);
  EXPECT_EQ(Occurrences(svgs[0], "<circle"), 260u);
  EXPECT_EQ(Occurrences(svgs[0], "class=\"pin-window\""), 8u);
  EXPECT_EQ(Occurrences(svgs[0], "class=\"crash\""), 1u);
  EXPECT_NE(svgs[1].find("class=\"latency-histogram\""), std::string::npos);
  EXPECT_GT(Occurrences(svgs[1], "<rect"), 6u);
  EXPECT_NE(svgs[2].find("class=\"vmstat\""), std::string::npos);
  EXPECT_EQ(Occurrences(svgs[2], "<path"), 2u);
  // Latency against pages written: baseline and pinned side by side, a dot per sync (none share a pixel
  // here).
  EXPECT_NE(svgs[3].find("class=\"writeback\""), std::string::npos);
  EXPECT_EQ(Occurrences(svgs[3], "class=\"writeback-panel\""), 2u);
  EXPECT_LT(svgs[3].find("data-kind=\"baseline\""), svgs[3].find("data-kind=\"pinned\""));
  EXPECT_GT(Occurrences(svgs[3], "class=\"writeback-point\""), 150u);
  EXPECT_LE(Occurrences(svgs[3], "class=\"writeback-point\""), 240u);
  // The kernel line's markup stayed text: the browser built no script element and the body survived.
  EXPECT_EQ(r.stdout_text.find("<script"), std::string::npos);
  EXPECT_NE(r.stdout_text.find("&lt;script&gt;document.body.remove()"), std::string::npos);

  const fs::path blank = dir.path() / "blank.html", blank_png = dir.path() / "blank.png";
  WritePage(blank, "<!DOCTYPE html><html><head><meta charset=\"utf-8\"></head><body></body></html>\n");
  ChromiumResult b = RunChromium(dir.path(), {"--screenshot=" + blank_png.string()}, blank);
  ASSERT_FALSE(b.timed_out) << b.log;
  std::string blank_bytes = ReadFile(blank_png), page_bytes = ReadFile(page_png);
  auto blank_size = PngSize(blank_bytes), page_size = PngSize(page_bytes);
  ASSERT_TRUE(blank_size) << b.log;
  ASSERT_TRUE(page_size) << r.log;
  EXPECT_EQ(page_size->first, uint32_t(kWindowWidth));
  EXPECT_EQ(page_size->second, uint32_t(kWindowHeight));
  // A blank page compresses to almost nothing; four charts and the tables do not.
  EXPECT_GT(page_bytes.size(), 5 * blank_bytes.size() + 20000)
      << "screenshot " << page_bytes.size() << " bytes, blank page " << blank_bytes.size() << " bytes";
  // For a person to look at what the browser drew.
  if (const char* keep = getenv("LONGPIN_KEEP_SCREENSHOT"))
    fs::copy_file(page_png, keep, fs::copy_options::overwrite_existing);
}

TEST(ReportHtmlBrowser, MatrixPageColoursItsCells) {
  if (auto why = NeedChromium()) GTEST_SKIP() << *why;
  ScratchDir dir;
  ASSERT_FALSE(dir.path().empty());
  json skipped = json::parse(RenderJson(RunReport{}));
  skipped["verdict"] = "skip";
  json cells = json::array();
  cells.push_back({{"pinner", "vmsplice"},
                   {"fs", "ext4"},
                   {"mapping", "shared"},
                   {"sync", "fsync"},
                   {"outcome", "fail: 1 violations"},
                   {"report", SampleRun()}});
  cells.push_back({{"pinner", "vmsplice"},
                   {"fs", "xfs"},
                   {"mapping", "shared"},
                   {"sync", "fsync"},
                   {"outcome", "pass"},
                   {"report", SampleRun()}});
  cells.push_back({{"pinner", "iouring"},
                   {"fs", "ext4"},
                   {"mapping", "shared"},
                   {"sync", "fsync"},
                   {"outcome", "refused EFAULT"},
                   {"report", skipped}});
  const fs::path page = dir.path() / "matrix.html";
  WritePage(page, RenderHtml(json{{"schema_version", 1}, {"cells", cells}}));
  ChromiumResult r = RunChromium(dir.path(), {"--dump-dom"}, page);
  ASSERT_FALSE(r.timed_out) << r.log;
  ASSERT_EQ(r.exit_status, 0) << r.log;
  EXPECT_NE(r.stdout_text.find("<table class=\"matrix\">"), std::string::npos)
      << r.stdout_text.substr(0, 4000);
  EXPECT_EQ(Occurrences(r.stdout_text, "<a class=\"cell pass\""), 1u);
  EXPECT_EQ(Occurrences(r.stdout_text, "<a class=\"cell fail\""), 1u);
  EXPECT_EQ(Occurrences(r.stdout_text, "<a class=\"cell skip\""), 1u);
  EXPECT_EQ(SvgElements(r.stdout_text).size(), 8u);  // the two cells with timelines, four charts each
}

}  // namespace
}  // namespace longpin
