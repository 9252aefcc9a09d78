// Target: the file under test and how it is mapped (--mapping).
//   shared   a file on the filesystem under test, MAP_SHARED (default): writes reach the disk
//   private  the same file, MAP_PRIVATE: stores land on anonymous copies; checked for coherence in memory
//   memfd    shmem (memfd_create), MAP_SHARED: verified by reading the memfd back
//   thp      shmem with huge pages: a file on a tmpfs mounted huge=always (root), else memfd + MADV_HUGEPAGE
//   hugetlb  a file on hugetlbfs (root, free huge pages needed)
// Only the file and the mounts created here are removed by Close().
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "core/status.h"

namespace longpin {

enum class MappingKind { kShared, kPrivate, kMemfd, kThp, kHugetlb };
const char* MappingName(MappingKind m);
std::optional<MappingKind> ParseMapping(const std::string& name);
// Whether writes through this mapping are meant to reach the filesystem under test.
bool MappingReachesFs(MappingKind m);

class Target {
 public:
  // file_path: where a file-backed target lives (shared, private); scratch_dir: a directory of this run's
  // own for tmpfs/hugetlbfs mounts (thp, hugetlb).
  static Result<Target> Create(MappingKind kind, const std::string& file_path, const std::string& scratch_dir,
                               uint64_t size, bool preallocate);
  Target() = default;
  Target(Target&& o) noexcept { *this = std::move(o); }
  Target& operator=(Target&& o) noexcept;
  ~Target() { Close(false); }

  MappingKind kind() const { return kind_; }
  std::byte* map() const { return map_; }
  size_t length() const { return length_; }
  int fd() const { return fd_; }
  // The path the verifier reads: the file, or /proc/self/fd/N for a memfd.
  const std::string& path() const { return path_; }
  const std::string& detail() const { return detail_; }
  const std::string& note() const { return note_; }  // what differs from what was asked (fallbacks)
  void Unmap();
  // Unmaps, closes; removes the file (unless keep) and unmounts what Create mounted.
  void Close(bool keep);

 private:
  MappingKind kind_ = MappingKind::kShared;
  std::byte* map_ = nullptr;
  size_t length_ = 0;
  int fd_ = -1;
  std::string path_, detail_, note_;
  bool remove_file_ = false;
  std::string own_mount_;  // a tmpfs/hugetlbfs mount point this target created
};

}  // namespace longpin
