#include "cli/commands_list.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>

#include "cli/job_file.h"
#include "core/kernel_release.h"
#include "core/measured_pin_kinds.h"
#include "core/scratch_fs.h"
#include "pinners/pinner.h"
#include "report/run_report.h"

namespace longpin {
namespace {

// What a run on this kernel measured the pinner's pins to be (core/measured_pin_kinds.h).
std::string MeasuredHere(const char* pinner, const std::string& kernel) {
  if (std::string_view(pinner) == "none") return "-";
  auto m = LookupMeasuredPinKind(pinner, kernel);
  if (!m) return "not yet measured";
  return m->kind + " (" + kernel + (m->date.empty() ? "" : ", " + m->date) + ")";
}

std::string ReadFirstLine(const std::string& path) {
  std::ifstream f(path);
  std::string line;
  std::getline(f, line);
  return line;
}

// The bracketed choice of a sysfs switch ("always [madvise] never" -> "madvise"); "" when unreadable.
std::string SysfsChoice(const std::string& path) {
  const std::string line = ReadFirstLine(path);
  const size_t open = line.find('['), close = line.find(']');
  if (open == std::string::npos || close == std::string::npos || close < open) return "";
  return line.substr(open + 1, close - open - 1);
}

uint64_t MeminfoValue(const std::string& key) {
  std::ifstream f("/proc/meminfo");
  for (std::string line; std::getline(f, line);)
    if (line.rfind(key + ":", 0) == 0) return std::strtoull(line.c_str() + key.size() + 1, nullptr, 10);
  return 0;
}

}  // namespace

MappingAvailability MappingHere(MappingKind m) {
  const bool root = ::geteuid() == 0;
  switch (m) {
    case MappingKind::kShared:
      return {std::nullopt,
              "the target file on the filesystem under test, MAP_SHARED: writes reach the disk"};
    case MappingKind::kPrivate:
      return {std::nullopt, "the same file, MAP_PRIVATE: stores land on anonymous copies, checked in memory"};
    case MappingKind::kMemfd: {
      const int fd = ::memfd_create("longpin-probe", MFD_CLOEXEC);
      if (fd < 0) return {Status::FromErrno("memfd_create").message(), ""};
      ::close(fd);
      return {std::nullopt, "shmem (memfd_create), MAP_SHARED"};
    }
    case MappingKind::kThp: {
      const std::string sys = "/sys/kernel/mm/transparent_hugepage";
      const std::string shmem = SysfsChoice(sys + "/shmem_enabled");
      if (shmem.empty())
        return {"kernel without transparent huge pages for shmem (no " + sys + "/shmem_enabled)", ""};
      // shmem_enabled governs shmem on its own: the anonymous switch (`enabled`) does not affect it.
      if (shmem == "deny")
        return {"huge pages on shmem denied (" + sys + "/shmem_enabled = deny; as root: echo advise > " +
                    sys + "/shmem_enabled)",
                ""};
      if (root)
        return {std::nullopt,
                "a file on tmpfs mounted huge=always, MAP_SHARED (shmem_enabled = " + shmem + ")"};
      if (shmem == "never")
        return {
            "not root: memfd + MADV_HUGEPAGE gets no huge pages while shmem_enabled = never (run as root, "
            "or as root: echo advise > " +
                sys + "/shmem_enabled)",
            ""};
      return {std::nullopt, "memfd + MADV_HUGEPAGE, MAP_SHARED (not root; shmem_enabled = " + shmem + ")"};
    }
    case MappingKind::kHugetlb: {
      const uint64_t free_pages = MeminfoValue("HugePages_Free"), page_kib = MeminfoValue("Hugepagesize");
      const std::string reserved = ReadFirstLine("/proc/sys/vm/nr_hugepages");
      if (!root) return {"needs root (the target is a file on a hugetlbfs mount of the run's own)", ""};
      if (free_pages == 0)
        return {"no free huge pages (nr_hugepages = " + (reserved.empty() ? "?" : reserved) + ", " +
                    std::to_string(page_kib / 1024) +
                    " MiB each): reserve them as root, e.g. for a 256M target: " + "echo " +
                    std::to_string(page_kib ? (256u << 10) / page_kib : 128) + " > /proc/sys/vm/nr_hugepages",
                ""};
      return {std::nullopt, "a file on hugetlbfs, MAP_SHARED: " + std::to_string(free_pages) +
                                " free huge pages of " + std::to_string(page_kib / 1024) +
                                " MiB (a target of up to " + std::to_string(free_pages * page_kib / 1024) +
                                "M)"};
    }
  }
  return {"unknown mapping", ""};
}

int ListCommand(const std::string& what) {
  if (what.empty() || what == "pinners") {
    std::printf("pinners (name, state, pin kind, measured here, what it is or why unavailable):\n");
    const std::string kernel = KernelRelease();
    std::vector<std::string> measured;
    int width = 0;
    for (const auto& p : PinnerRegistry()) {
      measured.push_back(MeasuredHere(p.name, kernel));
      width = std::max(width, int(measured.back().size()));
    }
    size_t i = 0;
    for (const auto& p : PinnerRegistry()) {
      auto why = p.unavailable();
      std::printf("  %-12s %-11s %-24s %-*s %s\n", p.name, why ? "unavailable" : "available",
                  PinReferenceName(p.reference), width, measured[i++].c_str(),
                  why ? why->c_str() : p.description);
    }
  }
  if (what.empty() || what == "filesystems") {
    std::printf("filesystems:\n");
    for (FsType t : kAllFsTypes) {
      auto why = FsUnavailableReason(t);
      std::printf("  %-12s %-11s %s\n", FsTypeName(t), why ? "unavailable" : "available",
                  why ? why->c_str() : "scratch image on a loop device");
    }
    std::printf("  %-12s %-11s %s\n", "dir:PATH", "available", "a file in an existing directory (any user)");
  }
  if (what.empty() || what == "mappings") {
    std::printf("mappings (`longpin run --mapping NAME`):\n");
    for (MappingKind m : {MappingKind::kShared, MappingKind::kPrivate, MappingKind::kMemfd, MappingKind::kThp,
                          MappingKind::kHugetlb}) {
      const MappingAvailability a = MappingHere(m);
      std::printf("  %-12s %-11s %s\n", MappingName(m), a.why_not ? "unavailable" : "available",
                  a.why_not ? a.why_not->c_str() : a.detail.c_str());
    }
  }
  if (what.empty() || what == "workloads") {
    std::printf("workloads (presets; `longpin run --workload NAME`):\n");
    for (const auto& w : ListPresets()) std::printf("  %-20s %s\n", w.name.c_str(), w.summary.c_str());
  }
  if (!what.empty() && what != "pinners" && what != "filesystems" && what != "mappings" &&
      what != "workloads") {
    std::fprintf(stderr, "longpin: list %s: unknown list (pinners, filesystems, mappings, workloads)\n",
                 what.c_str());
    return kExitUsage;
  }
  return 0;
}

}  // namespace longpin
