// File-system helpers that need no privilege: is_static_elf and make_dirs, in a private temp dir.
#include <elf.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

#include "core/fs/mount.h"
#include "core/fs/rootfs.h"
#include "temp_dir.h"

using namespace sbx::core;
namespace fs = std::filesystem;

namespace {

void write_bytes(const std::string& path, const void* data, size_t n) {
  std::ofstream f(path, std::ios::binary);
  f.write(static_cast<const char*>(data), static_cast<std::streamsize>(n));
  REQUIRE(f.good());
}

bool is_dir(const std::string& p) {
  struct stat st;
  return stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

}  // namespace

TEST_CASE("is_static_elf rejects what is not a 64-bit ELF file", "[rootfs]") {
  TempDir tmp;
  SECTION("a text file") {
    std::string p = tmp.path + "/script";
    const char text[] =
        "#!/bin/sh\necho this is not an ELF file, but long enough to read a header from\n";
    write_bytes(p, text, sizeof text - 1);
    auto r = is_static_elf(p);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().err == ENOEXEC);
    CHECK_THAT(r.error().message, Catch::Contains(p) && Catch::Contains("not a 64-bit ELF"));
  }
  SECTION("an empty file") {
    std::string p = tmp.path + "/empty";
    write_bytes(p, "", 0);
    auto r = is_static_elf(p);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().err == ENOEXEC);
  }
  SECTION("a 32-bit ELF header") {
    std::string p = tmp.path + "/elf32";
    unsigned char buf[sizeof(Elf64_Ehdr)] = {};
    std::memcpy(buf, ELFMAG, SELFMAG);
    buf[EI_CLASS] = ELFCLASS32;
    write_bytes(p, buf, sizeof buf);
    auto r = is_static_elf(p);
    REQUIRE_FALSE(r.ok());
    CHECK_THAT(r.error().message, Catch::Contains("not a 64-bit ELF"));
  }
  SECTION("an ELF header whose program headers are missing") {
    std::string p = tmp.path + "/truncated";
    Elf64_Ehdr eh;
    std::memset(&eh, 0, sizeof eh);
    std::memcpy(eh.e_ident, ELFMAG, SELFMAG);
    eh.e_ident[EI_CLASS] = ELFCLASS64;
    eh.e_phoff = sizeof eh;
    eh.e_phentsize = sizeof(Elf64_Phdr);
    eh.e_phnum = 3;
    write_bytes(p, &eh, sizeof eh);
    auto r = is_static_elf(p);
    REQUIRE_FALSE(r.ok());
    CHECK_THAT(r.error().message, Catch::Contains("truncated ELF"));
  }
  SECTION("a missing file") {
    std::string p = tmp.path + "/does-not-exist";
    auto r = is_static_elf(p);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().err == ENOENT);
    CHECK_THAT(r.error().message, Catch::Contains("open " + p));
  }
}

TEST_CASE("is_static_elf on real binaries", "[rootfs]") {
  SECTION("/bin/sh is dynamically linked") {
    auto r = is_static_elf("/bin/sh");
    REQUIRE(r.ok());
    CHECK_FALSE(*r);
  }
  SECTION("/bin/busybox (busybox-static) is static") {
    if (access("/bin/busybox", R_OK) != 0) {
      WARN("/bin/busybox missing: skipped");
      return;
    }
    auto r = is_static_elf("/bin/busybox");
    REQUIRE(r.ok());
    if (!*r) {
      WARN("/bin/busybox is dynamically linked (not busybox-static): skipped");
      return;
    }
    CHECK(*r);
  }
  SECTION("a synthetic ELF without program headers counts as static") {
    TempDir tmp;
    std::string p = tmp.path + "/nophdr";
    Elf64_Ehdr eh;
    std::memset(&eh, 0, sizeof eh);
    std::memcpy(eh.e_ident, ELFMAG, SELFMAG);
    eh.e_ident[EI_CLASS] = ELFCLASS64;
    write_bytes(p, &eh, sizeof eh);
    auto r = is_static_elf(p);
    REQUIRE(r.ok());
    CHECK(*r);
  }
  SECTION("a synthetic ELF with PT_INTERP is dynamic") {
    TempDir tmp;
    std::string p = tmp.path + "/interp";
    struct {
      Elf64_Ehdr eh;
      Elf64_Phdr ph[2];
    } img;
    std::memset(&img, 0, sizeof img);
    std::memcpy(img.eh.e_ident, ELFMAG, SELFMAG);
    img.eh.e_ident[EI_CLASS] = ELFCLASS64;
    img.eh.e_phoff = sizeof img.eh;
    img.eh.e_phentsize = sizeof(Elf64_Phdr);
    img.eh.e_phnum = 2;
    img.ph[0].p_type = PT_LOAD;
    img.ph[1].p_type = PT_INTERP;
    write_bytes(p, &img, sizeof img);
    auto r = is_static_elf(p);
    REQUIRE(r.ok());
    CHECK_FALSE(*r);
  }
}

TEST_CASE("make_dirs creates nested directories", "[mount]") {
  TempDir tmp;
  SECTION("nested") {
    std::string deep = tmp.path + "/a/b/c/d";
    auto st = make_dirs(deep);
    INFO(st.error().message);
    REQUIRE(st.ok());
    CHECK(is_dir(tmp.path + "/a"));
    CHECK(is_dir(tmp.path + "/a/b"));
    CHECK(is_dir(tmp.path + "/a/b/c"));
    CHECK(is_dir(deep));
    SECTION("again: already there is fine") {
      CHECK(make_dirs(deep).ok());
    }
    SECTION("a sibling under an existing parent") {
      CHECK(make_dirs(tmp.path + "/a/b/x").ok());
      CHECK(is_dir(tmp.path + "/a/b/x"));
    }
  }
  SECTION("with a mode") {
    mode_t old = umask(0);
    auto st = make_dirs(tmp.path + "/m1/m2", 0700);
    umask(old);
    REQUIRE(st.ok());
    struct stat s1, s2;
    REQUIRE(stat((tmp.path + "/m1").c_str(), &s1) == 0);
    REQUIRE(stat((tmp.path + "/m1/m2").c_str(), &s2) == 0);
    CHECK((s1.st_mode & 07777) == 0700);
    CHECK((s2.st_mode & 07777) == 0700);
  }
  SECTION("trailing slash") {
    CHECK(make_dirs(tmp.path + "/t1/t2/").ok());
    CHECK(is_dir(tmp.path + "/t1/t2"));
  }
  SECTION("root and empty are no-ops") {
    CHECK(make_dirs("/").ok());
    CHECK(make_dirs("").ok());
  }
}

TEST_CASE("make_dirs fails when a component is a file", "[mount]") {
  TempDir tmp;
  std::string file = tmp.path + "/file";
  write_bytes(file, "x", 1);

  SECTION("the path itself is a file") {
    auto st = make_dirs(file);
    REQUIRE_FALSE(st.ok());
    CHECK(st.error().err == ENOTDIR);
    CHECK_THAT(st.error().message, Catch::Contains(file) && Catch::Contains("not a directory"));
  }
  SECTION("a parent is a file") {
    auto st = make_dirs(file + "/sub/deeper");
    REQUIRE_FALSE(st.ok());
    CHECK(st.error().err == ENOTDIR);
    CHECK_THAT(st.error().message, Catch::Contains(file));
    CHECK_FALSE(fs::exists(file + "/sub"));
  }
}
