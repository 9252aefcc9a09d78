#include "core/units.h"

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace longpin {

std::optional<uint64_t> ParseSize(const std::string& text) {
  if (text.empty() || !std::isdigit(static_cast<unsigned char>(text[0]))) return std::nullopt;
  char* end = nullptr;
  errno = 0;
  unsigned long long v = std::strtoull(text.c_str(), &end, 10);
  if (errno) return std::nullopt;
  std::string suffix(end);
  for (auto& c : suffix) c = char(std::tolower(static_cast<unsigned char>(c)));
  unsigned shift = 0;
  if (suffix.empty() || suffix == "b") shift = 0;
  else if (suffix == "k" || suffix == "kb" || suffix == "kib") shift = 10;
  else if (suffix == "m" || suffix == "mb" || suffix == "mib") shift = 20;
  else if (suffix == "g" || suffix == "gb" || suffix == "gib") shift = 30;
  else if (suffix == "t" || suffix == "tb" || suffix == "tib") shift = 40;
  else return std::nullopt;
  if (shift && v > (~0ULL >> shift)) return std::nullopt;
  return uint64_t(v) << shift;
}

std::optional<double> ParseDuration(const std::string& text) {
  if (text.empty()) return std::nullopt;
  char* end = nullptr;
  double v = std::strtod(text.c_str(), &end);
  if (end == text.c_str() || !std::isfinite(v) || v < 0) return std::nullopt;
  std::string suffix(end);
  double scale;
  if (suffix.empty() || suffix == "s") scale = 1;
  else if (suffix == "ms") scale = 1e-3;
  else if (suffix == "us") scale = 1e-6;
  else if (suffix == "ns") scale = 1e-9;
  else if (suffix == "m" || suffix == "min") scale = 60;
  else if (suffix == "h") scale = 3600;
  else return std::nullopt;
  return v * scale;
}

std::string FormatSize(uint64_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  double v = double(bytes);
  while (v >= 1024 && u < 4 && std::fmod(v, 1024) == 0) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.0f %s", v, units[u]);
  return buf;
}

std::string FormatNs(uint64_t ns) {
  char buf[32];
  if (ns < 10000) std::snprintf(buf, sizeof buf, "%llu ns", static_cast<unsigned long long>(ns));
  else if (ns < 10000000) std::snprintf(buf, sizeof buf, "%.1f us", double(ns) / 1e3);
  else if (ns < 10000000000ULL) std::snprintf(buf, sizeof buf, "%.2f ms", double(ns) / 1e6);
  else std::snprintf(buf, sizeof buf, "%.2f s", double(ns) / 1e9);
  return buf;
}

std::vector<std::string> SplitCommaList(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    if (comma == std::string::npos) comma = text.size();
    if (comma > start) out.push_back(text.substr(start, comma - start));
    start = comma + 1;
  }
  return out;
}

}  // namespace longpin
