#include "cli/job_file.h"

#include <dirent.h>
#include <limits.h>
#include <sys/stat.h>
#include <toml++/toml.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>

#include "core/install_paths.h"

namespace longpin {
namespace {

// Options of `longpin run` that are not settings of a run: they have no key.
bool IsReservedKey(const std::string& key) {
  return key == "help" || key == "help-all" || key == "job" || key == "workload";
}

std::string At(const std::string& path, int line, const std::string& message) {
  return path + ":" + std::to_string(line) + ": " + message;
}

// The TOML value as the option's command-line text; nullopt with *why when its type does not fit the option.
std::optional<std::string> OptionText(const CLI::Option& opt, const toml::node& value, std::string* why) {
  const bool flag = opt.get_expected_min() == 0;
  std::string type = opt.get_type_name();
  type = type.substr(0, type.find(':'));
  auto wrong = [&](const char* wanted) {
    *why = std::string("expected ") + wanted + ", got " +
           std::string(toml::impl::node_type_friendly_names[size_t(value.type())]);
    return std::nullopt;
  };
  if (flag) {
    if (auto b = value.value_exact<bool>()) return std::string(*b ? "true" : "false");
    return wrong("a boolean (true or false)");
  }
  if (type == "INT" || type == "UINT") {
    if (auto i = value.value_exact<int64_t>()) return std::to_string(*i);
    return wrong("an integer");
  }
  if (type == "FLOAT") {
    if (value.is_integer()) return std::to_string(*value.value_exact<int64_t>());
    if (auto f = value.value_exact<double>()) {
      char buf[64];
      std::snprintf(buf, sizeof buf, "%.17g", *f);
      return std::string(buf);
    }
    return wrong("a number");
  }
  // Text options: a string; an integer where a plain number is meant (size = 268435456); an array of strings
  // for comma lists (phases = ["baseline", "pinned"]).
  if (auto s = value.value_exact<std::string>()) return *s;
  if (auto i = value.value_exact<int64_t>()) return std::to_string(*i);
  if (const toml::array* a = value.as_array()) {
    std::string joined;
    for (const auto& item : *a) {
      auto s = item.value_exact<std::string>();
      if (!s) return wrong("a string or an array of strings");
      joined += (joined.empty() ? "" : ",") + *s;
    }
    return joined;
  }
  return wrong("a string");
}

std::vector<std::string> PresetDirs() {
  // An installed binary reads the presets installed with it, wherever the install was moved (a staging
  // prefix, a .deb's /usr), and never a source tree that happens to be on the machine: those may be other
  // versions.
  if (auto beside = InstalledBesideBinary("presets")) return {*beside};
  std::vector<std::string> dirs;
#ifdef LONGPIN_PRESET_DIR
  dirs.push_back(LONGPIN_PRESET_DIR);
#endif
#ifdef LONGPIN_INSTALLED_PRESET_DIR
  dirs.push_back(LONGPIN_INSTALLED_PRESET_DIR);
#endif
  return dirs;
}

std::string Summary(const std::string& path) {
  std::ifstream f(path);
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind('#', 0) != 0) break;
    line = line.substr(line.find_first_not_of("# ") == std::string::npos ? line.size()
                                                                         : line.find_first_not_of("# "));
    if (!line.empty()) return line;
  }
  return "";
}

}  // namespace

std::string JobFile::Locate(const std::string& error) const {
  if (path_.empty() || error.rfind("--", 0) != 0) return error;
  const std::string key = error.substr(2, error.find_first_of(" :", 2) - 2);
  auto it = line_of_.find(key);
  return it == line_of_.end() ? error : At(path_, it->second, error);
}

std::optional<std::string> ApplyJobFile(CLI::App& run, const std::string& path, JobFile* out) {
  toml::table table;
  try {
    table = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    std::string what(e.description());
    if (e.source().begin.line == 0) return path + ": " + what;  // not readable at all
    return At(path, int(e.source().begin.line), what);
  }
  out->path_ = path;
  // In file order, so that the first problem reported is the first in the file.
  std::vector<std::pair<std::string, const toml::node*>> keys;
  for (auto&& [key, value] : table) keys.emplace_back(std::string(key.str()), &value);
  std::sort(keys.begin(), keys.end(), [](const auto& a, const auto& b) {
    return a.second->source().begin.line < b.second->source().begin.line;
  });
  for (const auto& [key, value] : keys) {
    const int line = int(value->source().begin.line);
    out->line_of_[key] = line;
    CLI::Option* opt = IsReservedKey(key) ? nullptr : run.get_option_no_throw("--" + key);
    if (!opt || opt->get_positional()) {
      if (key == "workload" || key == "job")
        return At(path, line, key + ": a job file cannot name another job file");
      if (value->is_table())
        return At(path, line,
                  "[" + key + "]: unknown table (a job file's keys are `longpin run` options, at the top)");
      return At(path, line,
                "unknown key '" + key +
                    "' (the keys are `longpin run` options without the dashes; see docs/job-files.md)");
    }
    std::string why;
    auto text = OptionText(*opt, *value, &why);
    if (!text) return At(path, line, key + ": " + why);
    if (opt->count() > 0) continue;  // the command line said otherwise: it wins
    try {
      opt->add_result(*text);
      opt->run_callback();
    } catch (const CLI::Error& e) {
      return At(path, line, key + " = " + *text + ": " + e.what());
    }
  }
  return std::nullopt;
}

void AddJobFileOptions(CLI::App& run, JobSource& source) {
  run.add_option("job", source.file,
                 "A job file (TOML, docs/job-files.md); command-line options override it");
  run.add_option("--workload", source.workload,
                 "Run the preset NAME (`longpin list workloads`); options override it");
}

std::optional<std::string> ResolveJobSource(const JobSource& source, std::string* error) {
  if (!source.file.empty() && !source.workload.empty()) {
    *error = "give a job file or --workload NAME, not both";
    return std::nullopt;
  }
  if (!source.file.empty()) {
    struct stat st {};
    if (::stat(source.file.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
      *error = source.file + ": a directory, not a job file (give FILE.toml, or --workload NAME)";
      return std::nullopt;
    }
    return source.file;
  }
  if (source.workload.empty()) return std::nullopt;
  auto path = FindPreset(source.workload);
  if (!path) {
    std::string names;
    for (const auto& p : ListPresets()) names += (names.empty() ? "" : ", ") + p.name;
    *error = "--workload " + source.workload + ": no such preset (" +
             (names.empty() ? "none installed" : names) + ")";
  }
  return path;
}

std::vector<PresetInfo> ListPresets() {
  std::vector<PresetInfo> out;
  for (const auto& dir : PresetDirs()) {
    DIR* d = ::opendir(dir.c_str());
    if (!d) continue;
    std::vector<PresetInfo> here;
    while (dirent* e = ::readdir(d)) {
      std::string file = e->d_name;
      if (file.size() <= 5 || file.substr(file.size() - 5) != ".toml") continue;
      const std::string name = file.substr(0, file.size() - 5);
      if (std::any_of(out.begin(), out.end(), [&](const PresetInfo& p) { return p.name == name; })) continue;
      std::string summary = Summary(dir + "/" + file);
      if (summary.rfind(name + ": ", 0) == 0)
        summary = summary.substr(name.size() + 2);  // the name is shown anyway
      here.push_back({name, dir + "/" + file, summary});
    }
    ::closedir(d);
    std::sort(here.begin(), here.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
    out.insert(out.end(), here.begin(), here.end());
  }
  return out;
}

std::optional<std::string> FindPreset(const std::string& name) {
  if (name.empty() || name.find('/') != std::string::npos) return std::nullopt;
  for (const auto& p : ListPresets())
    if (p.name == name) return p.path;
  return std::nullopt;
}

}  // namespace longpin
