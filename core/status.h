// Status: the one error type below main. C APIs' three dialects (-errno, NULL+errno, library codes) are
// converted once, at the call, into "operation, where, errno" so the user sees one clear line.
#pragma once

#include <cerrno>
#include <string>
#include <string_view>
#include <utility>

namespace longpin {

// [[nodiscard]]: a dropped Status is an error nobody saw (an unpin that failed and was logged as done). Where
// ignoring one is right, the call says why.
class [[nodiscard]] Status {
 public:
  Status() = default;
  // err: a positive errno (0 = ok). what: the operation and where ("mount /dev/loop3 on /x").
  Status(int err, std::string what) : err_(err), what_(std::move(what)) {}

  static Status Ok() { return {}; }
  static Status FromErrno(std::string what) { return Status(errno ? errno : EIO, std::move(what)); }
  // An error that is not an errno (a library's own code): err_ is EIO, the text carries the detail.
  static Status Error(std::string what) { return Status(EIO, std::move(what)); }

  bool ok() const { return err_ == 0; }
  explicit operator bool() const { return ok(); }
  int err() const { return err_; }
  const std::string& what() const { return what_; }
  // "what: Strerror (ENAME)"
  std::string message() const;

 private:
  int err_ = 0;
  std::string what_;
};

// The error that stopped an operation, with the failure of the cleanup after it when there was one: the cause
// stays the first error (and its errno), and the user learns that something may be left behind.
inline Status WithCleanupError(Status first, const Status& cleanup) {
  if (cleanup.ok()) return first;
  return Status(first.err(), first.what() + " (and the cleanup after it failed: " + cleanup.message() + ")");
}

// Symbolic errno name ("EFAULT"); "E<number>" when unknown.
std::string_view ErrnoName(int err);
// Inverse of ErrnoName for the names longpin prints; 0 when unknown.
int ErrnoFromName(std::string_view name);

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}          // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) {}  // NOLINT
  bool ok() const { return status_.ok(); }
  const Status& status() const { return status_; }
  T& value() { return value_; }
  const T& value() const { return value_; }
  T* operator->() { return &value_; }
  T& operator*() { return value_; }

 private:
  T value_{};
  Status status_;
};

}  // namespace longpin
