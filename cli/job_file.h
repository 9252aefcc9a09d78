// Job files: `longpin run` options as TOML keys (docs/job-files.md). Every option of `longpin run` is a key,
// spelled as the option without its leading dashes (size = "256M", writers = "cpu:2,pwrite:1", keep = true);
// options given on the command line override the file. Presets are job files shipped in workloads/presets/
// and found by name (`longpin run --workload NAME`). Errors are one line, "FILE:LINE: message" (exit 2).
#pragma once

#include <CLI/CLI.hpp>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace longpin {

// Where a job file set each key: to point an error of the later validation at the file's line.
class JobFile {
 public:
  bool empty() const { return path_.empty(); }
  const std::string& path() const { return path_; }
  // An error of FinishRunConfig ("--size 3M: not a size") about an option the file set, as "FILE:LINE: ...";
  // other errors unchanged.
  std::string Locate(const std::string& error) const;

 private:
  friend std::optional<std::string> ApplyJobFile(CLI::App& run, const std::string& path, JobFile* out);
  std::string path_;
  std::map<std::string, int> line_of_;  // key -> line
};

// Sets, on the parsed `run` app, every option the job file names that the command line did not give, through
// the option's own conversion and checks. Returns the "FILE:LINE: message" of the first problem (unknown
// key, wrong type, value out of range, unreadable or malformed file).
std::optional<std::string> ApplyJobFile(CLI::App& run, const std::string& path, JobFile* out);

// The positional job file and --workload NAME of `longpin run`.
struct JobSource {
  std::string file;
  std::string workload;
};
void AddJobFileOptions(CLI::App& run, JobSource& source);
// The job file to apply (the positional file or the preset's path); nullopt when neither was given.
// Sets *error when the preset does not exist or both were given.
std::optional<std::string> ResolveJobSource(const JobSource& source, std::string* error);

struct PresetInfo {
  std::string name;
  std::string path;
  std::string summary;  // the first line of the file's header comment
};
// Presets by name: the source tree's workloads/presets (a build that runs in place), then the installed
// share/longpin/presets, then share/longpin/presets next to the binary's prefix.
std::vector<PresetInfo> ListPresets();
std::optional<std::string> FindPreset(const std::string& name);

}  // namespace longpin
