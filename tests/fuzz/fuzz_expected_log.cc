// libFuzzer target: the expected-log reader (core/expected_log.h ReadExpectedLog) on arbitrary file contents.
// It must return a log or an error, never crash, hang or read out of bounds, whatever the bytes.
#include <stdlib.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "core/expected_log.h"
#include "tests/fuzz/fuzz_input_file.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  longpin::fuzz::MakeInputFile("expected.log");
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (!longpin::fuzz::WriteInput(data, size)) return 0;
  const std::string path = longpin::fuzz::g_input_file;
  auto log = longpin::ReadExpectedLog(path);
  if (log.ok() && !log->records.empty() && log->max_seq < log->records.front().seq) __builtin_trap();
  return 0;
}
