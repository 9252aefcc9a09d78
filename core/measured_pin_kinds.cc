#include "core/measured_pin_kinds.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace longpin {
namespace {

constexpr const char* kFileName = "pin-kinds.json";
constexpr int kSchemaVersion = 1;

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

std::string StoreDir() {
  if (std::string dir = Env("LONGPIN_STATE_DIR"); !dir.empty()) return dir;
  if (::geteuid() == 0) return "/var/lib/longpin";
  if (std::string state = Env("XDG_STATE_HOME"); !state.empty()) return state + "/longpin";
  if (std::string home = Env("HOME"); !home.empty()) return home + "/.local/state/longpin";
  return "";
}

bool MakeDirs(const std::string& dir) {
  for (size_t at = dir.find('/', 1);; at = dir.find('/', at + 1)) {
    if (::mkdir(dir.substr(0, at).c_str(), 0755) != 0 && errno != EEXIST) return false;
    if (at == std::string::npos) break;
  }
  struct stat st {};
  return ::stat(dir.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

// The whole store, or an empty one when the file is missing, unreadable or not ours: a store that cannot be
// read is replaced on the next record rather than blocking it forever.
nlohmann::json ReadStore(const std::string& path) {
  std::ifstream f(path);
  if (f) {
    nlohmann::json doc = nlohmann::json::parse(f, nullptr, /*allow_exceptions=*/false);
    if (doc.is_object() && doc.contains("schema_version") && doc["schema_version"] == kSchemaVersion &&
        doc.contains("kernels") && doc["kernels"].is_object())
      return doc;
  }
  return {{"schema_version", kSchemaVersion}, {"kernels", nlohmann::json::object()}};
}

std::string TodayUtc() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&now, &tm);
  char buf[16];
  std::strftime(buf, sizeof buf, "%Y-%m-%d", &tm);
  return buf;
}

bool WriteAll(int fd, const std::string& text) {
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += size_t(n);
  }
  return true;
}

}  // namespace

std::string MeasuredPinKindsPath() {
  const std::string dir = StoreDir();
  return dir.empty() ? "" : dir + "/" + kFileName;
}

void RecordMeasuredPinKind(const std::string& pinner, const std::string& kind,
                           const std::string& kernel_release) {
  if (kind != "FOLL_PIN" && kind != "FOLL_GET/none") return;
  if (pinner.empty() || pinner == "none" || kernel_release.empty()) return;
  const std::string dir = StoreDir();
  if (dir.empty() || !MakeDirs(dir)) return;
  const int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd < 0) return;
  // Two runs ending together would otherwise each read the old store and the later rename would drop the
  // other's entry.
  if (::flock(dir_fd, LOCK_EX) != 0) {
    ::close(dir_fd);
    return;
  }
  const std::string path = dir + "/" + kFileName;
  nlohmann::json doc = ReadStore(path);
  nlohmann::json& on_kernel = doc["kernels"][kernel_release];
  if (!on_kernel.is_object()) on_kernel = nlohmann::json::object();
  on_kernel[pinner] = {{"kind", kind}, {"date", TodayUtc()}};
  const std::string temp = path + ".tmp-" + std::to_string(::getpid());
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  bool written = fd >= 0 && WriteAll(fd, doc.dump(2) + "\n") && ::fsync(fd) == 0;
  if (fd >= 0) written = ::close(fd) == 0 && written;
  if (!written || ::rename(temp.c_str(), path.c_str()) != 0) ::unlink(temp.c_str());
  ::close(dir_fd);  // releases the lock
}

std::optional<MeasuredPinKind> LookupMeasuredPinKind(const std::string& pinner,
                                                     const std::string& kernel_release) {
  const std::string path = MeasuredPinKindsPath();
  if (path.empty()) return std::nullopt;
  const nlohmann::json doc = ReadStore(path);
  const auto& kernels = doc["kernels"];
  auto k = kernels.find(kernel_release);
  if (k == kernels.end() || !k->is_object()) return std::nullopt;
  auto p = k->find(pinner);
  if (p == k->end() || !p->is_object()) return std::nullopt;
  auto kind = p->find("kind"), date = p->find("date");
  if (kind == p->end() || !kind->is_string()) return std::nullopt;
  return MeasuredPinKind{kind->get<std::string>(),
                         date != p->end() && date->is_string() ? date->get<std::string>() : ""};
}

}  // namespace longpin
