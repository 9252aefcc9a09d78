#include "verifiers/fault_planter.h"

#include <fcntl.h>
#include <linux/fiemap.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cstring>
#include <memory>

namespace longpin {
namespace {

// Physical byte offset of [offset, offset+len) of the file, when one plain extent holds all of it.
Result<uint64_t> PhysicalOffset(int fd, uint64_t offset, uint64_t len) {
  alignas(fiemap) char buf[sizeof(fiemap) + 4 * sizeof(fiemap_extent)] = {};
  auto* fm = reinterpret_cast<fiemap*>(buf);
  fm->fm_start = offset;
  fm->fm_length = len;
  fm->fm_flags = FIEMAP_FLAG_SYNC;
  fm->fm_extent_count = 4;
  if (::ioctl(fd, FS_IOC_FIEMAP, fm) != 0) return Status::FromErrno("FIEMAP of the target");
  for (uint32_t i = 0; i < fm->fm_mapped_extents; ++i) {
    const fiemap_extent& e = fm->fm_extents[i];
    if (e.fe_logical > offset || e.fe_logical + e.fe_length < offset + len) continue;
    const uint32_t bad = FIEMAP_EXTENT_UNKNOWN | FIEMAP_EXTENT_DELALLOC | FIEMAP_EXTENT_ENCODED |
                         FIEMAP_EXTENT_DATA_INLINE | FIEMAP_EXTENT_DATA_TAIL | FIEMAP_EXTENT_UNWRITTEN;
    if (e.fe_flags & bad) return Status(EINVAL, "block's extent is not plain data");
    return e.fe_physical + (offset - e.fe_logical);
  }
  return Status(ENOENT, "no single extent holds the block");
}

Status ReadAt(int fd, std::byte* buf, size_t len, uint64_t off) {
  if (::pread(fd, buf, len, off_t(off)) != ssize_t(len)) return Status::FromErrno("read image");
  return {};
}
Status WriteAt(int fd, const std::byte* buf, size_t len, uint64_t off) {
  if (::pwrite(fd, buf, len, off_t(off)) != ssize_t(len)) return Status::FromErrno("write image");
  return {};
}

}  // namespace

Status PlantFaults(ScratchFs& fs, const std::string& target_path, const StampPattern& pattern,
                   const ExpectedState& ex, uint64_t seed, std::vector<PlantedFault>* planted) {
  const size_t bs = pattern.block_size();
  // Candidates: blocks with a promised generation of at least 2, so that "the previous generation" exists
  // and differs from zero. Chosen spread over the file, starting at a seeded place. They need not be quiet:
  // every planted class is a violation whether or not the block was written after the promise point.
  std::vector<uint64_t> chosen;
  const uint64_t n = ex.blocks.size();
  const char* classes[] = {"dropped_write", "zeroed", "torn", "bit_flip", "misdirected", "never_issued"};
  const size_t want = std::size(classes) + 1;  // misdirection needs a source block too
  for (uint64_t i = 0; i < n && chosen.size() < want; ++i) {
    const uint64_t b = (seed + i * 7919) % n;
    const BlockExpectation& e = ex.blocks[b];
    if (e.kernel_gen >= 2) chosen.push_back(b);
  }
  if (chosen.size() < want)
    return Status(ENOENT, "self-test: only " + std::to_string(chosen.size()) +
                              " promised blocks to damage; run longer or with a larger target");

  std::vector<uint64_t> phys(chosen.size());
  {
    int fd = ::open(target_path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Status::FromErrno("open " + target_path + " for FIEMAP");
    for (size_t i = 0; i < chosen.size(); ++i) {
      auto p = PhysicalOffset(fd, chosen[i] * bs, bs);
      if (!p.ok()) {
        ::close(fd);
        return Status(p.status().err(), "block " + std::to_string(chosen[i]) + ": " + p.status().message());
      }
      phys[i] = *p;
    }
    ::close(fd);
  }
  if (Status s = fs.Unmount(); !s.ok()) return s;
  int img = ::open(fs.image_path().c_str(), O_RDWR | O_CLOEXEC);
  if (img < 0) return Status::FromErrno("open image " + fs.image_path());
  std::unique_ptr<std::byte[]> buf(new std::byte[bs]), old(new std::byte[bs]);
  Status st;
  for (size_t i = 0; i < std::size(classes) && st.ok(); ++i) {
    const uint64_t b = chosen[i];
    const BlockExpectation& e = ex.blocks[b];
    PlantedFault f;
    f.cls = classes[i];
    f.block = b;
    StampId id{pattern.run_id(), b, 0, e.kernel_kind, 0, 0};
    if (f.cls == "dropped_write") {
      id.generation = e.kernel_gen - 1;
      StampBlock(pattern, id, buf.get());
      f.expected_kind = "lost";
      f.detail = "generation " + std::to_string(e.kernel_gen - 1) + " put back over promised " +
                 std::to_string(e.kernel_gen);
    } else if (f.cls == "zeroed") {
      std::memset(buf.get(), 0, bs);
      f.expected_kind = "lost";
      f.detail = "block zeroed";
    } else if (f.cls == "torn") {
      st = ReadAt(img, buf.get(), bs, phys[i]);
      id.generation = e.kernel_gen - 1;
      StampBlock(pattern, id, old.get());
      std::memcpy(buf.get(), old.get(), bs / 2);
      f.expected_kind = "torn";
      f.detail = "first half of generation " + std::to_string(e.kernel_gen - 1) + ", second half " +
                 std::to_string(e.kernel_gen);
    } else if (f.cls == "bit_flip") {
      st = ReadAt(img, buf.get(), bs, phys[i]);
      buf[bs / 2] ^= std::byte{0x10};
      f.expected_kind = "corrupt";
      f.detail = "bit 4 of byte " + std::to_string(bs / 2) + " flipped";
    } else if (f.cls == "misdirected") {
      const uint64_t src = chosen[std::size(classes)];
      st = ReadAt(img, buf.get(), bs, phys[std::size(classes)]);
      f.expected_kind = "foreign";
      f.detail = "content of block " + std::to_string(src) + " written here";
    } else if (f.cls == "never_issued") {
      id.generation = e.max_issued + 5;
      StampBlock(pattern, id, buf.get());
      f.expected_kind = "never_issued";
      f.detail = "generation " + std::to_string(e.max_issued + 5) + " (newest issued " +
                 std::to_string(e.max_issued) + ")";
    }
    if (st.ok()) st = WriteAt(img, buf.get(), bs, phys[i]);
    if (st.ok()) planted->push_back(f);
  }
  if (st.ok() && ::fsync(img) != 0) st = Status::FromErrno("fsync image");
  ::close(img);
  Status m = fs.Mount();
  return st.ok() ? m : st;
}

void MatchPlantedFaults(const Verification& v, std::vector<PlantedFault>* planted) {
  for (PlantedFault& f : *planted) {
    for (const Violation& x : v.violations) {
      if (x.block != f.block || x.contract != "kernel") continue;
      f.reported_kind = x.kind;
      if (x.kind == f.expected_kind) {
        f.detected = true;
        break;
      }
    }
  }
}

}  // namespace longpin
