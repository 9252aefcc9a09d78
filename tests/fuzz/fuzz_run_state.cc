// libFuzzer target: the state.json reader of two-phase runs (workloads/run_state.h ReadRunState) on arbitrary
// file contents: a state or an error (ENOENT, EBADMSG, EINVAL), never a crash or an uncaught exception.
#include <stdlib.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>

#include "workloads/run_state.h"

namespace {

const std::string& StateDir() {
  static const std::string dir = [] {
    char tmpl[] = "/tmp/longpin-fuzz-state-XXXXXX";
    return std::string(::mkdtemp(tmpl) ? tmpl : "/tmp");
  }();
  return dir;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = StateDir() + "/state.json";
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) return 0;
  if (size) std::fwrite(data, 1, size, f);
  std::fclose(f);
  auto state = longpin::ReadRunState(StateDir());
  if (!state.ok() && state.status().err() == 0) __builtin_trap();
  return 0;
}
