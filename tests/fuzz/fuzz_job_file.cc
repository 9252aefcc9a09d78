// libFuzzer target: the job-file parser (cli/job_file.h ApplyJobFile) on arbitrary TOML text, applied
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

#include "cli/job_file.h"
#include "cli/run_options.h"
#include "tests/fuzz/fuzz_input_file.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  longpin::fuzz::MakeInputFile("job.toml");
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (!longpin::fuzz::WriteInput(data, size)) return 0;
  const std::string path = longpin::fuzz::g_input_file;
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
