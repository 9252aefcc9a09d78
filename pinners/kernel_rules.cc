#include "pinners/kernel_rules.h"

#include <limits.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <toml++/toml.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>

#include "core/install_paths.h"
#include "pinners/pinner.h"

namespace longpin {
namespace {

const std::vector<std::string> kBackings = {"file", "shmem", "hugetlb", "anon"};
const std::vector<std::string> kMappings = {"shared", "private", "memfd", "thp", "hugetlb"};
const std::vector<std::string> kAccess = {"rw", "ro"};
const std::vector<std::string> kIoFs = {"block", "tmpfs"};
const std::vector<std::string> kAspects = {"pin", "reclaim"};
const std::vector<std::string> kReclaimOutcomes = {"kept", "stripped"};
const std::vector<std::string> kReferences = {"", "FOLL_PIN", "FOLL_GET/none"};
const std::vector<std::string> kRuleKeys = {
    "id",       "summary",  "source", "aspect", "since",   "until",        "kernels",      "pinners",
    "backings", "mappings", "access", "io_fs",  "outcome", "driver_since", "driver_until", "reference"};

std::string Join(const std::vector<std::string>& items, const char* separator) {
  std::string out;
  for (const auto& s : items) out += (out.empty() ? "" : separator) + s;
  return out;
}

bool Contains(const std::vector<std::string>& items, const std::string& s) {
  return std::find(items.begin(), items.end(), s) != items.end();
}

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

// A version as the rules file writes it: nothing but MAJOR.MINOR[.PATCH].
std::optional<KernelVersion> ParseExactVersion(std::string_view s) {
  size_t end = 0;
  auto v = ParseVersionPrefix(s, &end);
  if (!v || end != s.size()) return std::nullopt;
  return v;
}

// An NVIDIA driver version: "550", "550.67", "550.54.14".
std::optional<KernelVersion> ParseDriverVersion(std::string_view s) {
  KernelVersion v;
  size_t i = 0;
  if (!ReadNumber(s, &i, &v.major)) return std::nullopt;
  if (i == s.size()) return v;
  size_t end = 0;
  auto full = ParseVersionPrefix(s, &end);
  if (!full || end != s.size()) return std::nullopt;
  return full;
}

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

std::string At(const std::string& path, int line, const std::string& what) {
  return path + ":" + std::to_string(line) + ": " + what;
}

int LineOf(const toml::node& n) {
  return int(n.source().begin.line);
}

std::string TypeName(const toml::node& n) {
  return std::string(toml::impl::node_type_friendly_names[size_t(n.type())]);
}

// Reads one [[rule]] table; the error is the whole "FILE:LINE: what" line.
std::optional<KernelRule> ReadRule(const std::string& path, const toml::table& t, std::string* error) {
  KernelRule rule;
  rule.line = LineOf(t);
  auto fail = [&](const toml::node& n, const std::string& what) {
    *error = At(path, LineOf(n), (rule.id.empty() ? std::string() : "rule " + rule.id + ": ") + what);
    return std::nullopt;
  };
  // In file order, so that the first problem reported is the first in the file.
  std::vector<std::pair<std::string, const toml::node*>> keys;
  for (auto&& [key, value] : t) keys.emplace_back(std::string(key.str()), &value);
  std::sort(keys.begin(), keys.end(),
            [](const auto& a, const auto& b) { return LineOf(*a.second) < LineOf(*b.second); });
  if (const toml::node* id = t.get("id"))
    if (auto s = id->value_exact<std::string>()) rule.id = *s;

  auto text = [&](const toml::node& n, const std::string& key, std::string* out) -> bool {
    auto s = n.value_exact<std::string>();
    if (!s) {
      fail(n, key + ": expected a string, got " + TypeName(n));
      return false;
    }
    *out = *s;
    return true;
  };
  auto list = [&](const toml::node& n, const std::string& key, const std::vector<std::string>* allowed,
                  std::vector<std::string>* out) -> bool {
    const toml::array* a = n.as_array();
    if (!a) {
      fail(n, key + ": expected an array of strings, got " + TypeName(n));
      return false;
    }
    for (const auto& item : *a) {
      auto s = item.value_exact<std::string>();
      if (!s) {
        fail(n, key + ": expected an array of strings, an item is " + TypeName(item));
        return false;
      }
      if (allowed && !Contains(*allowed, *s)) {
        fail(n, key + ": unknown value '" + *s + "' (one of " + Join(*allowed, ", ") + ")");
        return false;
      }
      if (key == "pinners" && !FindPinner(*s)) {
        std::vector<std::string> names;
        for (const auto& p : PinnerRegistry()) names.push_back(p.name);
        fail(n, key + ": unknown pinner '" + *s + "' (one of " + Join(names, ", ") + ")");
        return false;
      }
      out->push_back(*s);
    }
    if (out->empty()) {
      fail(n, key + ": an empty list matches nothing; leave the key out to match anything");
      return false;
    }
    return true;
  };
  auto version = [&](const toml::node& n, const std::string& key) -> std::optional<KernelVersion> {
    std::string s;
    if (!text(n, key, &s)) return std::nullopt;
    const bool driver = key.rfind("driver_", 0) == 0;
    auto v = driver ? ParseDriverVersion(s) : ParseExactVersion(s);
    if (!v)
      fail(n, key + ": '" + s + "' is not a version (" +
                  (driver ? "MAJOR[.MINOR[.PATCH]]" : "MAJOR.MINOR or MAJOR.MINOR.PATCH") + ")");
    return v;
  };
  auto range = [&](const toml::node& where, std::optional<KernelVersion> since,
                   std::optional<KernelVersion> until,
                   const std::string& what) -> std::optional<VersionRange> {
    VersionRange r{*since, until};
    if (until && !(*since < *until)) {
      fail(where, what + ": empty range " + ToString(*since) + ".." + ToString(*until) +
                      " (until is exclusive and must come after since)");
      return std::nullopt;
    }
    return r;
  };

  const toml::node* since_node = nullptr;
  const toml::node* until_node = nullptr;
  const toml::node* driver_since_node = nullptr;
  const toml::node* driver_until_node = nullptr;
  const toml::node* outcome_node = nullptr;
  const toml::node* reference_node = nullptr;
  for (const auto& [key, value] : keys) {
    const toml::node& n = *value;
    if (!Contains(kRuleKeys, key))
      return fail(n, "unknown key '" + key + "' (a rule's keys: " + Join(kRuleKeys, ", ") + ")");
    bool ok = true;
    if (key == "id")
      ok = text(n, key, &rule.id);
    else if (key == "summary")
      ok = text(n, key, &rule.summary);
    else if (key == "source")
      ok = text(n, key, &rule.source);
    else if (key == "aspect") {
      ok = text(n, key, &rule.aspect);
      if (ok && !Contains(kAspects, rule.aspect))
        return fail(n, "aspect: unknown value '" + rule.aspect + "' (one of " + Join(kAspects, ", ") + ")");
    } else if (key == "since")
      since_node = &n;
    else if (key == "until")
      until_node = &n;
    else if (key == "driver_since")
      driver_since_node = &n;
    else if (key == "driver_until")
      driver_until_node = &n;
    else if (key == "outcome")
      outcome_node = &n;
    else if (key == "reference")
      reference_node = &n;
    else if (key == "pinners")
      ok = list(n, key, nullptr, &rule.pinners);
    else if (key == "backings")
      ok = list(n, key, &kBackings, &rule.backings);
    else if (key == "mappings")
      ok = list(n, key, &kMappings, &rule.mappings);
    else if (key == "access")
      ok = list(n, key, &kAccess, &rule.access);
    else if (key == "io_fs")
      ok = list(n, key, &kIoFs, &rule.io_fs);
    else if (key == "kernels") {
      const toml::array* a = n.as_array();
      if (!a || a->empty())
        return fail(n, "kernels: expected an array of {since = \"X.Y\", until = \"X.Y\"} tables");
      for (const auto& item : *a) {
        const toml::table* r = item.as_table();
        if (!r)
          return fail(n,
                      "kernels: expected {since = \"X.Y\", until = \"X.Y\"}, an item is " + TypeName(item));
        for (auto&& [k, v] : *r)
          if (k.str() != "since" && k.str() != "until")
            return fail(n, "kernels: unknown key '" + std::string(k.str()) + "' (since, until)");
        const toml::node* s = r->get("since");
        if (!s) return fail(n, "kernels: every range needs a since");
        auto sv = version(*s, "kernels.since");
        if (!sv) return std::nullopt;
        std::optional<KernelVersion> uv;
        if (const toml::node* u = r->get("until")) {
          uv = version(*u, "kernels.until");
          if (!uv) return std::nullopt;
        }
        auto kr = range(n, sv, uv, "kernels");
        if (!kr) return std::nullopt;
        rule.kernels.push_back(*kr);
      }
    }
    if (!ok) return std::nullopt;
  }

  auto missing = [&](const char* key) {
    *error = At(path, rule.line,
                (rule.id.empty() ? std::string() : "rule " + rule.id + ": ") + "missing key '" + key + "'");
    return std::nullopt;
  };
  if (rule.id.empty()) return missing("id");
  if (rule.summary.empty()) return missing("summary");
  if (rule.source.empty()) return missing("source");
  if (!outcome_node) return missing("outcome");

  // Kernel versions: since/until for one range, or kernels for several (a mainline release and its
  // backports).
  if (since_node && !rule.kernels.empty()) return fail(*since_node, "give since/until or kernels, not both");
  if (until_node && !since_node) return fail(*until_node, "until without since");
  if (since_node) {
    auto since = version(*since_node, "since");
    if (!since) return std::nullopt;
    std::optional<KernelVersion> until;
    if (until_node) {
      until = version(*until_node, "until");
      if (!until) return std::nullopt;
    }
    auto r = range(*since_node, since, until, "since/until");
    if (!r) return std::nullopt;
    rule.kernels.push_back(*r);
  }
  if (rule.kernels.empty()) return missing("since");
  std::sort(rule.kernels.begin(), rule.kernels.end(),
            [](const VersionRange& a, const VersionRange& b) { return a.since < b.since; });
  rule.since = rule.kernels.front().since;
  rule.until = rule.kernels.back().until;
  for (const auto& r : rule.kernels)
    if (!r.until) rule.until.reset();

  if (driver_until_node && !driver_since_node)
    return fail(*driver_until_node, "driver_until without driver_since");
  if (driver_since_node) {
    auto since = version(*driver_since_node, "driver_since");
    if (!since) return std::nullopt;
    std::optional<KernelVersion> until;
    if (driver_until_node) {
      until = version(*driver_until_node, "driver_until");
      if (!until) return std::nullopt;
    }
    rule.driver = range(*driver_since_node, since, until, "driver_since/driver_until");
    if (!rule.driver) return std::nullopt;
  }

  // Outcome: one string, or an array of the outcomes that are all as expected (a rule that promises nothing
  // either way still says so, and stops a less specific rule from deciding).
  if (const toml::array* a = outcome_node->as_array()) {
    for (const auto& item : *a) {
      auto s = item.value_exact<std::string>();
      if (!s) return fail(*outcome_node, "outcome: expected a string or an array of strings");
      rule.outcomes.push_back(*s);
    }
  } else if (auto s = outcome_node->value_exact<std::string>()) {
    rule.outcomes.push_back(*s);
  } else {
    return fail(*outcome_node, std::string("outcome: expected a string or an array of strings, got ") +
                                   TypeName(*outcome_node));
  }
  if (rule.outcomes.empty()) return fail(*outcome_node, "outcome: an empty list");
  for (const auto& o : rule.outcomes) {
    const bool refused =
        o.rfind("refused E", 0) == 0 && o.size() > 9 &&
        std::all_of(o.begin() + 8, o.end(), [](char c) { return std::isupper(c) || std::isdigit(c); });
    const bool ok = rule.aspect == "pin" ? (o == "granted" || refused) : Contains(kReclaimOutcomes, o);
    if (!ok)
      return fail(*outcome_node, "outcome: '" + o + "' is not an outcome of aspect " + rule.aspect + " (" +
                                     (rule.aspect == "pin" ? std::string("granted, refused ERRNO-NAME")
                                                           : Join(kReclaimOutcomes, ", ")) +
                                     ")");
  }
  rule.outcome = Join(rule.outcomes, " or ");

  if (reference_node) {
    if (!text(*reference_node, "reference", &rule.reference)) return std::nullopt;
    if (!Contains(kReferences, rule.reference))
      return fail(*reference_node,
                  "reference: unknown value '" + rule.reference + "' (FOLL_PIN, FOLL_GET/none)");
    if (!rule.reference.empty() && !Contains(rule.outcomes, "granted"))
      return fail(*reference_node, "reference: only a granted pin has a reference to measure");
  }
  return rule;
}

// Two equally specific rules that share a cell must agree on it, unless a more specific rule decides all of
// the cells they share.
std::optional<std::string> CheckConflicts(const std::string& path, const std::vector<KernelRule>& rules) {
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
      return At(path, b.line,
                "rule " + b.id + " and rule " + a.id + " (line " + std::to_string(a.line) +
                    ") are equally specific and both match " + ExampleCell(*box) +
                    " with different outcomes (" + b.Expected() + " vs " + a.Expected() +
                    "): narrow one of them, or add a more specific rule for the cells they share");
    }
  return std::nullopt;
}

bool IsFile(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
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
  utsname u{};
  if (::uname(&u) != 0) return std::nullopt;
  return ParseKernelRelease(u.release);
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

std::optional<KernelRules> LoadKernelRules(const std::string& path, std::string* error) {
  toml::table table;
  try {
    table = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    const std::string what(e.description());
    if (e.source().begin.line == 0) {
      *error = path + ": " + what;  // not readable at all
      return std::nullopt;
    }
    *error = At(path, int(e.source().begin.line), what);
    return std::nullopt;
  }
  KernelRules out;
  out.path = path;
  for (auto&& [key, value] : table) {
    const std::string k(key.str());
    if (k == "schema") {
      if (value.value_exact<int64_t>() != 1) {
        *error = At(path, LineOf(value), "schema: this longpin reads schema 1");
        return std::nullopt;
      }
    } else if (k != "rule") {
      *error =
          At(path, LineOf(value), "unknown key '" + k + "' (the file holds schema = 1 and [[rule]] tables)");
      return std::nullopt;
    }
  }
  const toml::node* rules = table.get("rule");
  if (!rules || !rules->is_array_of_tables()) {
    *error = At(path, rules ? LineOf(*rules) : 1, "no [[rule]] tables");
    return std::nullopt;
  }
  std::set<std::string> ids;
  for (const auto& item : *rules->as_array()) {
    auto rule = ReadRule(path, *item.as_table(), error);
    if (!rule) return std::nullopt;
    if (!ids.insert(rule->id).second) {
      *error = At(path, rule->line, "rule " + rule->id + ": a second rule with this id");
      return std::nullopt;
    }
    out.rules.push_back(std::move(*rule));
  }
  if (auto conflict = CheckConflicts(path, out.rules)) {
    *error = *conflict;
    return std::nullopt;
  }
  return out;
}

std::optional<std::string> FindKernelRulesFile() {
  if (const char* env = std::getenv("LONGPIN_RULES"); env && *env) return std::string(env);
  // An installed binary judges by the rules installed with it (core/install_paths.h).
  if (auto beside = InstalledBesideBinary("kernel-rules.toml")) return beside;
  std::vector<std::string> candidates;
#ifdef LONGPIN_RULES_FILE
  candidates.push_back(LONGPIN_RULES_FILE);
#endif
#ifdef LONGPIN_INSTALLED_RULES_FILE
  candidates.push_back(LONGPIN_INSTALLED_RULES_FILE);
#endif
  for (const auto& c : candidates)
    if (IsFile(c)) return c;
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
