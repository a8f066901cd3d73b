// Small files whole (core/base/io.h), in a private temp dir.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <string>

#include "core/base/fd.h"
#include "core/base/io.h"
#include "temp_dir.h"

using namespace sbx::core;

namespace {

mode_t mode_of(const std::string& path) {
  struct stat st;
  REQUIRE(lstat(path.c_str(), &st) == 0);
  return st.st_mode & 07777;
}

bool exists(const std::string& path) {
  struct stat st;
  return lstat(path.c_str(), &st) == 0;
}

}  // namespace

TEST_CASE("write_file then read_file gives the text back, binary included", "[io]") {
  TempDir tmp;
  std::string p = tmp.path + "/f";
  const std::string text("one\ntwo\0three\n", 14);
  REQUIRE(write_file(p, text).ok());
  auto back = read_file(p);
  REQUIRE(back.ok());
  CHECK(*back == text);
  SECTION("an empty file reads as empty text") {
    REQUIRE(write_file(p, "").ok());
    auto empty = read_file(p);
    REQUIRE(empty.ok());
    CHECK(empty->empty());
  }
  SECTION("larger than one read") {
    std::string big(200000, 'x');
    big[123456] = 'y';
    REQUIRE(write_file(p, big).ok());
    auto r = read_file(p);
    REQUIRE(r.ok());
    CHECK(*r == big);
  }
}

TEST_CASE("write_file gives the mode exactly and truncates what was there", "[io]") {
  TempDir tmp;
  std::string p = tmp.path + "/f";
  mode_t old_mask = umask(077);
  REQUIRE(write_file(p, "a long first text\n", 0644).ok());
  umask(old_mask);
  CHECK(mode_of(p) == 0644);
  REQUIRE(write_file(p, "short", 0600).ok());
  CHECK(mode_of(p) == 0600);
  CHECK(*read_file(p) == "short");
}

TEST_CASE("read_file errors name the file and keep errno", "[io]") {
  TempDir tmp;
  auto missing = read_file(tmp.path + "/missing");
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().err == ENOENT);
  CHECK(missing.error().message == "read " + tmp.path + "/missing: No such file or directory");
  SECTION("a directory") {
    auto dir = read_file(tmp.path);
    REQUIRE_FALSE(dir.ok());
    CHECK(dir.error().err == EISDIR);
  }
  SECTION("past the limit: EFBIG, not a huge string") {
    std::string p = tmp.path + "/big";
    REQUIRE(write_file(p, std::string(5000, 'x')).ok());
    auto r = read_file(p, 0, 4096);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().err == EFBIG);
    CHECK_THAT(r.error().message, Catch::Contains(p));
    CHECK(read_file(p, 0, 5000).ok());
  }
}

TEST_CASE("O_NOFOLLOW: a symlink is refused where sbx asks for it, and never written through",
          "[io]") {
  TempDir tmp;
  std::string target = tmp.path + "/target", link = tmp.path + "/link";
  REQUIRE(write_file(target, "secret").ok());
  REQUIRE(symlink(target.c_str(), link.c_str()) == 0);
  CHECK(*read_file(link) == "secret");  // followed by default (/etc/resolv.conf often is one)
  auto r = read_file(link, O_NOFOLLOW);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().err == ELOOP);
  auto w = write_file(link, "overwritten");
  REQUIRE_FALSE(w.ok());
  CHECK(w.error().err == ELOOP);
  CHECK(*read_file(target) == "secret");
}

TEST_CASE("write_file_atomic replaces the file whole and leaves no temporary", "[io]") {
  TempDir tmp;
  std::string p = tmp.path + "/state.json";
  REQUIRE(write_file(p, "old").ok());
  struct stat before;
  REQUIRE(stat(p.c_str(), &before) == 0);
  Fd reader(open(p.c_str(), O_RDONLY | O_CLOEXEC));  // one who opened the old file keeps it
  REQUIRE(write_file_atomic(p, "new text", 0600).ok());
  CHECK(*read_file(p) == "new text");
  CHECK(mode_of(p) == 0600);
  struct stat after;
  REQUIRE(stat(p.c_str(), &after) == 0);
  CHECK(after.st_ino != before.st_ino);  // a new file renamed into place, not rewritten in place
  CHECK(*read_fd(reader.get(), "read old") == "old");
  CHECK_FALSE(exists(p + ".tmp-" + std::to_string(getpid())));
  SECTION("a failure names the file and leaves nothing behind") {
    auto r = write_file_atomic(tmp.path + "/no-such-dir/f", "x");
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().err == ENOENT);
    CHECK(r.error().message == "write " + tmp.path + "/no-such-dir/f: No such file or directory");
  }
  SECTION("a directory in the way: the temporary is removed") {
    std::string d = tmp.path + "/dir";
    REQUIRE(mkdir(d.c_str(), 0700) == 0);
    REQUIRE(write_file(d + "/inner", "x").ok());
    REQUIRE_FALSE(write_file_atomic(d, "x").ok());
    CHECK_FALSE(exists(d + ".tmp-" + std::to_string(getpid())));
  }
}

TEST_CASE("read_fd reads a pipe to its end", "[io]") {
  int p[2];
  REQUIRE(pipe2(p, O_CLOEXEC) == 0);
  Fd r(p[0]), w(p[1]);
  REQUIRE(write(w.get(), "abc", 3) == 3);
  w.reset();
  auto text = read_fd(r.get(), "read pipe");
  REQUIRE(text.ok());
  CHECK(*text == "abc");
  auto bad = read_fd(-1, "read nothing");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().err == EBADF);
  CHECK_THAT(bad.error().message, Catch::StartsWith("read nothing: "));
}

TEST_CASE("write_control: an existing file, never created", "[io]") {
  TempDir tmp;
  std::string p = tmp.path + "/control";
  auto r = write_control(p, "1\n");
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().err == ENOENT);
  CHECK_FALSE(exists(p));
  REQUIRE(write_file(p, "").ok());
  REQUIRE(write_control(p, "1\n").ok());
  CHECK(*read_file(p) == "1\n");
}
