// A scratch directory for one test case: mkdtemp under /tmp, removed (recursively) at the end.
#pragma once
#include <stdlib.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <string>

struct TempDir {
  std::string path;
  explicit TempDir(const char* tmpl = "/tmp/sbx-unit-XXXXXX") {
    std::string t = tmpl;
    REQUIRE(mkdtemp(t.data()) != nullptr);
    path = t;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
};
