// Result<T>: a value or an Error {errno, message with context}. The core never throws across
// the Lua boundary and never exits; callers prepend their own context with Error::context().
#pragma once
#include <cerrno>
#include <cstring>
#include <string>
#include <utility>
#include <variant>

namespace sbx::core {

struct Error {
  int err = 0;          // errno, or 0 when the cause is not a system call
  std::string message;  // "step object: cause"

  // Prefix with the caller's step: "bind /a on /b" + ": " + message.
  Error context(const std::string& what) const { return {err, what + ": " + message}; }
};

// An Error from the current errno: sys_error("mount proc on /proc") -> "...: Operation not
// permitted".
inline Error sys_error(const std::string& what, int e = errno) {
  return {e, what + ": " + std::strerror(e)};
}
inline Error user_error(const std::string& message) {
  return {EINVAL, message};
}

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T v) : v_(std::move(v)) {}
  Result(Error e) : v_(std::move(e)) {}
  Result(int err, std::string message) : v_(Error{err, std::move(message)}) {}
  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() { return std::get<0>(v_); }
  const T& value() const { return std::get<0>(v_); }
  T& operator*() { return value(); }
  T* operator->() { return &value(); }
  const T& operator*() const { return value(); }
  const T* operator->() const { return &value(); }
  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error e) : e_(std::move(e)), ok_(false) {}
  Result(int err, std::string message) : e_{err, std::move(message)}, ok_(false) {}
  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const { return e_; }

 private:
  Error e_;
  bool ok_ = true;
};

using Status = Result<void>;

}  // namespace sbx::core
