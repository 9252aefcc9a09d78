// libFuzzer target: the job-file parser (workloads/job_file.h ApplyJobFile) on arbitrary TOML text, applied
// to the run command's options as `longpin run FILE.toml` does: an error string or a config, never a crash.
// CLI11's own validation errors are how a bad value is refused, so they are caught as main catches them.
#include <stdlib.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "workloads/cli/run_options.h"
#include "workloads/job_file.h"

namespace {

// One file per fuzzing process, rewritten for each input. A plain array, so that the atexit handler never
// reads a destroyed string (libFuzzer ends a clean run with exit()).
char g_path[] = "/tmp/longpin-fuzz-job-XXXXXX.toml";

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  const int fd = ::mkstemps(g_path, 5);
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
  CLI::App app;
  longpin::RunConfig cfg;
  longpin::RunOptionText text;
  longpin::JobSource source;
  longpin::AddRunOptions(app, cfg, text);
  longpin::AddJobFileOptions(app, source);
  const char* argv[] = {"run"};
  try {
    app.parse(1, argv);
    longpin::JobFile job;
    (void)longpin::ApplyJobFile(app, path, &job);  // an error string is a refusal: any answer is fine here
  } catch (const CLI::Error&) {
  }
  return 0;
}
