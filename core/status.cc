#include "core/status.h"

#include <cstdio>
#include <cstring>
#include <string>

namespace longpin {

std::string_view ErrnoName(int err) {
  // glibc's own table (2.32+); 0 and negative numbers are no errno and get the fallback as well.
  if (const char* name = err > 0 ? ::strerrorname_np(err) : nullptr) return name;
  // snprintf, not std::string concatenation: g++ 12 warns falsely (-Wrestrict) on "E" + std::to_string().
  thread_local char fallback[16];
  std::snprintf(fallback, sizeof fallback, "E%d", err);
  return fallback;
}

int ErrnoFromName(std::string_view name) {
  // Errno values are small (the kernel's end at 4095, glibc names fewer than 150): a scan is cheap.
  for (int err = 1; err < 4096; ++err)
    if (const char* known = ::strerrorname_np(err); known != nullptr && name == known) return err;
  return 0;
}

std::string Status::message() const {
  if (ok()) return "ok";
  std::string m = what_;
  m += ": ";
  m += std::strerror(err_);
  m += " (";
  m += ErrnoName(err_);
  m += ")";
  return m;
}

}  // namespace longpin
