// Result<T>, Status and Error: the value-or-error type every core call returns.
#include <catch2/catch.hpp>
#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "core/base/result.h"

using namespace sbx::core;

namespace {
Result<int> half(int n) {
  if (n % 2) return user_error("half: " + std::to_string(n) + " is odd");
  return n / 2;
}
Status check_positive(int n) {
  if (n <= 0) return {ERANGE, "check: " + std::to_string(n) + " is not positive"};
  return {};
}
}  // namespace

TEST_CASE("Result<T> holds a value or an error", "[errors]") {
  SECTION("value") {
    auto r = half(10);
    REQUIRE(r.ok());
    CHECK(static_cast<bool>(r));
    CHECK(*r == 5);
    CHECK(r.value() == 5);
    *r = 7;
    CHECK(r.value() == 7);
  }
  SECTION("error") {
    auto r = half(3);
    REQUIRE_FALSE(r.ok());
    CHECK_FALSE(static_cast<bool>(r));
    CHECK(r.error().err == EINVAL);
    CHECK(r.error().message == "half: 3 is odd");
  }
  SECTION("from errno and message") {
    Result<std::string> r(ENOENT, "open /x: gone");
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().err == ENOENT);
    CHECK(r.error().message == "open /x: gone");
  }
  SECTION("operator-> reaches the value") {
    Result<std::vector<int>> r(std::vector<int>{1, 2, 3});
    REQUIRE(r.ok());
    CHECK(r->size() == 3);
  }
  SECTION("const access") {
    const Result<int> r(42);
    CHECK(r.ok());
    CHECK(r.value() == 42);
  }
}

TEST_CASE("Status is ok by default or carries an error", "[errors]") {
  Status ok;
  CHECK(ok.ok());
  CHECK(static_cast<bool>(ok));
  CHECK(check_positive(1).ok());
  auto bad = check_positive(-2);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().err == ERANGE);
  CHECK(bad.error().message == "check: -2 is not positive");
  Status from_error(Error{EPERM, "nope"});
  CHECK_FALSE(from_error.ok());
  CHECK(from_error.error().err == EPERM);
}

TEST_CASE("Error helpers build 'step: cause' messages", "[errors]") {
  SECTION("sys_error uses strerror of the given errno") {
    auto e = sys_error("mount proc on /proc", EPERM);
    CHECK(e.err == EPERM);
    CHECK(e.message == std::string("mount proc on /proc: ") + std::strerror(EPERM));
  }
  SECTION("sys_error defaults to the current errno") {
    errno = ENOENT;
    auto e = sys_error("open /nope");
    CHECK(e.err == ENOENT);
    CHECK(e.message == std::string("open /nope: ") + std::strerror(ENOENT));
  }
  SECTION("user_error is EINVAL with the message as given") {
    auto e = user_error("hostname: too long");
    CHECK(e.err == EINVAL);
    CHECK(e.message == "hostname: too long");
  }
  SECTION("context prefixes and keeps errno; the original is untouched") {
    Error e{ENOTDIR, "mkdir /a/b: exists and is not a directory"};
    Error c = e.context("bind /x on /a/b/c");
    CHECK(c.err == ENOTDIR);
    CHECK(c.message == "bind /x on /a/b/c: mkdir /a/b: exists and is not a directory");
    CHECK(e.message == "mkdir /a/b: exists and is not a directory");
    CHECK(c.context("sandbox").message ==
          "sandbox: bind /x on /a/b/c: mkdir /a/b: exists and is not a directory");
  }
}
