// libFuzzer target: the state.json reader of two-phase runs (workloads/run_state.h ReadRunState) on arbitrary
// file contents: a state or an error (ENOENT, EBADMSG, EINVAL), never a crash or an uncaught exception.
#include <stdlib.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "tests/fuzz/fuzz_input_file.h"
#include "workloads/run_state.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  longpin::fuzz::MakeInputFile("state.json");
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (!longpin::fuzz::WriteInput(data, size)) return 0;
  auto state = longpin::ReadRunState(longpin::fuzz::g_input_dir);
  if (!state.ok() && state.status().err() == 0) __builtin_trap();
  return 0;
}
