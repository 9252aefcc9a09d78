// libFuzzer target: ClassifyBlock (core/block_stamp.h) on a stamped block changed by the input. The input's
// head chooses the block size, block, generation, the log's highest generation and recent pin epochs; the
// rest is XORed into a block stamped at that generation (so that near-valid blocks, the interesting ones, are
// reached without a corpus of stamped blocks). Any verdict is fine; a crash, hang or bad read is not.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <vector>

#include "core/block_stamp.h"

namespace {

template <typename T>
T Take(const uint8_t*& data, size_t& size) {
  T v{};
  const size_t n = size < sizeof(T) ? size : sizeof(T);
  std::memcpy(&v, data, n);
  data += n;
  size -= n;
  return v;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static std::map<size_t, std::unique_ptr<longpin::StampPattern>> patterns;  // one per block size
  constexpr uint64_t kRunId = 0x6c6f6e6770696e;
  const size_t block_size = size_t(512) << (Take<uint8_t>(data, size) % 4);  // 512 B .. 4 KiB
  auto& pattern = patterns[block_size];
  if (!pattern) pattern = std::make_unique<longpin::StampPattern>(kRunId, block_size);
  const uint64_t block = Take<uint32_t>(data, size);
  const uint64_t generation = Take<uint16_t>(data, size);
  const uint64_t max_generation = Take<uint16_t>(data, size);
  const uint32_t epoch = Take<uint8_t>(data, size);
  std::vector<uint32_t> epochs;
  for (uint8_t n = Take<uint8_t>(data, size) % 4; n > 0; --n) epochs.push_back(Take<uint8_t>(data, size));

  std::vector<std::byte> buf(block_size);
  if (generation > 0) {
    longpin::StampId id{};
    id.run_id = kRunId;
    id.block = block;
    id.generation = generation;
    id.pin_epoch = epoch;
    longpin::StampBlock(*pattern, id, buf.data());
  }
  for (size_t i = 0; i < size && i < block_size; ++i) buf[i] ^= std::byte(data[i]);
  (void)longpin::ClassifyBlock(*pattern, block, buf.data(), epochs, max_generation);  // any verdict is fine
  return 0;
}
