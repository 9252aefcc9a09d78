// libFuzzer target: the expected-log reader (core/expected_log.h ReadExpectedLog) on arbitrary file contents.
// It must return a log or an error, never crash, hang or read out of bounds, whatever the bytes.
#include <stdlib.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "core/expected_log.h"

namespace {

// One file per fuzzing process, rewritten for each input: the reader takes a path. A plain array, so that the
// atexit handler never reads a destroyed string (libFuzzer ends a clean run with exit()).
char g_path[] = "/tmp/longpin-fuzz-log-XXXXXX";

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  const int fd = ::mkstemp(g_path);
  if (fd < 0) std::abort();
  ::close(fd);
  std::atexit([] { ::unlink(g_path); });
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = g_path;
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) return 0;
  if (size) std::fwrite(data, 1, size, f);
  std::fclose(f);
  auto log = longpin::ReadExpectedLog(path);
  if (log.ok() && !log->records.empty() && log->max_seq < log->records.front().seq) __builtin_trap();
  return 0;
}
