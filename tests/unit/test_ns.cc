// Namespace name <-> flag tables and /proc/PID/ns identities (no privilege needed).
#include <sched.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <set>
#include <string>
#include <vector>

#include "core/sandbox/ns.h"

using namespace sbx::core;

TEST_CASE("namespace_kinds lists the eight namespaces in setns order", "[ns]") {
  const auto& kinds = namespace_kinds();
  REQUIRE(kinds.size() == 8);
  const std::vector<std::string> names = {"user", "mnt", "uts",    "ipc",
                                          "pid",  "net", "cgroup", "time"};
  const std::vector<uint64_t> flags = {CLONE_NEWUSER, CLONE_NEWNS,  CLONE_NEWUTS,    CLONE_NEWIPC,
                                       CLONE_NEWPID,  CLONE_NEWNET, CLONE_NEWCGROUP, CLONE_NEWTIME};
  const std::vector<std::string> flag_names = {"CLONE_NEWUSER",   "CLONE_NEWNS",  "CLONE_NEWUTS",
                                               "CLONE_NEWIPC",    "CLONE_NEWPID", "CLONE_NEWNET",
                                               "CLONE_NEWCGROUP", "CLONE_NEWTIME"};
  for (size_t i = 0; i < kinds.size(); ++i) {
    INFO("index " << i);
    CHECK(std::string(kinds[i].name) == names[i]);
    CHECK(kinds[i].flag == flags[i]);
    CHECK(std::string(kinds[i].flag_name) == flag_names[i]);
  }
  // User first: it grants the capabilities needed to join the others.
  CHECK(kinds.front().flag == CLONE_NEWUSER);
}

TEST_CASE("namespace flags are distinct single bits and all_namespace_flags is their union",
          "[ns]") {
  uint64_t all = 0;
  std::set<uint64_t> seen;
  for (const auto& k : namespace_kinds()) {
    INFO(k.name);
    CHECK(k.flag != 0);
    CHECK((k.flag & (k.flag - 1)) == 0);
    CHECK(seen.insert(k.flag).second);
    all |= k.flag;
  }
  CHECK(all_namespace_flags() == all);
}

TEST_CASE("namespace_flag maps names to CLONE_NEW* flags", "[ns]") {
  SECTION("every table name") {
    for (const auto& k : namespace_kinds()) {
      auto f = namespace_flag(k.name);
      REQUIRE(f.ok());
      CHECK(*f == k.flag);
    }
  }
  SECTION("examples") {
    auto net = namespace_flag("net");
    REQUIRE(net.ok());
    CHECK(*net == static_cast<uint64_t>(CLONE_NEWNET));
    auto mnt = namespace_flag("mnt");
    REQUIRE(mnt.ok());
    CHECK(*mnt == static_cast<uint64_t>(CLONE_NEWNS));
    auto time = namespace_flag("time");
    REQUIRE(time.ok());
    CHECK(*time == static_cast<uint64_t>(CLONE_NEWTIME));
  }
  SECTION("\"mount\" is an alias for mnt") {
    auto f = namespace_flag("mount");
    REQUIRE(f.ok());
    CHECK(*f == static_cast<uint64_t>(CLONE_NEWNS));
  }
  SECTION("unknown names are errors that name the word") {
    for (const char* bad : {"network", "", "NET", "net ", "pid_for_children", "mounts"}) {
      INFO("name '" << bad << "'");
      auto f = namespace_flag(bad);
      REQUIRE_FALSE(f.ok());
      CHECK(f.error().err == EINVAL);
      CHECK_THAT(f.error().message, Catch::Contains(std::string("'").append(bad).append("'")));
      CHECK_THAT(f.error().message, Catch::Contains("unknown namespace"));
    }
  }
}

TEST_CASE("namespace_flags and namespace_names round trip", "[ns]") {
  SECTION("empty") {
    auto f = namespace_flags({});
    REQUIRE(f.ok());
    CHECK(*f == 0);
    CHECK(namespace_names(0).empty());
  }
  SECTION("a subset comes back in table order") {
    auto f = namespace_flags({"net", "pid", "mount", "user"});
    REQUIRE(f.ok());
    CHECK(*f == static_cast<uint64_t>(CLONE_NEWNET | CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWUSER));
    CHECK(namespace_names(*f) == std::vector<std::string>{"user", "mnt", "pid", "net"});
  }
  SECTION("duplicates are harmless") {
    auto f = namespace_flags({"net", "net", "net"});
    REQUIRE(f.ok());
    CHECK(*f == static_cast<uint64_t>(CLONE_NEWNET));
  }
  SECTION("all eight") {
    std::vector<std::string> names;
    for (const auto& k : namespace_kinds()) names.emplace_back(k.name);
    auto f = namespace_flags(names);
    REQUIRE(f.ok());
    CHECK(*f == all_namespace_flags());
    CHECK(namespace_names(*f) == names);
  }
  SECTION("every single namespace") {
    for (const auto& k : namespace_kinds()) {
      auto f = namespace_flags({std::string(k.name)});
      REQUIRE(f.ok());
      CHECK(namespace_names(*f) == std::vector<std::string>{std::string(k.name)});
    }
  }
  SECTION("names ignore bits that are not namespaces") {
    CHECK(namespace_names(CLONE_NEWNET | CLONE_VM | CLONE_FILES) ==
          std::vector<std::string>{"net"});
  }
  SECTION("one bad name fails the whole list and is named") {
    auto f = namespace_flags({"net", "bogus", "pid"});
    REQUIRE_FALSE(f.ok());
    CHECK_THAT(f.error().message, Catch::Contains("'bogus'"));
  }
}

TEST_CASE("namespace_flags_string joins flag names in table order", "[ns]") {
  CHECK(namespace_flags_string(CLONE_NEWPID | CLONE_NEWNET) == "CLONE_NEWPID|CLONE_NEWNET");
  CHECK(namespace_flags_string(CLONE_NEWNET) == "CLONE_NEWNET");
  CHECK(namespace_flags_string(CLONE_NEWUSER | CLONE_NEWNS) == "CLONE_NEWUSER|CLONE_NEWNS");
  CHECK(namespace_flags_string(0) == "0");
  CHECK(namespace_flags_string(all_namespace_flags()) ==
        "CLONE_NEWUSER|CLONE_NEWNS|CLONE_NEWUTS|CLONE_NEWIPC|CLONE_NEWPID|CLONE_NEWNET|CLONE_"
        "NEWCGROUP|"
        "CLONE_NEWTIME");
  // Non-namespace bits are not named.
  CHECK(namespace_flags_string(CLONE_VM) == "0");
  CHECK(namespace_flags_string(CLONE_VM | CLONE_NEWIPC) == "CLONE_NEWIPC");
}

TEST_CASE("namespace_ids reads inode numbers from /proc/PID/ns", "[ns]") {
  auto ids = namespace_ids(0);
  REQUIRE(ids.ok());
  for (const char* n : {"user", "mnt", "uts", "ipc", "pid", "net", "cgroup"}) {
    INFO("namespace " << n);
    REQUIRE(ids->count(n) == 1);
    CHECK(ids->at(n) > 0);
    struct stat st;
    REQUIRE(stat((std::string("/proc/self/ns/") + n).c_str(), &st) == 0);
    CHECK(ids->at(n) == st.st_ino);
  }
  // No key that is not a namespace name.
  for (const auto& [name, ino] : *ids) {
    INFO("key " << name);
    CHECK(namespace_flag(name).ok());
    CHECK(ino > 0);
  }
  // Distinct namespaces have distinct inodes.
  std::set<uint64_t> inodes;
  for (const auto& [name, ino] : *ids) inodes.insert(ino);
  CHECK(inodes.size() == ids->size());

  SECTION("own pid gives the same answer as 0") {
    auto mine = namespace_ids(getpid());
    REQUIRE(mine.ok());
    CHECK(*mine == *ids);
  }
  SECTION("a pid that does not exist is an error naming the path") {
    auto gone = namespace_ids(999999999);
    REQUIRE_FALSE(gone.ok());
    CHECK(gone.error().err == ENOENT);
    CHECK_THAT(gone.error().message, Catch::Contains("/proc/999999999/ns/"));
  }
}
