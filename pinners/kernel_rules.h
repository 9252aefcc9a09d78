// The kernel's rules as data: which pins each kernel grants or refuses, and with which reference, read from
// pinners/kernel-rules.toml (docs/kernel-rules.md), so that a matrix cell can be marked "as expected (rule
// R)" or "UNEXPECTED". Depends on nothing but toml++ and the pinner registry (for the pinner names).
#pragma once

#include <compare>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace longpin {

struct KernelVersion {
  int major = 0, minor = 0, patch = 0;
  auto operator<=>(const KernelVersion&) const = default;
};

// The version at the start of a release string: "6.1.0-57-amd64" -> 6.1.0, "6.12.118+deb13-amd64"
// -> 6.12.118, "6.18.44", "5.15.0-91-generic", "6.5" -> 6.5.0. nullopt when it does not start with
// MAJOR.MINOR. Distribution release strings may carry an ABI number where the stable patch level would be
// (Debian's "6.1.0-57" is 6.1.158 or so): a rule whose boundary is a stable release needs ParseProcVersion.
std::optional<KernelVersion> ParseKernelRelease(std::string_view release);
// The upstream version from /proc/version's text: Debian names it after its own name ("... Debian 6.1.158-1
// (2025-...)"), other kernels are taken at their release ("Linux version 6.18.44 ..."). nullopt when neither.
std::optional<KernelVersion> ParseProcVersion(std::string_view proc_version);
// The running kernel's upstream version: /proc/version, else uname's release.
std::optional<KernelVersion> RunningKernelVersion();
// "6.5" when the patch level is 0, "6.1.28" otherwise.
std::string ToString(KernelVersion);

// Half-open [since, until); no until: every later version too.
struct VersionRange {
  KernelVersion since;
  std::optional<KernelVersion> until;
  bool Contains(KernelVersion v) const { return since <= v && (!until || v < *until); }
};
std::string ToString(const VersionRange&);  // "5.1..6.5", "6.5.."

// The facts of one matrix cell that a rule can match.
struct PinCell {
  std::string pinner;   // registry name: io_uring, rdma, rdma-odp, vmsplice, odirect, process-vm, fuse, cuda
  std::string backing;  // "file" (ext4, xfs, btrfs, f2fs: writeback and dirty tracking), "shmem" (tmpfs dir:,
                        // memfd, thp), "hugetlb", "anon"
  std::string mapping;  // shared, private, memfd, thp, hugetlb
  std::string access = "rw";  // rw | ro
  KernelVersion kernel;
  std::string driver_version;  // NVIDIA driver for cuda ("550.67"), empty when unknown
  // Where the pinner's own IO goes, for pinners whose pin depends on it (odirect: its source file): "block"
  // (a filesystem on a block device), "tmpfs"; empty when unknown, which matches only rules that do not ask.
  std::string io_fs;
  // What the judged outcome is about: "pin" (the pin call: "granted" / "refused ERRNO", and the reference
  // measured) or "reclaim" (what reclaim did to a pinned page cache page: "kept" / "stripped").
  std::string aspect = "pin";
};

// One [[rule]] of kernel-rules.toml.
struct KernelRule {
  std::string id, summary, source;  // source: commit id(s) and where they were verified
  // The hull of `kernels` (since of the first range, until of the last; none when one is open-ended).
  KernelVersion since;
  std::optional<KernelVersion> until;
  std::vector<VersionRange> kernels;  // what matching uses: a mainline range and its stable backports
  std::string aspect = "pin";
  // Match lists; empty matches anything.
  std::vector<std::string> pinners, backings, mappings, access, io_fs;
  std::optional<VersionRange> driver;  // NVIDIA driver versions (cuda); a cell without one does not match
  std::string outcome;                 // in words: "granted", "refused EFAULT", "kept or stripped"
  std::vector<std::string> outcomes;   // each outcome that is as expected (usually one)
  std::string reference;  // expected measured pin kind when granted: "FOLL_PIN", "FOLL_GET/none", ""
  int line = 0;           // of its [[rule]] header

  bool Matches(const PinCell&) const;
  // How many match dimensions the rule constrains (pinners, backings, mappings, access, io_fs, driver): where
  // several rules match one cell, the highest wins.
  int Specificity() const;
  std::string KernelsText() const;  // "5.1..6.5", "6.1.28..6.2, 6.2.15..6.3, 6.3.2.."
  std::string Expected() const;     // "refused EOPNOTSUPP", "granted with FOLL_PIN"
};

struct KernelRules {
  std::string path;
  std::vector<KernelRule> rules;
};

// Loads and checks a rules file. Errors (syntax, unknown key, missing field, bad value or version, two
// equally specific rules that imply different outcomes for one cell) come back as one line "FILE:LINE: what".
std::optional<KernelRules> LoadKernelRules(const std::string& path, std::string* error);

// The rules file: $LONGPIN_RULES if set, else the source tree's, else the installed one (next to the binary's
// share/longpin, then the configured prefix's). nullopt when none is there.
std::optional<std::string> FindKernelRulesFile();

// The rule that decides a cell: the most specific of those that match; null when none does.
const KernelRule* DecidingRule(const KernelRules&, const PinCell&);

struct RuleJudgement {
  const KernelRule* rule = nullptr;  // null: no rule applies ("no rule: outcome recorded, not judged")
  std::optional<bool> as_expected;   // nullopt when no rule applies
  std::string expected;              // the rule's outcome (and reference) in words
  // "as expected (rule io_uring-file-efault)" | "UNEXPECTED: refused EFAULT, rule io_uring-file-eopnotsupp
  // (5.1..6.5) says refused EOPNOTSUPP" | "no rule: outcome recorded, not judged"
  std::string text;
};

// pin_outcome: "granted" or "refused ERRNO-NAME" (for the reclaim aspect "kept" or "stripped");
// measured_reference: "FOLL_PIN" (also "FOLL_PIN, long-term"), "FOLL_GET/none"; "", "unmeasured" or "unclear"
// when not measured, which judges the outcome alone.
RuleJudgement JudgeCell(const KernelRules&, const PinCell&, const std::string& pin_outcome,
                        const std::string& measured_reference);

}  // namespace longpin
