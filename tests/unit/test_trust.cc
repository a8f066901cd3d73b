// Private directories, checked files and fault injection: no privilege needed, in a temp dir.
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <fstream>
#include <string>

#include "core/base/fault.h"
#include "core/base/trust.h"
#include "temp_dir.h"

using namespace sbx::core;

TEST_CASE("trusted_dir creates a private directory and accepts it again") {
  TempDir t;
  std::string d = t.path + "/a/b";
  REQUIRE(trusted_dir(d, 0700, "state directory"));
  struct stat st;
  REQUIRE(stat(d.c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0700);  // whatever the umask
  CHECK(trusted_dir(d, 0700, "state directory"));
}

TEST_CASE("trusted_dir refuses a directory others may write, and a symlink, naming path and fix") {
  TempDir t;
  std::string d = t.path + "/open";
  REQUIRE(mkdir(d.c_str(), 0700) == 0);
  REQUIRE(chmod(d.c_str(), 0777) == 0);
  auto r = trusted_dir(d, 0700, "runtime directory");
  REQUIRE(!r);
  CHECK(r.error().err == EPERM);
  CHECK(r.error().message.find("runtime directory " + d + ": mode 0777") == 0);
  CHECK(r.error().message.find("rm -rf " + d) != std::string::npos);
  std::string link = t.path + "/link";
  REQUIRE(symlink(t.path.c_str(), link.c_str()) == 0);
  auto l = trusted_dir(link, 0700, "cache directory");
  REQUIRE(!l);
  CHECK(l.error().message.find("is a symlink or not a directory") != std::string::npos);
}

TEST_CASE(
    "open_trusted_file: a regular file of ours that nobody else can write, never through a "
    "symlink") {
  TempDir t;
  std::string f = t.path + "/f";
  std::ofstream(f) << "x";
  REQUIRE(chmod(f.c_str(), 0600) == 0);
  CHECK(open_trusted_file(f));
  REQUIRE(chmod(f.c_str(), 0666) == 0);
  auto w = open_trusted_file(f);
  REQUIRE(!w);
  CHECK(w.error().message.find("lets other users write it") != std::string::npos);
  std::string link = t.path + "/l";
  REQUIRE(symlink(f.c_str(), link.c_str()) == 0);
  CHECK(!open_trusted_file(link));
  CHECK(!open_trusted_file(t.path));  // a directory
}

TEST_CASE("every fault step has a name, a shape a test can run and a description") {
  const auto& steps = fault_steps();
  REQUIRE(steps.size() >= 28);
  for (const auto& s : steps) {
    std::string shape = s.shape;
    CHECK((shape == "plain" || shape == "limits" || shape == "devices" || shape == "bridge" ||
           shape == "image" || shape == "detached"));
    CHECK(std::string(s.what).size() > 10);
    CHECK(fault(s.name) == 0);  // inert: SBX_FAULT is not set in the unit tests
  }
  auto e = fault_error("cgroup.mkdir", "create cgroup /x", ENOSPC);
  CHECK(e.err == ENOSPC);
  CHECK(e.message == "create cgroup /x: No space left on device [injected: cgroup.mkdir]");
}
