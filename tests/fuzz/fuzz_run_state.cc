// libFuzzer target: the state.json reader of two-phase runs (workloads/run_state.h ReadRunState) on arbitrary
// file contents: a state or an error (ENOENT, EBADMSG, EINVAL), never a crash or an uncaught exception.
#include <stdlib.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "workloads/run_state.h"

namespace {

// One directory per fuzzing process; its state.json is rewritten for each input. Plain arrays, so that the
// atexit handler never reads a destroyed string (libFuzzer ends a clean run with exit()).
char g_dir[] = "/tmp/longpin-fuzz-state-XXXXXX";
char g_file[sizeof(g_dir) + sizeof("/state.json")];

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  if (!::mkdtemp(g_dir)) std::abort();
  std::snprintf(g_file, sizeof(g_file), "%s/state.json", g_dir);
  std::atexit([] {
    ::unlink(g_file);
    ::rmdir(g_dir);
  });
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FILE* f = std::fopen(g_file, "wb");
  if (!f) return 0;
  if (size) std::fwrite(data, 1, size, f);
  std::fclose(f);
  auto state = longpin::ReadRunState(g_dir);
  if (!state.ok() && state.status().err() == 0) __builtin_trap();
  return 0;
}
