// Pinner: something that holds pages of the target mapping (and, for some, writes through the hold, as a
// device would by DMA). One small interface; every pinner is one file pair plus one entry in registry.cc.
//
// Contract: Pin/Unpin/DmaWrite are called from one thread (the run loop's pinner thread). A refusal by the
// kernel is a result (the Status carries the errno), never a crash; Unpin is called for every window whose
// Pin granted anything, including at the end of a run or after a crash point.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"

namespace longpin {

enum class PinAccess { kReadWrite, kReadOnly };
const char* PinAccessName(PinAccess a);

// What the kernel takes for this pinner's hold: FOLL_PIN pages move nr_foll_pin_*; FOLL_GET references do
// not; kNone for the control.
enum class PinReference { kNone, kFollGet, kFollPin, kFollPinLongterm, kMmuNotifier };
const char* PinReferenceName(PinReference r);

// The mapping a pinner works on.
struct PinTarget {
  std::byte* base = nullptr;  // start of the mapping
  size_t length = 0;          // bytes mapped
  int fd = -1;                // the target file (O_RDWR)
  std::string path;           // the target file's path
  size_t page_size = 4096;
  size_t block_size = 4096;
};

struct PinnerOptions {
  PinAccess access = PinAccess::kReadWrite;
  double hold_s = 0.0;          // pinners that hold per IO (fuse, odirect): how long each hold lasts
  std::string device;           // rdma: device name; empty = first
  std::string scratch_dir;      // a directory the pinner may create helper files in (not on the target fs)
  std::string cuda_flags;       // cuda: cudaHostRegister flags, comma list of default|portable|mapped|readonly
  std::string cuda_write;       // cuda: how DmaWrite reaches the pages: copy (default) | kernel
};

struct PinWindow {
  uint64_t offset = 0;  // byte offset in the mapping, page aligned
  uint64_t length = 0;  // bytes, page multiple
  uint32_t epoch = 0;   // unique per Pin call in a run; the log ties DMA writes to it
};

struct PinGrant {
  uint64_t bytes = 0;   // how much of the window is held (0 on refusal)
};

class Pinner {
 public:
  virtual ~Pinner() = default;
  virtual PinReference reference() const = 0;
  // Holds the window's pages. On refusal returns the kernel's errno in the Status and holds nothing.
  virtual Result<PinGrant> Pin(const PinWindow& w) = 0;
  virtual Status Unpin(const PinWindow& w) = 0;
  // Whether DmaWrite is implemented: the pinner writes through its hold, behind the page tables.
  virtual bool can_write() const { return false; }
  // Writes len bytes from src at offset (inside the pinned window w) through the hold, and returns when the
  // write has completed (the device's completion). Only called when can_write().
  virtual Status DmaWrite(const PinWindow& w, uint64_t offset, const std::byte* src, size_t len) {
    (void)w, (void)offset, (void)src, (void)len;
    return Status(ENOTSUP, "this pinner does not write");
  }
  // Whether the hold is per IO (odirect, fuse, process-vm): Pin only remembers the window, and the kernel
  // holds the pages only while a DmaWrite is in flight, then unpins and dirties them when the IO completes.
  virtual bool holds_per_io() const { return false; }
  // Per-IO pinners whose completion longpin controls (race scripts): StartDma begins a DMA write and returns
  // once the kernel holds the pages and the IO waits for longpin; FinishDma lets it complete and returns its
  // result. Between the two, longpin can sync and reclaim the held pages.
  virtual bool can_hold_dma() const { return false; }
  virtual Status StartDma(const PinWindow& w, uint64_t offset, const std::byte* src, size_t len) {
    (void)w, (void)offset, (void)src, (void)len;
    return Status(ENOTSUP, "this pinner cannot hold a DMA's completion");
  }
  virtual Status FinishDma() { return Status(ENOTSUP, "this pinner cannot hold a DMA's completion"); }
};

// One entry of the pinner table. Every pinner has an entry, also when it is compiled out, so `longpin list`
// always shows it with the reason.
struct PinnerInfo {
  const char* name;
  const char* description;
  PinReference reference;
  // Why it cannot run on this machine now (compiled out, no device, not root); nullopt = available.
  std::optional<std::string> (*unavailable)();
  // nullptr when compiled out.
  Result<std::unique_ptr<Pinner>> (*create)(const PinTarget&, const PinnerOptions&);
};

const std::vector<PinnerInfo>& PinnerRegistry();
const PinnerInfo* FindPinner(const std::string& name);

}  // namespace longpin
