// The rules' meaning: which rule decides a matrix cell and whether the cell's outcome is as it says; kernel
// versions; the check that no two rules judge one cell differently. The file's loader is
// kernel_rules_file.cc.
#include "pinners/kernel_rules.h"

#include <limits.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <set>

#include "core/kernel_release.h"
#include "pinners/kernel_rules_detail.h"

namespace longpin {
namespace kernel_rules_detail {

std::string Join(const std::vector<std::string>& items, const char* separator) {
  std::string out;
  for (const auto& s : items) out += (out.empty() ? "" : separator) + s;
  return out;
}

bool Contains(const std::vector<std::string>& items, const std::string& s) {
  return std::find(items.begin(), items.end(), s) != items.end();
}

std::string At(const std::string& path, int line, const std::string& what) {
  return path + ":" + std::to_string(line) + ": " + what;
}

}  // namespace kernel_rules_detail

namespace {

using kernel_rules_detail::Contains;
using kernel_rules_detail::Join;
using kernel_rules_detail::ParseDriverVersion;

// Reads "N" at *pos and moves past it; false when there is no digit there.
bool ReadNumber(std::string_view s, size_t* pos, int* out) {
  size_t i = *pos;
  long value = 0;
  while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) {
    value = value * 10 + (s[i] - '0');
    if (value > INT_MAX) return false;
    ++i;
  }
  if (i == *pos) return false;
  *out = int(value);
  *pos = i;
  return true;
}

// MAJOR.MINOR[.PATCH] at the start of s; *end is where it stopped.
std::optional<KernelVersion> ParseVersionPrefix(std::string_view s, size_t* end) {
  KernelVersion v;
  size_t i = 0;
  if (!ReadNumber(s, &i, &v.major) || i >= s.size() || s[i] != '.') return std::nullopt;
  ++i;
  if (!ReadNumber(s, &i, &v.minor)) return std::nullopt;
  if (i < s.size() && s[i] == '.') {
    size_t j = i + 1;
    if (ReadNumber(s, &j, &v.patch)) i = j;
  }
  *end = i;
  return v;
}

}  // namespace

std::optional<KernelVersion> kernel_rules_detail::ParseExactVersion(std::string_view s) {
  size_t end = 0;
  auto v = ParseVersionPrefix(s, &end);
  if (!v || end != s.size()) return std::nullopt;
  return v;
}

std::optional<KernelVersion> kernel_rules_detail::ParseDriverVersion(std::string_view s) {
  KernelVersion v;
  size_t i = 0;
  if (!ReadNumber(s, &i, &v.major)) return std::nullopt;
  if (i == s.size()) return v;
  size_t end = 0;
  auto full = ParseVersionPrefix(s, &end);
  if (!full || end != s.size()) return std::nullopt;
  return full;
}

namespace {

bool Overlap(const VersionRange& a, const VersionRange& b) {
  const KernelVersion since = std::max(a.since, b.since);
  std::optional<KernelVersion> until = a.until;
  if (b.until && (!until || *b.until < *until)) until = b.until;
  return !until || since < *until;
}

std::optional<VersionRange> Intersection(const VersionRange& a, const VersionRange& b) {
  if (!Overlap(a, b)) return std::nullopt;
  VersionRange r{std::max(a.since, b.since), a.until};
  if (b.until && (!r.until || *b.until < *r.until)) r.until = b.until;
  return r;
}

bool RangeWithin(const VersionRange& inner, const VersionRange& outer) {
  if (inner.since < outer.since) return false;
  if (!outer.until) return true;
  return inner.until && *inner.until <= *outer.until;
}

bool ListMatches(const std::vector<std::string>& wanted, const std::string& value) {
  return wanted.empty() || Contains(wanted, value);
}

// The values two match lists share: empty means "any" (both empty), nullopt means none (they do not overlap).
std::optional<std::vector<std::string>> ListIntersection(const std::vector<std::string>& a,
                                                         const std::vector<std::string>& b) {
  if (a.empty()) return b;
  if (b.empty()) return a;
  std::vector<std::string> both;
  for (const auto& s : a)
    if (Contains(b, s)) both.push_back(s);
  if (both.empty()) return std::nullopt;
  return both;
}

// The cells two rules both match, as a rule-shaped box; nullopt when they share none.
std::optional<KernelRule> SharedCells(const KernelRule& a, const KernelRule& b) {
  if (a.aspect != b.aspect) return std::nullopt;
  KernelRule box;
  box.aspect = a.aspect;
  for (auto list : {&KernelRule::pinners, &KernelRule::backings, &KernelRule::mappings, &KernelRule::access,
                    &KernelRule::io_fs}) {
    auto shared = ListIntersection(a.*list, b.*list);
    if (!shared) return std::nullopt;
    box.*list = *shared;
  }
  for (const auto& ra : a.kernels)
    for (const auto& rb : b.kernels)
      if (auto r = Intersection(ra, rb)) box.kernels.push_back(*r);
  if (box.kernels.empty()) return std::nullopt;
  if (a.driver && b.driver) {
    box.driver = Intersection(*a.driver, *b.driver);
    if (!box.driver) return std::nullopt;
  } else {
    box.driver = a.driver ? a.driver : b.driver;
  }
  return box;
}

bool ListCovers(const std::vector<std::string>& outer, const std::vector<std::string>& inner) {
  if (outer.empty()) return true;
  if (inner.empty()) return false;
  return std::all_of(inner.begin(), inner.end(), [&](const std::string& s) { return Contains(outer, s); });
}

// Whether rule c matches every cell of box: then c, not the two rules that made the box, decides them.
bool Covers(const KernelRule& c, const KernelRule& box) {
  if (c.aspect != box.aspect) return false;
  if (!ListCovers(c.pinners, box.pinners) || !ListCovers(c.backings, box.backings) ||
      !ListCovers(c.mappings, box.mappings) || !ListCovers(c.access, box.access) ||
      !ListCovers(c.io_fs, box.io_fs))
    return false;
  for (const auto& r : box.kernels)
    if (std::none_of(c.kernels.begin(), c.kernels.end(),
                     [&](const VersionRange& cr) { return RangeWithin(r, cr); }))
      return false;
  if (c.driver && (!box.driver || !RangeWithin(*box.driver, *c.driver))) return false;
  return true;
}

// One cell of the box, in words, for an error message.
std::string ExampleCell(const KernelRule& box) {
  std::string out;
  auto add = [&](const char* name, const std::vector<std::string>& values) {
    if (!values.empty()) out += std::string(out.empty() ? "" : " ") + name + "=" + values.front();
  };
  add("pinner", box.pinners);
  add("backing", box.backings);
  add("mapping", box.mappings);
  add("access", box.access);
  add("io_fs", box.io_fs);
  out += std::string(out.empty() ? "" : " ") + "kernel=" + ToString(box.kernels.front().since);
  if (box.driver) out += " driver=" + ToString(box.driver->since);
  return out;
}

bool SameVerdict(const KernelRule& a, const KernelRule& b) {
  std::set<std::string> oa(a.outcomes.begin(), a.outcomes.end()), ob(b.outcomes.begin(), b.outcomes.end());
  return oa == ob && a.reference == b.reference;
}

std::string Normalized(const std::string& measured) {
  if (measured.rfind("FOLL_PIN", 0) == 0) return "FOLL_PIN";
  if (measured == "FOLL_GET/none") return measured;
  return "";  // "", "unmeasured", "unclear": nothing to compare
}

}  // namespace

std::optional<KernelVersion> ParseKernelRelease(std::string_view release) {
  size_t end = 0;
  return ParseVersionPrefix(release, &end);
}

std::optional<KernelVersion> ParseProcVersion(std::string_view text) {
  // Debian: "... #1 SMP PREEMPT_DYNAMIC Debian 6.1.158-1 (2025-11-09)": the package version is the upstream
  // one.
  for (size_t at = text.find(" Debian "); at != std::string_view::npos; at = text.find(" Debian ", at + 1)) {
    size_t end = 0;
    if (auto v = ParseVersionPrefix(text.substr(at + 8), &end)) return v;
  }
  constexpr std::string_view kPrefix = "Linux version ";
  if (text.rfind(kPrefix, 0) == 0) return ParseKernelRelease(text.substr(kPrefix.size()));
  return std::nullopt;
}

std::optional<KernelVersion> RunningKernelVersion() {
  std::ifstream f("/proc/version");
  std::string text;
  if (std::getline(f, text))
    if (auto v = ParseProcVersion(text)) return v;
  return ParseKernelRelease(KernelRelease());
}

std::string ToString(KernelVersion v) {
  std::string s = std::to_string(v.major) + "." + std::to_string(v.minor);
  if (v.patch != 0) s += "." + std::to_string(v.patch);
  return s;
}

std::string ToString(const VersionRange& r) {
  return ToString(r.since) + ".." + (r.until ? ToString(*r.until) : "");
}

bool KernelRule::Matches(const PinCell& c) const {
  if (c.aspect != aspect) return false;
  if (!ListMatches(pinners, c.pinner) || !ListMatches(backings, c.backing) ||
      !ListMatches(mappings, c.mapping) || !ListMatches(access, c.access) || !ListMatches(io_fs, c.io_fs))
    return false;
  if (std::none_of(kernels.begin(), kernels.end(),
                   [&](const VersionRange& r) { return r.Contains(c.kernel); }))
    return false;
  if (driver) {
    auto v = ParseDriverVersion(c.driver_version);
    if (!v || !driver->Contains(*v)) return false;
  }
  return true;
}

int KernelRule::Specificity() const {
  return int(!pinners.empty()) + int(!backings.empty()) + int(!mappings.empty()) + int(!access.empty()) +
         int(!io_fs.empty()) + int(driver.has_value());
}

std::string KernelRule::KernelsText() const {
  std::vector<std::string> parts;
  for (const auto& r : kernels) parts.push_back(ToString(r));
  return Join(parts, ", ");
}

std::string KernelRule::Expected() const {
  return reference.empty() ? outcome : outcome + " with " + reference;
}

std::optional<std::string> kernel_rules_detail::CheckConflicts(const std::string& path,
                                                               const std::vector<KernelRule>& rules) {
  for (size_t j = 0; j < rules.size(); ++j)
    for (size_t i = 0; i < j; ++i) {
      const KernelRule& a = rules[i];
      const KernelRule& b = rules[j];
      if (a.Specificity() != b.Specificity() || SameVerdict(a, b)) continue;
      auto box = SharedCells(a, b);
      if (!box) continue;
      const bool decided_elsewhere = std::any_of(rules.begin(), rules.end(), [&](const KernelRule& c) {
        return c.Specificity() > a.Specificity() && Covers(c, *box);
      });
      if (decided_elsewhere) continue;
      return kernel_rules_detail::At(
          path, b.line,
          "rule " + b.id + " and rule " + a.id + " (line " + std::to_string(a.line) +
              ") are equally specific and both match " + ExampleCell(*box) + " with different outcomes (" +
              b.Expected() + " vs " + a.Expected() +
              "): narrow one of them, or add a more specific rule for the cells they share");
    }
  return std::nullopt;
}

const KernelRule* DecidingRule(const KernelRules& rules, const PinCell& cell) {
  const KernelRule* best = nullptr;
  for (const auto& r : rules.rules)
    if (r.Matches(cell) && (!best || r.Specificity() > best->Specificity())) best = &r;
  return best;
}

RuleJudgement JudgeCell(const KernelRules& rules, const PinCell& cell, const std::string& pin_outcome,
                        const std::string& measured_reference) {
  RuleJudgement j;
  j.rule = DecidingRule(rules, cell);
  if (!j.rule) {
    j.text = "no rule: outcome recorded, not judged";
    return j;
  }
  const KernelRule& r = *j.rule;
  j.expected = r.Expected();
  const std::string measured = Normalized(measured_reference);
  const bool outcome_ok = Contains(r.outcomes, pin_outcome);
  // A reference is compared only where both sides have one: a refused pin, or counters that could not tell,
  // leave the outcome alone to judge.
  const bool reference_ok =
      r.reference.empty() || measured.empty() || pin_outcome != "granted" || measured == r.reference;
  j.as_expected = outcome_ok && reference_ok;
  if (*j.as_expected) {
    j.text = "as expected (rule " + r.id + ")";
  } else {
    const std::string seen =
        !outcome_ok || measured.empty() ? pin_outcome : pin_outcome + " with " + measured_reference;
    j.text = "UNEXPECTED: " + (seen.empty() ? std::string("no outcome") : seen) + ", rule " + r.id + " (" +
             r.KernelsText() + ") says " + j.expected;
  }
  return j;
}

}  // namespace longpin
