#include "core/status.h"

#include <cstdio>
#include <cstring>
#include <string>

namespace longpin {
namespace {
struct ErrnoEntry {
  int value;
  std::string_view name;
};
constexpr ErrnoEntry kErrnoNames[] = {
    {EPERM, "EPERM"},   {ENOENT, "ENOENT"},       {EINTR, "EINTR"},     {EIO, "EIO"},
    {ENXIO, "ENXIO"},   {E2BIG, "E2BIG"},         {EBADF, "EBADF"},     {EAGAIN, "EAGAIN"},
    {ENOMEM, "ENOMEM"}, {EACCES, "EACCES"},       {EFAULT, "EFAULT"},   {EBUSY, "EBUSY"},
    {EEXIST, "EEXIST"}, {ENODEV, "ENODEV"},       {ENOTDIR, "ENOTDIR"}, {EISDIR, "EISDIR"},
    {EINVAL, "EINVAL"}, {ENFILE, "ENFILE"},       {EMFILE, "EMFILE"},   {ENOTTY, "ENOTTY"},
    {EFBIG, "EFBIG"},   {ENOSPC, "ENOSPC"},       {ESPIPE, "ESPIPE"},   {EROFS, "EROFS"},
    {EPIPE, "EPIPE"},   {ERANGE, "ERANGE"},       {ENOSYS, "ENOSYS"},   {EOPNOTSUPP, "EOPNOTSUPP"},
    {ETIMEDOUT, "ETIMEDOUT"}, {ESHUTDOWN, "ESHUTDOWN"}, {EUCLEAN, "EUCLEAN"}, {EDQUOT, "EDQUOT"},
    {ENOTBLK, "ENOTBLK"}, {ENODATA, "ENODATA"},   {ECANCELED, "ECANCELED"}, {EOVERFLOW, "EOVERFLOW"},
    {ENOTSUP, "ENOTSUP"},
};
}  // namespace

std::string_view ErrnoName(int err) {
  for (const auto& e : kErrnoNames)
    if (e.value == err) return e.name;
  // snprintf, not std::string concatenation: g++ 12 warns falsely (-Wrestrict) on "E" + std::to_string().
  thread_local char fallback[16];
  std::snprintf(fallback, sizeof fallback, "E%d", err);
  return fallback;
}

int ErrnoFromName(std::string_view name) {
  for (const auto& e : kErrnoNames)
    if (e.name == name) return e.value;
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
