// The rules file's loader: kernel-rules.toml into KernelRules, every problem one "FILE:LINE: what" line
// (docs/kernel-rules.md). What the rules mean for a cell is kernel_rules.cc's.
#include <sys/stat.h>
#include <toml++/toml.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <set>

#include "core/install_paths.h"
#include "pinners/kernel_rules.h"
#include "pinners/kernel_rules_detail.h"
#include "pinners/pinner.h"

namespace longpin {
namespace {

using kernel_rules_detail::At;
using kernel_rules_detail::Contains;
using kernel_rules_detail::Join;

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

int LineOf(const toml::node& n) {
  return int(n.source().begin.line);
}

std::string TypeName(const toml::node& n) {
  return std::string(toml::impl::node_type_friendly_names[size_t(n.type())]);
}

// Reads one [[rule]] table. Each step returns false after writing the whole "FILE:LINE: what" line to
// *error; keys are read in file order, so that the first problem reported is the first in the file.
class RuleReader {
 public:
  RuleReader(const std::string& path, const toml::table& table, std::string* error)
      : path_(path), table_(table), error_(error) {}

  std::optional<KernelRule> Read() {
    rule_.line = LineOf(table_);
    if (const toml::node* id = table_.get("id"))
      if (auto s = id->value_exact<std::string>()) rule_.id = *s;
    std::vector<std::pair<std::string, const toml::node*>> keys;
    for (auto&& [key, value] : table_) keys.emplace_back(std::string(key.str()), &value);
    std::sort(keys.begin(), keys.end(),
              [](const auto& a, const auto& b) { return LineOf(*a.second) < LineOf(*b.second); });
    for (const auto& [key, value] : keys)
      if (!ReadKey(key, *value)) return std::nullopt;
    if (rule_.id.empty()) return Missing("id");
    if (rule_.summary.empty()) return Missing("summary");
    if (rule_.source.empty()) return Missing("source");
    if (!outcome_) return Missing("outcome");
    if (!ReadKernelVersions() || !ReadDriverVersions() || !ReadOutcome() || !ReadReference())
      return std::nullopt;
    return rule_;
  }

 private:
  bool Fail(const toml::node& n, const std::string& what) {
    *error_ = At(path_, LineOf(n), (rule_.id.empty() ? std::string() : "rule " + rule_.id + ": ") + what);
    return false;
  }

  std::nullopt_t Missing(const char* key) {
    *error_ =
        At(path_, rule_.line,
           (rule_.id.empty() ? std::string() : "rule " + rule_.id + ": ") + "missing key '" + key + "'");
    return std::nullopt;
  }

  bool ReadKey(const std::string& key, const toml::node& n) {
    if (!Contains(kRuleKeys, key))
      return Fail(n, "unknown key '" + key + "' (a rule's keys: " + Join(kRuleKeys, ", ") + ")");
    if (key == "id") return Text(n, key, &rule_.id);
    if (key == "summary") return Text(n, key, &rule_.summary);
    if (key == "source") return Text(n, key, &rule_.source);
    if (key == "aspect") {
      if (!Text(n, key, &rule_.aspect)) return false;
      if (!Contains(kAspects, rule_.aspect))
        return Fail(n, "aspect: unknown value '" + rule_.aspect + "' (one of " + Join(kAspects, ", ") + ")");
      return true;
    }
    // Read once all keys are known: they depend on each other (since/until or kernels, outcome and aspect).
    const std::pair<const char*, const toml::node**> deferred[] = {
        {"since", &since_},     {"until", &until_},         {"driver_since", &driver_since_},
        {"outcome", &outcome_}, {"reference", &reference_}, {"driver_until", &driver_until_}};
    for (const auto& [name, slot] : deferred)
      if (key == name) {
        *slot = &n;
        return true;
      }
    if (key == "pinners") return List(n, key, nullptr, &rule_.pinners);
    if (key == "backings") return List(n, key, &kBackings, &rule_.backings);
    if (key == "mappings") return List(n, key, &kMappings, &rule_.mappings);
    if (key == "access") return List(n, key, &kAccess, &rule_.access);
    if (key == "io_fs") return List(n, key, &kIoFs, &rule_.io_fs);
    return ReadKernels(n);
  }

  bool Text(const toml::node& n, const std::string& key, std::string* out) {
    auto s = n.value_exact<std::string>();
    if (!s) return Fail(n, key + ": expected a string, got " + TypeName(n));
    *out = *s;
    return true;
  }

  bool List(const toml::node& n, const std::string& key, const std::vector<std::string>* allowed,
            std::vector<std::string>* out) {
    const toml::array* a = n.as_array();
    if (!a) return Fail(n, key + ": expected an array of strings, got " + TypeName(n));
    for (const auto& item : *a) {
      auto s = item.value_exact<std::string>();
      if (!s) return Fail(n, key + ": expected an array of strings, an item is " + TypeName(item));
      if (allowed && !Contains(*allowed, *s))
        return Fail(n, key + ": unknown value '" + *s + "' (one of " + Join(*allowed, ", ") + ")");
      if (key == "pinners" && !FindPinner(*s)) {
        std::vector<std::string> names;
        for (const auto& p : PinnerRegistry()) names.push_back(p.name);
        return Fail(n, key + ": unknown pinner '" + *s + "' (one of " + Join(names, ", ") + ")");
      }
      out->push_back(*s);
    }
    if (out->empty())
      return Fail(n, key + ": an empty list matches nothing; leave the key out to match anything");
    return true;
  }

  std::optional<KernelVersion> Version(const toml::node& n, const std::string& key) {
    std::string s;
    if (!Text(n, key, &s)) return std::nullopt;
    const bool driver = key.rfind("driver_", 0) == 0;
    auto v = driver ? kernel_rules_detail::ParseDriverVersion(s) : kernel_rules_detail::ParseExactVersion(s);
    if (!v)
      Fail(n, key + ": '" + s + "' is not a version (" +
                  (driver ? "MAJOR[.MINOR[.PATCH]]" : "MAJOR.MINOR or MAJOR.MINOR.PATCH") + ")");
    return v;
  }

  // [since, until) from their nodes (until may be absent); an empty range is refused at `where`.
  std::optional<VersionRange> Range(const toml::node& where, const toml::node& since_node,
                                    const toml::node* until_node, const std::string& since_key,
                                    const std::string& until_key, const std::string& what) {
    auto since = Version(since_node, since_key);
    if (!since) return std::nullopt;
    std::optional<KernelVersion> until;
    if (until_node) {
      until = Version(*until_node, until_key);
      if (!until) return std::nullopt;
    }
    if (until && !(*since < *until)) {
      Fail(where, what + ": empty range " + ToString(*since) + ".." + ToString(*until) +
                      " (until is exclusive and must come after since)");
      return std::nullopt;
    }
    return VersionRange{*since, until};
  }

  bool ReadKernels(const toml::node& n) {
    const toml::array* a = n.as_array();
    if (!a || a->empty())
      return Fail(n, "kernels: expected an array of {since = \"X.Y\", until = \"X.Y\"} tables");
    for (const auto& item : *a) {
      const toml::table* r = item.as_table();
      if (!r)
        return Fail(n, "kernels: expected {since = \"X.Y\", until = \"X.Y\"}, an item is " + TypeName(item));
      for (auto&& [k, v] : *r)
        if (k.str() != "since" && k.str() != "until")
          return Fail(n, "kernels: unknown key '" + std::string(k.str()) + "' (since, until)");
      const toml::node* s = r->get("since");
      if (!s) return Fail(n, "kernels: every range needs a since");
      auto range = Range(n, *s, r->get("until"), "kernels.since", "kernels.until", "kernels");
      if (!range) return false;
      rule_.kernels.push_back(*range);
    }
    return true;
  }

  // Kernel versions: since/until for one range, or kernels for several (a mainline release and its
  // backports).
  bool ReadKernelVersions() {
    if (since_ && !rule_.kernels.empty()) return Fail(*since_, "give since/until or kernels, not both");
    if (until_ && !since_) return Fail(*until_, "until without since");
    if (since_) {
      auto r = Range(*since_, *since_, until_, "since", "until", "since/until");
      if (!r) return false;
      rule_.kernels.push_back(*r);
    }
    if (rule_.kernels.empty()) {
      Missing("since");
      return false;
    }
    std::sort(rule_.kernels.begin(), rule_.kernels.end(),
              [](const VersionRange& a, const VersionRange& b) { return a.since < b.since; });
    rule_.since = rule_.kernels.front().since;
    rule_.until = rule_.kernels.back().until;
    for (const auto& r : rule_.kernels)
      if (!r.until) rule_.until.reset();
    return true;
  }

  bool ReadDriverVersions() {
    if (driver_until_ && !driver_since_) return Fail(*driver_until_, "driver_until without driver_since");
    if (!driver_since_) return true;
    rule_.driver = Range(*driver_since_, *driver_since_, driver_until_, "driver_since", "driver_until",
                         "driver_since/driver_until");
    return rule_.driver.has_value();
  }

  // Outcome: one string, or an array of the outcomes that are all as expected (a rule that promises nothing
  // either way still says so, and stops a less specific rule from deciding).
  bool ReadOutcome() {
    if (const toml::array* a = outcome_->as_array()) {
      for (const auto& item : *a) {
        auto s = item.value_exact<std::string>();
        if (!s) return Fail(*outcome_, "outcome: expected a string or an array of strings");
        rule_.outcomes.push_back(*s);
      }
    } else if (auto s = outcome_->value_exact<std::string>()) {
      rule_.outcomes.push_back(*s);
    } else {
      return Fail(*outcome_, "outcome: expected a string or an array of strings, got " + TypeName(*outcome_));
    }
    if (rule_.outcomes.empty()) return Fail(*outcome_, "outcome: an empty list");
    for (const auto& o : rule_.outcomes) {
      const bool refused =
          o.rfind("refused E", 0) == 0 && o.size() > 9 &&
          std::all_of(o.begin() + 8, o.end(), [](char c) { return std::isupper(c) || std::isdigit(c); });
      const bool ok = rule_.aspect == "pin" ? (o == "granted" || refused) : Contains(kReclaimOutcomes, o);
      if (!ok)
        return Fail(*outcome_, "outcome: '" + o + "' is not an outcome of aspect " + rule_.aspect + " (" +
                                   (rule_.aspect == "pin" ? std::string("granted, refused ERRNO-NAME")
                                                          : Join(kReclaimOutcomes, ", ")) +
                                   ")");
    }
    rule_.outcome = Join(rule_.outcomes, " or ");
    return true;
  }

  bool ReadReference() {
    if (!reference_) return true;
    if (!Text(*reference_, "reference", &rule_.reference)) return false;
    if (!Contains(kReferences, rule_.reference))
      return Fail(*reference_,
                  "reference: unknown value '" + rule_.reference + "' (FOLL_PIN, FOLL_GET/none)");
    if (!rule_.reference.empty() && !Contains(rule_.outcomes, "granted"))
      return Fail(*reference_, "reference: only a granted pin has a reference to measure");
    return true;
  }

  const std::string& path_;
  const toml::table& table_;
  std::string* error_;
  KernelRule rule_;
  // The keys read after all others.
  const toml::node* since_ = nullptr;
  const toml::node* until_ = nullptr;
  const toml::node* driver_since_ = nullptr;
  const toml::node* driver_until_ = nullptr;
  const toml::node* outcome_ = nullptr;
  const toml::node* reference_ = nullptr;
};

// The file's top level: schema = 1 and the [[rule]] tables; the error line when it is anything else.
std::optional<std::string> CheckTopLevel(const std::string& path, const toml::table& table) {
  for (auto&& [key, value] : table) {
    const std::string k(key.str());
    if (k == "schema") {
      if (value.value_exact<int64_t>() != 1)
        return At(path, LineOf(value), "schema: this longpin reads schema 1");
    } else if (k != "rule") {
      return At(path, LineOf(value),
                "unknown key '" + k + "' (the file holds schema = 1 and [[rule]] tables)");
    }
  }
  const toml::node* rules = table.get("rule");
  if (!rules || !rules->is_array_of_tables())
    return At(path, rules ? LineOf(*rules) : 1, "no [[rule]] tables");
  return std::nullopt;
}

bool IsFile(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

}  // namespace

std::optional<KernelRules> LoadKernelRules(const std::string& path, std::string* error) {
  toml::table table;
  try {
    table = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    const std::string what(e.description());
    // Line 0: not readable at all.
    *error = e.source().begin.line == 0 ? path + ": " + what : At(path, int(e.source().begin.line), what);
    return std::nullopt;
  }
  if (auto wrong = CheckTopLevel(path, table)) {
    *error = *wrong;
    return std::nullopt;
  }
  KernelRules out;
  out.path = path;
  std::set<std::string> ids;
  for (const auto& item : *table.get("rule")->as_array()) {
    auto rule = RuleReader(path, *item.as_table(), error).Read();
    if (!rule) return std::nullopt;
    if (!ids.insert(rule->id).second) {
      *error = At(path, rule->line, "rule " + rule->id + ": a second rule with this id");
      return std::nullopt;
    }
    out.rules.push_back(std::move(*rule));
  }
  if (auto conflict = kernel_rules_detail::CheckConflicts(path, out.rules)) {
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

}  // namespace longpin
