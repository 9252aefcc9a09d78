#include "workloads/run_state.h"

#include <fcntl.h>
#include <unistd.h>
#include <xxhash.h>

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace longpin {

namespace {

// xxh64 of the canonical text of every field but "check", as 16 hex digits.
std::string StateCheck(const nlohmann::json& j) {
  nlohmann::json rest = j;
  rest.erase("check");
  const std::string text = rest.dump();
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx",
                static_cast<unsigned long long>(XXH64(text.data(), text.size(), 0)));
  return hex;
}

}  // namespace

Status WriteRunState(const std::string& dir, const RunState& s) {
  nlohmann::json j{{"state_version", kRunStateVersion},
                   {"run_id", s.run_id},
                   {"seed", s.seed},
                   {"target_path", s.target_path},
                   {"block_size", s.block_size},
                   {"block_count", s.block_count},
                   {"fs", s.fs},
                   {"mapping", s.mapping},
                   {"log_path", s.log_path},
                   {"crash_model", s.crash_model},
                   {"pinner", s.pinner},
                   {"sync_op", s.sync_op}};
  j["check"] = StateCheck(j);
  const std::string path = dir + "/state.json", tmp = path + ".tmp";
  const std::string text = j.dump(2) + "\n";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Status::FromErrno("create " + tmp);
  bool ok = ::write(fd, text.data(), text.size()) == ssize_t(text.size()) && ::fsync(fd) == 0;
  ::close(fd);
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) return Status::FromErrno("write " + path);
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return {};
}

Result<RunState> ReadRunState(const std::string& dir) {
  const std::string path = dir + "/state.json";
  std::ifstream f(path);
  if (!f) return Status(ENOENT, "read " + path + ": no longpin state here (give the --state-dir of the run)");
  std::stringstream text;
  text << f.rdbuf();
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text.str());
  } catch (const nlohmann::json::parse_error& e) {
    return Status(EBADMSG, "read " + path + ": damaged at byte " + std::to_string(e.byte) + ": not JSON");
  }
  try {
    if (!j.is_object()) return Status(EBADMSG, "read " + path + ": damaged at byte 0: not a JSON object");
    RunState s;
    s.state_version = j.at("state_version").get<int>();
    if (s.state_version != 1 && s.state_version != kRunStateVersion)
      return Status(EINVAL,
                    "read " + path + ": unsupported state version " + std::to_string(s.state_version));
    if (s.state_version >= 2) {
      const std::string check = j.at("check").get<std::string>();
      if (check != StateCheck(j))
        return Status(EBADMSG, "read " + path + ": damaged: its check " + check +
                                   " does not match its fields (" + StateCheck(j) + ")");
    }
    s.run_id = j.at("run_id").get<uint64_t>();
    s.seed = j.value("seed", uint64_t{0});
    s.target_path = j.at("target_path").get<std::string>();
    s.block_size = j.at("block_size").get<uint64_t>();
    s.block_count = j.at("block_count").get<uint64_t>();
    s.fs = j.value("fs", "");
    s.mapping = j.value("mapping", "shared");
    s.log_path = j.at("log_path").get<std::string>();
    s.crash_model = j.value("crash_model", "");
    s.pinner = j.value("pinner", "");
    s.sync_op = j.value("sync_op", "");
    if (s.block_size < 512 || (s.block_size & (s.block_size - 1)) || s.block_count == 0)
      return Status(EBADMSG, "read " + path + ": damaged: impossible block geometry");
    return s;
  } catch (const std::exception& e) {
    return Status(EBADMSG, "read " + path + ": damaged: " + e.what());
  }
}

}  // namespace longpin
