// The readers under fuzzing take a path: each input is written to one file in a directory of the fuzzing
// process's own, removed at exit. Plain arrays, so that the atexit handler never reads a destroyed string
// (libFuzzer ends a clean run with exit()).
#pragma once

#include <stdlib.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

namespace longpin::fuzz {

inline char g_input_dir[] = "/tmp/longpin-fuzz-XXXXXX";
inline char g_input_file[sizeof(g_input_dir) + 64];

// Call from LLVMFuzzerInitialize; name is the file's name in the directory ("state.json", "job.toml").
inline void MakeInputFile(const char* name) {
  if (!::mkdtemp(g_input_dir)) std::abort();
  std::snprintf(g_input_file, sizeof g_input_file, "%s/%s", g_input_dir, name);
  std::atexit([] {
    ::unlink(g_input_file);
    ::rmdir(g_input_dir);
  });
}

// Writes one input to the file; false when it cannot (the input is then skipped).
inline bool WriteInput(const uint8_t* data, size_t size) {
  FILE* f = std::fopen(g_input_file, "wb");
  if (!f) return false;
  if (size) std::fwrite(data, 1, size, f);
  return std::fclose(f) == 0;
}

}  // namespace longpin::fuzz
