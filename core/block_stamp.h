// The stamped block (format v1, docs/formats.md): every block a writer writes says who wrote it, for which
// run, block and generation, so a verifier can classify any block it reads on its own.
//
//   0  u64 magic "LONGPIN1"      8 u16 version   10 u8 writer kind   11 u8 log2(block size)
//  12  u32 writer id            16 u64 run id   24 u64 block index   32 u64 generation
//  40  u64 pin epoch            48 u64 reserved 56 u64 header check (xxh64 of bytes 0..55)
//  64  payload words            word i = pattern[i] ^ key(run, block, gen)
//  B-16 u64 generation          B-8 u64 tail check = mix(run, block, gen)
//
// key(run, block, gen) = mix(run, block) ^ gen * kGenMultiplier. The multiplier is odd, hence invertible
// mod 2^64: any payload word names the generation it came from, so a block torn at any granularity (a
// writeback that copied a page while a CPU writer was mid-block) is told apart from a bit flip (a word that
// decodes to no plausible generation). The payload is checked by regeneration instead of a checksum: a
// whole-block checksum would cost a second pass per write and detect nothing regeneration misses.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace longpin {

inline constexpr uint64_t kStampMagic = 0x314e4950474e4f4cULL;  // "LONGPIN1" little-endian
inline constexpr uint16_t kStampVersion = 1;
inline constexpr size_t kStampHeaderBytes = 64;
inline constexpr size_t kStampTailBytes = 16;
inline constexpr size_t kMinBlockSize = 512;
inline constexpr size_t kMaxBlockSize = 2u << 20;
// Generations above this are treated as "not a generation": a word decoding to more is damage.
inline constexpr uint64_t kMaxPlausibleGeneration = 1ULL << 40;

// Who wrote a block generation. Stored in the stamp and in the expected log.
enum class WriterKind : uint8_t {
  kNone = 0,
  kCpu = 1,     // CPU stores through the mapping
  kPwrite = 2,  // pwrite through the file descriptor
  kDma = 3,     // a device (or the kernel on its behalf) writing through a pin
};
const char* WriterKindName(WriterKind k);

struct StampId {
  uint64_t run_id = 0;
  uint64_t block = 0;
  uint64_t generation = 0;
  WriterKind kind = WriterKind::kNone;
  uint32_t writer_id = 0;
  uint64_t pin_epoch = 0;
};

// The per-run payload pattern: derived from the run id, as long as the largest block. Built once per run
// (allocation happens here, never on the write path).
class StampPattern {
 public:
  StampPattern(uint64_t run_id, size_t block_size);
  uint64_t run_id() const { return run_id_; }
  size_t block_size() const { return block_size_; }
  const uint64_t* words() const { return words_.data(); }

 private:
  uint64_t run_id_;
  size_t block_size_;
  std::vector<uint64_t> words_;
};

// Writes one whole block into dst (block_size bytes, 8-byte aligned). No allocation, no lock.
void StampBlock(const StampPattern& pattern, const StampId& id, std::byte* dst);

// The payload word stamped at word index i (i counts from the block start, header words included).
uint64_t PayloadKey(uint64_t run_id, uint64_t block, uint64_t generation);

enum class BlockClass : uint8_t {
  kZero,     // all zero: never reached disk
  kIntact,   // one whole generation
  kTorn,     // words of more than one generation (or of a generation and zeros)
  kForeign,  // a valid stamp of another run or another block (misdirected or stale)
  kCorrupt,  // words that belong to no generation
};
const char* BlockClassName(BlockClass c);

struct BlockVerdict {
  BlockClass cls = BlockClass::kZero;
  uint64_t generation = 0;              // intact: the generation; torn: the newest generation seen
  uint64_t min_generation = 0;          // torn: the oldest generation seen (0 when zeros are part of the mix)
  bool has_zero_words = false;          // torn: some words were zero
  uint64_t found_block = 0;             // foreign: the block index in the stamp
  uint64_t found_run = 0;               // foreign: the run id in the stamp
  WriterKind kind = WriterKind::kNone;  // intact: writer kind in the header
  uint32_t writer_id = 0;
  uint64_t bad_word = 0;  // corrupt: first word index that belongs to no generation
};

// Classifies a block read back from disk as expected block `block` of `pattern`'s run. recent_epochs: pin
// epochs of the block's newest writes, from the expected log, when the caller has it: a copy that cut a DMA
// write's header store pairs the epochs of two generations, and only the log knows the older one.
// max_generation: the highest generation the log says the block may hold (0 = unknown): a copy split inside
// the header or the tail can leave a generation only there, found by exact match of its check among 1..max
// (searched up to kMaxGenerationSearch).
//
// Torn at any byte: without stable pages a copy of a page (dm-log-writes at submission, a bounce buffer)
// races a writer's copy into it a byte at a time. A word that decodes to no generation is torn, not corrupt,
// when each of its bytes is the same byte of a generation the block holds in whole words (or of zeros: where
// the block holds zero words, or as one run at either end of the word). A bit flip is still corrupt unless
// the flipped byte happens to equal another held generation's byte there (about 1 in 256 per other
// generation).
BlockVerdict ClassifyBlock(const StampPattern& pattern, uint64_t block, const std::byte* data,
                           std::span<const uint32_t> recent_epochs = {}, uint64_t max_generation = 0);
inline constexpr uint64_t kMaxGenerationSearch = 1u << 20;

}  // namespace longpin
