// Report renderers: JUnit is well-formed XML with the right counts, KTAP passes a KTAP v1 check, the HTML
// page holds its charts, fetches nothing and escapes what the kernel wrote; no renderer trips over a missing
// key.
#include "report/report_formats.h"

#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "report/run_report.h"

namespace longpin {
namespace {

using nlohmann::json;

// RenderJson refuses invalid UTF-8, so the sample run gets the markup and the tests add the bad bytes.
constexpr const char* kScriptKernelLine = "EXT4-fs warning: <script>alert(1)</script>";
constexpr const char* kHostileKernelLine =
    "EXT4-fs warning: <script>alert(\"pwned\")</script> & ]]> \x01 \xff end";

// A run as a run fills it in: two phases, a verification with its violations, a kernel line.
RunReport MakeRun(std::string verdict, uint64_t kernel_violations) {
  RunReport r;
  r.verdict = ParseVerdict(verdict).value_or(Verdict::kFail);
  r.kernel = "6.18.44";
  r.fs = "ext4";
  r.fs_detail = "ext4 on /dev/loop0";
  r.block_size = 4096;
  r.target_size = 32 << 20;
  r.pinner = "vmsplice";
  r.sync_op = "fsync";
  r.run_id = 0x1234;
  r.notes.push_back("expected log kept");
  if (verdict == "skip") {
    r.reasons.push_back("no RDMA device: /dev/infiniband is missing");
    return r;
  }
  for (const char* name : {"baseline", "pinned"}) {
    PhaseReport p;
    p.name = name;
    p.seconds = 1.5;
    p.writes["cpu"] = 1000;
    for (uint64_t ns = 1'000'000; ns < 50'000'000; ns += 3'000'000) p.sync["fsync"].Record(ns);
    if (p.name == "pinned") {
      p.pins.pinner = "vmsplice";
      p.pins.reference = "FOLL_GET";
      p.pins.granted_pages = 256;
      p.pins.requested_pages = 256;
    }
    r.phases.push_back(p);
  }
  Verification v;
  v.mode = "sync";
  v.checked_blocks = 8192;
  v.kernel_violations = kernel_violations;
  v.strict_by_writer["cpu"] = {100, 100};
  for (uint64_t i = 0; i < kernel_violations; ++i)
    v.violations.push_back({.contract = "kernel",
                            .kind = "lost",
                            .block = 17 + i,
                            .offset = (17 + i) * 4096,
                            .expected_generation = 5,
                            .found = "zero",
                            .found_generation = 0,
                            .writer = "cpu",
                            .sync_id = 9,
                            .sync_op = "fsync"});
  r.verification = v;
  if (kernel_violations)
    r.reasons.push_back(std::to_string(kernel_violations) + " kernel-contract violation(s)");
  r.kernel_events.push_back(
      {KernelEventClass::kWarning, kScriptKernelLine, 42, 4242, "<i>x</i>", "other process", "", false});
  return r;
}

// A run document as `longpin run --json` writes it: rendered by the real RenderJson, then given a timeline.
json MakeRunDoc(std::string verdict, uint64_t kernel_violations, bool with_timeline) {
  json doc = json::parse(RenderJson(MakeRun(verdict, kernel_violations)));
  if (with_timeline && verdict != "skip") {
    json syncs = json::array(), pins = json::array(), vmstat = json::array();
    for (int i = 0; i < 300; ++i)
      syncs.push_back(
          {i * 10, 1'000'000 + (i % 17) * 400'000 + (i >= 150 ? 30'000'000 : 0), i >= 150 ? 1 : 0});
    for (int i = 0; i < 10; ++i) pins.push_back({1500 + i * 150, 1600 + i * 150, i * 1048576, 1048576, 0});
    pins.push_back({2900, nullptr, 0, 4096, 14});  // refused (EFAULT): no window
    for (int i = 0; i < 30; ++i) vmstat.push_back({i * 100, 2000 + i * 50, i % 5 * 100});
    doc["timeline"] = {{"syncs", syncs}, {"pins", pins}, {"crash_ms", 2950}, {"vmstat", vmstat}};
    doc["crash"] = {{"model", "power-cut"}, {"at_ms", 2950}};
  }
  return doc;
}

json MakeMatrixDoc() {
  json cells = json::array();
  auto cell = [](std::string pinner, std::string outcome, json report) {
    return json{{"pinner", pinner}, {"fs", "ext4"},       {"mapping", "shared"},
                {"sync", "fsync"},  {"outcome", outcome}, {"report", std::move(report)}};
  };
  cells.push_back(cell("vmsplice", "pass", MakeRunDoc("pass", 0, true)));
  cells.push_back(cell("odirect", "fail: 2 violations", MakeRunDoc("fail", 2, false)));
  cells.push_back(cell("iouring", "refused EFAULT", MakeRunDoc("skip", 0, false)));
  cells.push_back(cell("rdma", "skipped: no RDMA device", MakeRunDoc("skip", 0, false)));
  return json{{"schema_version", 1}, {"cells", cells}};
}

// A matrix over two kernels as `longpin matrix --kernels host,debian-6.1` writes it: each cell judged by a
// rule.
json MakeKernelMatrixDoc() {
  json cells = json::array();
  auto cell = [](std::string kernel, std::string release, std::string outcome, json rule, json as_expected,
                 std::string judgement) {
    return json{{"pinner", "io_uring"},
                {"fs", "ext4"},
                {"mapping", "shared"},
                {"sync", "fsync"},
                {"kernel_name", kernel},
                {"kernel", release},
                {"outcome", outcome},
                {"rule", rule},
                {"as_expected", as_expected},
                {"judgement", judgement},
                {"report", MakeRunDoc("pass", 0, false)}};
  };
  cells.push_back(cell("host", "6.18.44", "refused EFAULT", "io_uring-file-efault", true,
                       "as expected (rule io_uring-file-efault)"));
  cells.push_back(
      cell("debian-6.1", "6.1.0-57-amd64", "pass", "io_uring-file-eopnotsupp", false,
           "UNEXPECTED: granted, rule io_uring-file-eopnotsupp (5.1..6.5) says refused EOPNOTSUPP"));
  cells.push_back(cell("debian-6.1", "6.1.0-57-amd64", "pass", nullptr, nullptr,
                       "no rule: outcome recorded, not judged"));
  cells[2]["pinner"] = "vmsplice";
  return json{{"schema_version", 1},
              {"kind", "matrix"},
              {"kernels", json::array({{{"name", "host"}, {"release", "6.18.44"}},
                                       {{"name", "debian-6.1"}, {"release", "6.1.0-57-amd64"}}})},
              {"cells", cells}};
}

// ---- a small XML well-formedness check: elements nest, attributes are quoted, entities are known ----

class XmlCheck {
 public:
  explicit XmlCheck(std::string_view text) : s_(text) {}

  // nullopt when well-formed; else where and why not.
  std::optional<std::string> Run() {
    Skip();
    if (s_.substr(pos_, 5) == "<?xml") {
      size_t end = s_.find("?>", pos_);
      if (end == std::string_view::npos) return Error("unterminated XML declaration");
      pos_ = end + 2;
    }
    Skip();
    if (auto e = Element()) return e;
    Skip();
    if (pos_ != s_.size()) return Error("content after the root element");
    return std::nullopt;
  }
  std::map<std::string, int> counts;                                     // element name -> occurrences
  std::vector<std::map<std::string, std::string>> testsuite_attributes;  // raw attribute values

 private:
  std::optional<std::string> Error(std::string why) { return why + " at byte " + std::to_string(pos_); }
  void Skip() {
    while (pos_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[pos_]))) ++pos_;
  }
  std::string Name() {
    size_t start = pos_;
    while (pos_ < s_.size() && (std::isalnum(static_cast<unsigned char>(s_[pos_])) || s_[pos_] == '-' ||
                                s_[pos_] == '_' || s_[pos_] == ':' || s_[pos_] == '.'))
      ++pos_;
    return std::string(s_.substr(start, pos_ - start));
  }
  std::optional<std::string> Text(char stop) {
    while (pos_ < s_.size() && s_[pos_] != stop) {
      char ch = s_[pos_];
      if (ch == '<' || (stop == '<' && ch == '>')) return Error("raw markup character in text");
      if (static_cast<unsigned char>(ch) < 0x20 && ch != '\n' && ch != '\t' && ch != '\r')
        return Error("control character");
      if (ch == '&') {
        static const std::regex kEntity("^&(amp|lt|gt|quot|apos|#[0-9]+|#x[0-9a-fA-F]+);");
        std::string rest(s_.substr(pos_, 12));
        std::smatch m;
        if (!std::regex_search(rest, m, kEntity)) return Error("bad entity");
        pos_ += size_t(m.length(0));
        continue;
      }
      ++pos_;
    }
    return std::nullopt;
  }
  std::optional<std::string> Element() {
    if (pos_ >= s_.size() || s_[pos_] != '<') return Error("expected an element");
    ++pos_;
    std::string name = Name();
    if (name.empty()) return Error("empty element name");
    ++counts[name];
    std::map<std::string, std::string> attributes;
    for (;;) {
      Skip();
      if (pos_ >= s_.size()) return Error("unterminated tag <" + name);
      if (s_.substr(pos_, 2) == "/>") {
        pos_ += 2;
        if (name == "testsuite") testsuite_attributes.push_back(attributes);
        return std::nullopt;
      }
      if (s_[pos_] == '>') {
        ++pos_;
        break;
      }
      std::string attribute = Name();
      if (attribute.empty() || pos_ + 1 >= s_.size() || s_[pos_] != '=' || s_[pos_ + 1] != '"')
        return Error("malformed attribute in <" + name);
      pos_ += 2;
      size_t start = pos_;
      if (auto e = Text('"')) return e;
      if (pos_ >= s_.size()) return Error("unterminated attribute");
      if (!attributes.emplace(attribute, std::string(s_.substr(start, pos_ - start))).second)
        return Error("duplicate attribute " + attribute);
      ++pos_;
    }
    if (name == "testsuite") testsuite_attributes.push_back(attributes);
    for (;;) {
      if (auto e = Text('<')) return e;
      if (pos_ >= s_.size()) return Error("unclosed <" + name + ">");
      if (s_.substr(pos_, 2) == "</") {
        pos_ += 2;
        if (Name() != name) return Error("mismatched close of <" + name + ">");
        Skip();
        if (pos_ >= s_.size() || s_[pos_] != '>') return Error("malformed close tag");
        ++pos_;
        return std::nullopt;
      }
      if (auto e = Element()) return e;
    }
  }

  std::string_view s_;
  size_t pos_ = 0;
};

// ---- a KTAP v1 check: version line, plan, results numbered 1..N matching the plan, nested subtests ----

struct KtapTally {
  int ok = 0, not_ok = 0, skip = 0;
  std::vector<std::string> names;  // top level, in order
};

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

// Checks one (possibly nested) test list starting at lines[i], indented by `indent` spaces.
std::optional<std::string> CheckKtapBlock(const std::vector<std::string>& lines, size_t& i, size_t indent,
                                          KtapTally* tally) {
  static const std::regex kPlan("^1\\.\\.([0-9]+)$");
  static const std::regex kResult("^(ok|not ok) ([0-9]+) ([^#\\s][^#\\s]*)( # (SKIP|TODO|XFAIL)( .*)?)?$");
  const std::string pad(indent, ' ');
  auto body = [&](const std::string& line) -> std::optional<std::string> {
    if (line.compare(0, indent, pad) != 0) return std::nullopt;
    return line.substr(indent);
  };
  if (i >= lines.size() || body(lines[i]) != "KTAP version 1")
    return "line " + std::to_string(i + 1) + ": expected 'KTAP version 1'";
  ++i;
  while (i < lines.size() && body(lines[i]) && body(lines[i])->rfind("#", 0) == 0) ++i;  // "# Subtest: ..."
  std::smatch m;
  std::string plan_line = i < lines.size() && body(lines[i]) ? *body(lines[i]) : "";
  if (!std::regex_match(plan_line, m, kPlan))
    return "line " + std::to_string(i + 1) + ": expected a plan line";
  const int planned = std::stoi(m[1]);
  ++i;
  int results = 0;
  while (i < lines.size() && results < planned) {
    if (lines[i].compare(0, indent + 4, pad + "    ") == 0 && lines[i].substr(indent + 4, 4) == "KTAP") {
      KtapTally nested;
      if (auto e = CheckKtapBlock(lines, i, indent + 4, &nested)) return "subtest: " + *e;
      continue;
    }
    auto line = body(lines[i]);
    if (!line) return "line " + std::to_string(i + 1) + ": wrong indentation";
    if (line->rfind("#", 0) == 0) {
      ++i;
      continue;
    }
    std::string result = *line;
    if (!std::regex_match(result, m, kResult))
      return "line " + std::to_string(i + 1) + ": malformed: " + result;
    if (std::stoi(m[2]) != results + 1) return "line " + std::to_string(i + 1) + ": out of order";
    ++results;
    if (tally) {
      tally->names.push_back(m[3]);
      if (m[5] == "SKIP") ++tally->skip;
      else if (m[1] == "ok") ++tally->ok;
      else ++tally->not_ok;
    }
    ++i;
  }
  if (results != planned)
    return "plan says " + std::to_string(planned) + " results, found " + std::to_string(results);
  return std::nullopt;
}

std::optional<std::string> CheckKtap(const std::string& text, KtapTally* tally) {
  std::vector<std::string> lines = Lines(text);
  size_t i = 0;
  if (auto e = CheckKtapBlock(lines, i, 0, tally)) return e;
  for (; i < lines.size(); ++i)
    if (lines[i].rfind("#", 0) != 0) return "line " + std::to_string(i + 1) + " after the last result";
  return std::nullopt;
}

size_t Occurrences(const std::string& haystack, std::string_view needle) {
  size_t n = 0;
  for (size_t at = haystack.find(needle); at != std::string::npos; at = haystack.find(needle, at + 1)) ++n;
  return n;
}

// ---- JUnit ----

struct JUnitCounts {
  int testcases, failures, errors, skipped;
};

void ExpectJUnit(const json& doc, JUnitCounts want, std::string* xml_out = nullptr) {
  std::string xml = RenderJUnit(doc);
  XmlCheck check(xml);
  auto error = check.Run();
  ASSERT_FALSE(error) << *error << "\n" << xml;
  EXPECT_EQ(check.counts["testsuites"], 1);
  EXPECT_EQ(check.counts["testsuite"], 1);
  EXPECT_EQ(check.counts["testcase"], want.testcases) << xml;
  EXPECT_EQ(check.counts["failure"], want.failures) << xml;
  EXPECT_EQ(check.counts["error"], want.errors) << xml;
  EXPECT_EQ(check.counts["skipped"], want.skipped) << xml;
  ASSERT_EQ(check.testsuite_attributes.size(), 1u);
  auto& suite = check.testsuite_attributes[0];
  EXPECT_EQ(suite["tests"], std::to_string(want.testcases));
  EXPECT_EQ(suite["failures"], std::to_string(want.failures));
  EXPECT_EQ(suite["errors"], std::to_string(want.errors));
  EXPECT_EQ(suite["skipped"], std::to_string(want.skipped));
  if (xml_out) *xml_out = xml;
}

TEST(ReportJUnit, PassingRunIsOneCasePerPhasePlusVerificationAndVerdict) {
  ExpectJUnit(MakeRunDoc("pass", 0, true), {4, 0, 0, 0});
}

TEST(ReportJUnit, KernelViolationsFailVerificationAndVerdictWithTheList) {
  std::string xml;
  ExpectJUnit(MakeRunDoc("fail", 3, false), {4, 2, 0, 0}, &xml);
  EXPECT_NE(xml.find("kernel lost: block 17 (offset 69632)"), std::string::npos) << xml;
  EXPECT_NE(xml.find("block 19"), std::string::npos);
}

TEST(ReportJUnit, ListsAtMostOneHundredViolations) {
  std::string xml;
  ExpectJUnit(MakeRunDoc("fail", 150, false), {4, 2, 0, 0}, &xml);
  EXPECT_EQ(Occurrences(xml, "kernel lost: block"), 100u);
  EXPECT_NE(xml.find("50 more violation(s)"), std::string::npos);
}

TEST(ReportJUnit, SkippedRunSaysWhy) {
  std::string xml;
  ExpectJUnit(MakeRunDoc("skip", 0, false), {2, 0, 0, 2}, &xml);
  EXPECT_NE(xml.find("message=\"no RDMA device: /dev/infiniband is missing\""), std::string::npos) << xml;
}

TEST(ReportJUnit, MatrixIsOneCasePerCell) {
  std::string xml;
  ExpectJUnit(MakeMatrixDoc(), {4, 1, 0, 2}, &xml);
  EXPECT_NE(xml.find("name=\"odirect/ext4/shared/fsync\""), std::string::npos) << xml;
  EXPECT_NE(xml.find("message=\"refused EFAULT\""), std::string::npos);
}

TEST(ReportJUnit, MatrixOfKernelsIsOneCasePerCellAndKernelAndUnexpectedFails) {
  std::string xml;
  ExpectJUnit(MakeKernelMatrixDoc(), {3, 1, 0, 0}, &xml);
  EXPECT_NE(xml.find("classname=\"longpin.matrix.debian-6.1\""), std::string::npos) << xml;
  EXPECT_NE(xml.find("classname=\"longpin.matrix.host\""), std::string::npos) << xml;
  EXPECT_NE(xml.find("UNEXPECTED: granted, rule io_uring-file-eopnotsupp"), std::string::npos) << xml;
}

// KCIDB v5.3: the version, and every object's required fields (checkout: id, origin; build: id, origin,
// checkout_id; test: id, origin, build_id); ids are "origin:..."; no null anywhere; statuses from the enum;
// test paths dot-separated plain names; every test's build exists.
TEST(ReportKcidb, CarriesTheSchemasRequiredFieldsAndNoNulls) {
  const json k = json::parse(RenderKcidb(MakeKernelMatrixDoc()));
  EXPECT_EQ(k["version"]["major"], 5);
  EXPECT_EQ(k["version"]["minor"], 3);
  std::set<std::string> build_ids;
  for (const auto& c : k["checkouts"]) {
    EXPECT_TRUE(c["id"].is_string() && c["id"].get<std::string>().rfind("longpin:", 0) == 0) << c;
    EXPECT_EQ(c["origin"], "longpin");
  }
  for (const auto& b : k["builds"]) {
    EXPECT_TRUE(b["id"].is_string() && b["checkout_id"].is_string()) << b;
    EXPECT_EQ(b["origin"], "longpin");
    build_ids.insert(b["id"].get<std::string>());
  }
  EXPECT_EQ(build_ids.size(), 2u) << "a build per kernel";
  ASSERT_EQ(k["tests"].size(), 3u);
  std::set<std::string> test_ids, statuses;
  const std::regex path("^[A-Za-z0-9_-]+(\\.[A-Za-z0-9_-]+)*$");
  for (const auto& t : k["tests"]) {
    test_ids.insert(t["id"].get<std::string>());
    EXPECT_EQ(t["origin"], "longpin");
    EXPECT_TRUE(build_ids.count(t["build_id"].get<std::string>())) << t;
    EXPECT_TRUE(std::regex_match(t["path"].get<std::string>(), path)) << t["path"];
    statuses.insert(t["status"].get<std::string>());
  }
  EXPECT_EQ(test_ids.size(), 3u) << "unique test ids";
  EXPECT_EQ(statuses, (std::set<std::string>{"PASS", "FAIL"}));
  std::function<void(const json&)> no_null = [&](const json& j) {
    EXPECT_FALSE(j.is_null());
    if (j.is_structured())
      for (const auto& v : j) no_null(v);
  };
  no_null(k);
}

TEST(ReportJUnit, EscapesKernelLinesAndDropsInvalidBytes) {
  json doc = MakeRunDoc("fail", 1, false);
  doc["kernel_events"][0]["line"] = kHostileKernelLine;
  doc["reasons"].push_back(std::string("bad \"quote\" in <reason>"));
  std::string xml;
  ExpectJUnit(doc, {4, 2, 0, 0}, &xml);
  EXPECT_EQ(xml.find("<script"), std::string::npos);
  EXPECT_NE(
      xml.find("&lt;script&gt;alert(&quot;pwned&quot;)&lt;/script&gt; &amp; ]]&gt; \\x01 \xef\xbf\xbd end"),
      std::string::npos)
      << xml;
  // The task the kernel named, so a reader sees whether the event was this run's.
  EXPECT_NE(xml.find(" (PID 4242 &lt;i&gt;x&lt;/i&gt;, other process)"), std::string::npos) << xml;
}

TEST(ReportJUnit, UnknownVerdictIsAnError) {
  json doc = MakeRunDoc("pass", 0, false);
  doc["verdict"] = "error";
  ExpectJUnit(doc, {4, 0, 1, 0});
  doc.erase("verdict");
  ExpectJUnit(doc, {4, 0, 1, 0});
}

// ---- KTAP ----

TEST(ReportKtap, PassingRun) {
  std::string ktap = RenderKtap(MakeRunDoc("pass", 0, true));
  KtapTally tally;
  auto error = CheckKtap(ktap, &tally);
  ASSERT_FALSE(error) << *error << "\n" << ktap;
  EXPECT_EQ(tally.ok, 4);
  EXPECT_EQ(tally.not_ok, 0);
  EXPECT_EQ(tally.names,
            (std::vector<std::string>{"phase.baseline", "phase.pinned", "verification", "verdict"}));
}

TEST(ReportKtap, FailingRunHasDiagnosticsForEachViolation) {
  std::string ktap = RenderKtap(MakeRunDoc("fail", 2, false));
  KtapTally tally;
  auto error = CheckKtap(ktap, &tally);
  ASSERT_FALSE(error) << *error << "\n" << ktap;
  EXPECT_EQ(tally.ok, 2);
  EXPECT_EQ(tally.not_ok, 2);
  EXPECT_NE(ktap.find("\nnot ok 3 verification\n"), std::string::npos) << ktap;
  EXPECT_NE(ktap.find("\n# kernel lost: block 17 (offset 69632)"), std::string::npos) << ktap;
  EXPECT_NE(ktap.find("\n# kernel lost: block 18 (offset 73728)"), std::string::npos) << ktap;
}

TEST(ReportKtap, SkippedRunCarriesTheReason) {
  std::string ktap = RenderKtap(MakeRunDoc("skip", 0, false));
  KtapTally tally;
  auto error = CheckKtap(ktap, &tally);
  ASSERT_FALSE(error) << *error << "\n" << ktap;
  EXPECT_EQ(tally.skip, 2);
  EXPECT_NE(ktap.find("\nok 2 verdict # SKIP no RDMA device: /dev/infiniband is missing\n"),
            std::string::npos)
      << ktap;
}

TEST(ReportKtap, MatrixCellsNestTheirRunsAsSubtests) {
  std::string ktap = RenderKtap(MakeMatrixDoc());
  KtapTally tally;
  auto error = CheckKtap(ktap, &tally);
  ASSERT_FALSE(error) << *error << "\n" << ktap;
  EXPECT_EQ(tally.ok, 1);
  EXPECT_EQ(tally.not_ok, 1);
  EXPECT_EQ(tally.skip, 2);
  EXPECT_NE(ktap.find("\nok 3 iouring/ext4/shared/fsync # SKIP refused EFAULT\n"), std::string::npos) << ktap;
  EXPECT_NE(ktap.find("\n    not ok 3 verification\n"), std::string::npos) << ktap;
}

TEST(ReportKtap, KernelsAreSubtestsAndAnExpectedRefusalIsXfail) {
  const std::string ktap = RenderKtap(MakeKernelMatrixDoc());
  KtapTally tally;
  auto err = CheckKtap(ktap, &tally);
  ASSERT_FALSE(err.has_value()) << *err << "\n" << ktap;
  EXPECT_NE(ktap.find("\n1..2\n"), std::string::npos) << "one top-level test per kernel:\n" << ktap;
  EXPECT_NE(ktap.find("# Subtest: debian-6.1 (6.1.0-57-amd64)"), std::string::npos) << ktap;
  EXPECT_NE(ktap.find("ok 1 io_uring/ext4/shared/fsync # XFAIL refused EFAULT"), std::string::npos) << ktap;
  EXPECT_NE(ktap.find("not ok 2 debian-6.1"), std::string::npos) << "the UNEXPECTED cell fails its kernel:\n"
                                                                 << ktap;
  EXPECT_NE(ktap.find("ok 1 host"), std::string::npos) << ktap;
}

TEST(ReportKtap, MultiLineTextStaysInDiagnostics) {
  json doc = MakeRunDoc("fail", 0, false);
  doc["reasons"] = {"first line\nok 99 forged # SKIP by a newline"};
  std::string ktap = RenderKtap(doc);
  auto error = CheckKtap(ktap, nullptr);
  ASSERT_FALSE(error) << *error << "\n" << ktap;
  EXPECT_NE(ktap.find("\n# ok 99 forged"), std::string::npos) << ktap;
}

// ---- HTML ----

// The page may name the SVG namespace and nothing else that looks like a URL.
void ExpectNoExternalReference(const std::string& html) {
  std::string rest = html;
  for (size_t at; (at = rest.find("http://www.w3.org/2000/svg")) != std::string::npos;) rest.erase(at, 26);
  EXPECT_EQ(rest.find("http://"), std::string::npos);
  EXPECT_EQ(rest.find("https://"), std::string::npos);
  EXPECT_EQ(rest.find("<script"), std::string::npos);
  EXPECT_EQ(rest.find("<link"), std::string::npos);
  EXPECT_EQ(rest.find("src="), std::string::npos);
  EXPECT_EQ(rest.find("url("), std::string::npos);
  EXPECT_EQ(rest.find("@import"), std::string::npos);
}

TEST(ReportHtml, RunWithTimelineHasThreeChartsAndTheTables) {
  std::string html = RenderHtml(MakeRunDoc("fail", 3, true));
  ExpectNoExternalReference(html);
  EXPECT_EQ(Occurrences(html, "<svg "), 3u);
  EXPECT_NE(html.find("<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"latency-time\""), std::string::npos);
  EXPECT_EQ(Occurrences(html, "<circle "), 300u);  // one per sync, under the decimation threshold
  EXPECT_EQ(Occurrences(html, "class=\"pin-window\""), 2u * 10u);  // latency and vmstat charts
  EXPECT_EQ(Occurrences(html, "class=\"crash\""), 2u);             // latency and vmstat charts
  EXPECT_NE(html.find("class=\"nr-dirty\" d=\"M"), std::string::npos);
  EXPECT_NE(html.find("class=\"nr-writeback\" d=\"M"), std::string::npos);
  EXPECT_NE(html.find("<g class=\"bars\"><rect"), std::string::npos);
  EXPECT_NE(html.find("<table class=\"phases\">"), std::string::npos);
  EXPECT_NE(html.find("<table class=\"violations\">"), std::string::npos);
  EXPECT_NE(html.find("power-cut"), std::string::npos);
  EXPECT_NE(html.find("1 refused"), std::string::npos);
}

TEST(ReportHtml, EscapesKernelLines) {
  json doc = MakeRunDoc("fail", 1, true);
  doc["kernel_events"][0]["line"] = kHostileKernelLine;
  doc["hangs"] = {{{"role", "writer <b>0</b>"}, {"kernel_stack", "[<0>] folio_wait</script><script>x()"}}};
  std::string html = RenderHtml(doc);
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("<b>0"), std::string::npos);
  EXPECT_NE(html.find("&lt;script&gt;alert(&quot;pwned&quot;)&lt;/script&gt; &amp;"), std::string::npos);
  EXPECT_NE(html.find("writer &lt;b&gt;0&lt;/b&gt;"), std::string::npos);
  EXPECT_NE(html.find("<td>PID 4242 &lt;i&gt;x&lt;/i&gt; (other process)</td>"), std::string::npos);
}

TEST(ReportHtml, WithoutTimelineTheHistogramComesFromPercentiles) {
  std::string html = RenderHtml(MakeRunDoc("pass", 0, false));
  ExpectNoExternalReference(html);
  EXPECT_EQ(Occurrences(html, "<svg "), 1u);
  EXPECT_NE(html.find("no per-sync timeline in this report"), std::string::npos);
  EXPECT_EQ(Occurrences(html, "<rect x="), 10u + 2u);  // 5 percentiles x 2 phases, and 2 legend swatches
}

TEST(ReportHtml, MatrixIsAColouredTable) {
  std::string html = RenderHtml(MakeMatrixDoc());
  ExpectNoExternalReference(html);
  EXPECT_NE(html.find("<table class=\"matrix\">"), std::string::npos);
  EXPECT_EQ(Occurrences(html, "<a class=\"cell pass\""), 1u);
  EXPECT_EQ(Occurrences(html, "<a class=\"cell fail\""), 1u);
  EXPECT_EQ(Occurrences(html, "<a class=\"cell skip\""), 2u);
  EXPECT_EQ(Occurrences(html, "<details class=\"cell-report\""), 4u);
}

TEST(ReportHtml, LongRunsAreDecimatedKeepingTheOutliers) {
  json doc = MakeRunDoc("pass", 0, false);
  json syncs = json::array();
  for (int i = 0; i < 200000; ++i)
    syncs.push_back({i * 0.5, 1'000'000 + (i % 100) * 1000, i < 100000 ? 0 : 1});
  syncs[123457][1] = 9'000'000'000;  // one 9 s stall
  doc["timeline"] = {{"syncs", syncs}};
  std::string html = RenderHtml(doc);
  size_t circles = Occurrences(html, "<circle ");
  EXPECT_LE(circles, 2u * 2u * 900u);  // min and max per pixel column and phase
  EXPECT_GT(circles, 900u);
  EXPECT_NE(html.find("200000 syncs"), std::string::npos);
  EXPECT_LT(html.size(), 2u << 20);
  EXPECT_NE(html.find(">10 s</text>"), std::string::npos);  // the y axis reaches the stall
}

// ---- every renderer takes whatever it is given ----

TEST(ReportFormats, MissingAndMistypedKeysNeverThrow) {
  std::vector<json> docs = {
      json(nullptr),
      json::array({1, 2}),
      json::object(),
      json{{"verdict", 3}, {"phases", "x"}, {"verification", {{"violations", {1, "a", nullptr}}}}},
      json{{"phases", {{{"name", nullptr}, {"sync", {{"fsync", {{"count", -5}}}}}}}}},
      json{{"timeline",
            {{"syncs", {{1}, {"a", 2}, {nullptr, nullptr, nullptr}, {5, 1e30, -1}}},
             {"pins", {1, {2}, {3, "x"}}},
             {"vmstat", {{0, 1}}},
             {"crash_ms", "soon"}}}},
      json{{"cells", json::array()}},
      json{{"cells", {json::object(), 1, {{"report", "x"}, {"outcome", 7}}}}},
  };
  for (const auto& doc : docs) {
    SCOPED_TRACE(doc.dump());
    std::string xml = RenderJUnit(doc);
    auto error = XmlCheck(xml).Run();
    EXPECT_FALSE(error) << *error << "\n" << xml;
    std::string ktap = RenderKtap(doc);
    auto ktap_error = CheckKtap(ktap, nullptr);
    EXPECT_FALSE(ktap_error) << *ktap_error << "\n" << ktap;
    std::string html = RenderHtml(doc);
    EXPECT_NE(html.find("</html>"), std::string::npos);
    ExpectNoExternalReference(html);
  }
}

// ---- the document rendered is the document written ----

// A run with every part of the model filled in: crash cycles, race, crash, comparison, hangs, planted faults,
// writeback records and a timeline.
RunReport MakeFullRun() {
  RunReport r = MakeRun("fail", 1);
  r.sync_interval_s = 0.25;
  r.reproduce = "longpin run --seed 77";
  for (auto& p : r.phases) {
    p.sync_errors["fsync EIO"] = 2;
    p.pins.refused["EFAULT"] = 4;
    p.writeback.source = "tracefs ext4:ext4_writepages_result";
    for (uint64_t i = 0; i < 40; ++i) {
      SyncCallRecord c;
      c.duration_ns = 200'000 + i * 40'000;
      c.pages_written = 5 + i;
      c.off_cpu_ns = i * 1000;
      c.pinned = i % 2 == 0;
      p.writeback.syncs.push_back(c);
    }
  }
  r.hangs.push_back({"syncer", "fsync", 42, 2.5, "folio_wait", "a\nb\n"});
  r.crash.emplace();
  r.crash->model = "power-cut";
  r.crash->phase = "pinned";
  r.crash->at_s = 1.25;
  r.comparison.emplace();
  r.comparison->op = "fsync";
  r.comparison->p50 = {3.1, 2.5, 4.0};
  r.comparison->p99 = {3.2, 2.5, 4.0};
  r.comparison->p999 = {3.3, 2.5, 4.0};
  RaceReport race;
  race.script = "pin,write,sync";
  race.attempts = 5;
  race.first_finding_s = 0.5;
  race.examples.push_back({1, "kernel", 3, 12288, 2, "zero", "dma", "sync #2"});
  r.race = race;
  for (int i = 0; i < 50; ++i) r.timeline.syncs.push_back({i * 10.0, 1e6 + i * 1e5, double(i >= 25)});
  r.timeline.pins.push_back({100, 200, 0, 4096, 0});
  r.timeline.pins.push_back({300, -1, 0, 4096, 14});
  r.timeline.crash_ms = 450;
  for (int i = 0; i < 20; ++i) r.timeline.vmstat.push_back({i * 25.0, 100.0 + i, 5.0 * i});
  r.planted.push_back({"zeroed", 9, "zero", true, "zero", ""});
  r.pin_leak_pages = -3;
  r.cycles = {r, r};
  return r;
}

TEST(ReportJson, TheDocumentRenderedIsTheDocumentWritten) {
  const RunReport r = MakeFullRun();
  const json doc = ReportDocument(r);
  EXPECT_EQ(RenderJson(r), doc.dump(2) + "\n");
  // What `longpin report run.json` reads back is the object the run rendered from, so both render the same.
  const json read_back = json::parse(RenderJson(r));
  EXPECT_EQ(doc, read_back);
  EXPECT_EQ(RenderHtml(doc), RenderHtml(read_back));
  EXPECT_EQ(RenderJUnit(doc), RenderJUnit(read_back));
  EXPECT_EQ(RenderKtap(doc), RenderKtap(read_back));
  json matrix = {{"schema_version", 1},
                 {"cells", {{{"pinner", "vmsplice"}, {"outcome", "fail"}, {"report", doc}}}}};
  json matrix_read_back = json::parse(matrix.dump());
  EXPECT_EQ(RenderKcidb(matrix), RenderKcidb(matrix_read_back));
  EXPECT_EQ(RenderHtml(matrix), RenderHtml(matrix_read_back));
}

}  // namespace
}  // namespace longpin
