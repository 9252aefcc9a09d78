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

// One pinner-specific option, key=value (fio's engine options): each pinner parses and checks its own keys.
struct PinnerOption {
  std::string key, value;
  // Set by the flags that name no pinner (--pin-hold, --rdma-dev, --cuda-flags, --cuda-write): a pinner that
  // does not take the key ignores it, as it always ignored the flag. A --pinner-option key must be the
  // pinner's own.
  bool from_shared_flag = false;
};

struct PinnerOptions {
  PinAccess access = PinAccess::kReadWrite;
  std::string scratch_dir;  // a directory the pinner may create helper files in (not on the target fs)
  std::vector<PinnerOption> pairs;

  // Adds key=value; a later value of a key replaces an earlier one.
  void Set(const std::string& key, const std::string& value, bool from_shared_flag = false);
  // The value of key; nullopt when not given.
  std::optional<std::string> Get(const std::string& key) const;
};

struct PinWindow {
  uint64_t offset = 0;  // byte offset in the mapping, page aligned
  uint64_t length = 0;  // bytes, page multiple
  uint32_t epoch = 0;   // unique per Pin call in a run; the log ties DMA writes to it
};

struct PinnerInfo;

struct PinGrant {
  uint64_t bytes = 0;  // how much of the window is held (0 on refusal)
};

class Pinner {
 public:
  virtual ~Pinner() = default;
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
  // The hold model of the pinner's registry entry (PinnerInfo::hold); a pinner not made by the registry
  // holds per window.
  bool holds_per_io() const;
  // Per-IO pinners whose completion longpin controls (race scripts): StartDma begins a DMA write and returns
  // once the kernel holds the pages and the IO waits for longpin; FinishDma lets it complete and returns its
  // result. Between the two, longpin can sync and reclaim the held pages.
  virtual bool can_hold_dma() const { return false; }
  virtual Status StartDma(const PinWindow& w, uint64_t offset, const std::byte* src, size_t len) {
    (void)w, (void)offset, (void)src, (void)len;
    return Status(ENOTSUP, "this pinner cannot hold a DMA's completion");
  }
  virtual Status FinishDma() { return Status(ENOTSUP, "this pinner cannot hold a DMA's completion"); }

 private:
  friend struct PinnerInfo;
  const PinnerInfo* info_ = nullptr;  // the entry that made it
};

// How long the kernel holds a window's pages.
enum class PinHold {
  kWindow,  // from Pin to Unpin
  // Per IO (odirect, fuse, process-vm): Pin only remembers the window, and the kernel holds the pages only
  // while a DmaWrite is in flight, then unpins and dirties them when the IO completes.
  kPerIo,
};

// What ../shared/KERNEL_NOTES.md ("Who pins how") says the kernel takes for a pinner's hold: `kind`, or
// `before` on kernels older than since_major.since_minor (when `before` is set). Runs compare it with what
// the pin counters measured, and say so when they disagree.
struct ExpectedReference {
  const char* kind;
  int since_major = 0, since_minor = 0;
  const char* before = nullptr;
};

// One entry of the pinner table. Every pinner has an entry, also when it is compiled out, so `longpin list`
// always shows it with the reason.
struct PinnerInfo {
  const char* name;
  const char* description;
  PinReference reference;  // what the kernel takes for the hold
  PinHold hold;
  // Why it cannot run on this machine now: compiled out ("built without libfuse3 (LONGPIN_WITH_FUSE)"), no
  // device, not root; nullopt = available. A compiled-out pinner's factory refuses with the same reason.
  std::optional<std::string> (*unavailable)();
  // The option keys it takes, "flags, write" ("" for none), and the check of their values (a null check
  // takes any value); the factory parses them again when it runs.
  const char* option_keys;
  Status (*check_options)(const PinnerOptions&);
  Result<std::unique_ptr<Pinner>> (*factory)(const PinTarget&, const PinnerOptions&);
  ExpectedReference expected;

  // Refuses an unknown --pinner-option key ("pinner cuda: unknown option foo (known: flags, write)") or a bad
  // value, then lets the factory make the pinner.
  Result<std::unique_ptr<Pinner>> create(const PinTarget& target, const PinnerOptions& options) const;
  Status CheckOptions(const PinnerOptions& options) const;
};

const std::vector<PinnerInfo>& PinnerRegistry();
const PinnerInfo* FindPinner(const std::string& name);
// The expected reference kind of `pinner` on kernel `release` ("FOLL_GET", "FOLL_PIN", "FOLL_PIN, long-term",
// ...; "none" for the control and for a name not in the table).
std::string ExpectedPinReference(const std::string& pinner, const std::string& release);

// What the command line checks before a run: the options of `pinner` (PinnerInfo::CheckOptions), and the
// values of shared-flag options for every pinner that takes their key, whichever pinner runs.
Status CheckPinnerOptions(const std::string& pinner, const PinnerOptions& options);

// A --pin-hold style duration option ("20ms", "1s"); 0 when not given.
Result<double> PinnerDurationOption(const PinnerOptions& options, const char* pinner, const char* key);

}  // namespace longpin
