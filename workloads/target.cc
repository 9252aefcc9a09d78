#include "workloads/target.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

namespace longpin {
namespace {

uint64_t FreeHugePages(uint64_t* page_size) {
  std::ifstream f("/proc/meminfo");
  std::string key;
  uint64_t value = 0, free_pages = 0;
  std::string unit;
  *page_size = 2ull << 20;
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("HugePages_Free:", 0) == 0) free_pages = std::stoull(line.substr(15));
    if (line.rfind("Hugepagesize:", 0) == 0) *page_size = std::stoull(line.substr(13)) << 10;
  }
  (void)value;
  return free_pages;
}

}  // namespace

const char* MappingName(MappingKind m) {
  switch (m) {
    case MappingKind::kShared: return "shared";
    case MappingKind::kPrivate: return "private";
    case MappingKind::kMemfd: return "memfd";
    case MappingKind::kThp: return "thp";
    case MappingKind::kHugetlb: return "hugetlb";
  }
  return "?";
}

std::optional<MappingKind> ParseMapping(const std::string& name) {
  for (auto m : {MappingKind::kShared, MappingKind::kPrivate, MappingKind::kMemfd, MappingKind::kThp,
                 MappingKind::kHugetlb})
    if (name == MappingName(m)) return m;
  return std::nullopt;
}

bool MappingReachesFs(MappingKind m) {
  return m == MappingKind::kShared;
}

Target& Target::operator=(Target&& o) noexcept {
  if (this != &o) {
    Close(false);
    kind_ = o.kind_;
    map_ = o.map_;
    length_ = o.length_;
    fd_ = o.fd_;
    path_ = std::move(o.path_);
    detail_ = std::move(o.detail_);
    note_ = std::move(o.note_);
    remove_file_ = o.remove_file_;
    own_mount_ = std::move(o.own_mount_);
    o.map_ = nullptr;
    o.fd_ = -1;
    o.remove_file_ = false;
    o.own_mount_.clear();
  }
  return *this;
}

Result<Target> Target::Create(MappingKind kind, const std::string& file_path, const std::string& scratch_dir,
                              uint64_t size, bool preallocate) {
  Target t;
  t.kind_ = kind;
  t.length_ = size;
  int map_flags = MAP_SHARED;
  switch (kind) {
    case MappingKind::kShared:
    case MappingKind::kPrivate: {
      t.fd_ = ::open(file_path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
      if (t.fd_ < 0) return Status::FromErrno("create target " + file_path);
      t.path_ = file_path;
      t.remove_file_ = true;
      t.detail_ = std::string(MappingName(kind)) + " mapping of " + file_path;
      if (kind == MappingKind::kPrivate) map_flags = MAP_PRIVATE;
      break;
    }
    case MappingKind::kMemfd: {
      t.fd_ = ::memfd_create("longpin-target", MFD_CLOEXEC);
      if (t.fd_ < 0) return Status::FromErrno("memfd_create");
      t.path_ = "/proc/self/fd/" + std::to_string(t.fd_);
      t.detail_ = "memfd (shmem), MAP_SHARED";
      break;
    }
    case MappingKind::kThp: {
      const std::string mnt = scratch_dir + "/thp";
      if (::geteuid() == 0 && ::mkdir(mnt.c_str(), 0755) == 0 &&
          ::mount("longpin-thp", mnt.c_str(), "tmpfs", 0, "huge=always") == 0) {
        t.own_mount_ = mnt;
        t.path_ = mnt + "/target";
        t.fd_ = ::open(t.path_.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (t.fd_ < 0) return Status::FromErrno("create target " + t.path_);
        t.remove_file_ = true;
        t.detail_ = "file on tmpfs huge=always, MAP_SHARED";
      } else {
        if (::geteuid() == 0) ::rmdir(mnt.c_str());
        t.fd_ = ::memfd_create("longpin-target-thp", MFD_CLOEXEC);
        if (t.fd_ < 0) return Status::FromErrno("memfd_create");
        t.path_ = "/proc/self/fd/" + std::to_string(t.fd_);
        t.detail_ = "memfd with MADV_HUGEPAGE, MAP_SHARED";
        t.note_ =
            "thp: tmpfs huge=always not mounted (needs root): memfd + MADV_HUGEPAGE, huge pages only if "
            "/sys/kernel/mm/transparent_hugepage/shmem_enabled allows advise";
      }
      break;
    }
    case MappingKind::kHugetlb: {
      uint64_t hpage = 0;
      const uint64_t free_pages = FreeHugePages(&hpage);
      if (::geteuid() != 0) return Status(EPERM, "hugetlb mapping: needs root (hugetlbfs mount)");
      if (size % hpage)
        return Status(EINVAL, "hugetlb mapping: --size must be a multiple of the huge page size " +
                                  std::to_string(hpage));
      if (free_pages * hpage < size)
        return Status(ENOMEM, "hugetlb mapping: " + std::to_string(free_pages) + " free huge pages of " +
                                  std::to_string(hpage >> 20) + " MiB, need " + std::to_string(size / hpage) +
                                  " (reserve them as root: echo N > /proc/sys/vm/nr_hugepages)");
      const std::string mnt = scratch_dir + "/hugetlb";
      if (::mkdir(mnt.c_str(), 0755) != 0) return Status::FromErrno("mkdir " + mnt);
      if (::mount("longpin-hugetlb", mnt.c_str(), "hugetlbfs", 0, nullptr) != 0) {
        Status s = Status::FromErrno("mount hugetlbfs on " + mnt);
        ::rmdir(mnt.c_str());
        return s;
      }
      t.own_mount_ = mnt;
      t.path_ = mnt + "/target";
      t.fd_ = ::open(t.path_.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
      if (t.fd_ < 0) return Status::FromErrno("create target " + t.path_);
      t.remove_file_ = true;
      t.detail_ = "file on hugetlbfs, MAP_SHARED";
      preallocate = false;  // hugetlbfs has no fallocate of a shared... it does, but faults allocate anyway
      break;
    }
  }
  if (preallocate && ::posix_fallocate(t.fd_, 0, off_t(size)) == 0) {
    // allocated up front: a mapped store that needs space it cannot get is a SIGBUS, not an error
  } else if (::ftruncate(t.fd_, off_t(size)) != 0) {
    return Status::FromErrno("size target " + t.path_);
  } else if (preallocate) {
    t.note_ = "target not preallocated (fallocate unsupported): mapped stores may SIGBUS when space runs out";
  }
  void* m = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, map_flags, t.fd_, 0);
  if (m == MAP_FAILED)
    return Status::FromErrno(std::string("mmap ") + MappingName(kind) + " target " + t.path_);
  t.map_ = static_cast<std::byte*>(m);
  if (kind == MappingKind::kThp) ::madvise(m, size, MADV_HUGEPAGE);
  return t;
}

void Target::Unmap() {
  if (map_) ::munmap(map_, length_);
  map_ = nullptr;
}

void Target::Close(bool keep) {
  Unmap();
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  if (remove_file_ && !keep) ::unlink(path_.c_str());
  remove_file_ = false;
  if (!own_mount_.empty()) {
    if (::umount2(own_mount_.c_str(), 0) != 0) ::umount2(own_mount_.c_str(), MNT_DETACH);
    ::rmdir(own_mount_.c_str());
    own_mount_.clear();
  }
}

}  // namespace longpin
