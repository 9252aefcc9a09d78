// libFuzzer target: the expected-log reader (core/expected_log.h ReadExpectedLog) on arbitrary file contents.
// It must return a log or an error, never crash, hang or read out of bounds, whatever the bytes.
#include <stdlib.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "core/expected_log.h"

namespace {

// One file per fuzzing process, rewritten for each input: the reader takes a path.
const std::string& InputPath() {
  static const std::string path = [] {
    char tmpl[] = "/tmp/longpin-fuzz-log-XXXXXX";
    const int fd = ::mkstemp(tmpl);
    if (fd >= 0) ::close(fd);
    return std::string(tmpl);
  }();
  return path;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string& path = InputPath();
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) return 0;
  if (size) std::fwrite(data, 1, size, f);
  std::fclose(f);
  auto log = longpin::ReadExpectedLog(path);
  if (log.ok() && !log->records.empty() && log->max_seq < log->records.front().seq) __builtin_trap();
  return 0;
}
