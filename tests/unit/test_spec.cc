// Spec::validate, describe and the op kind names.
#include <sched.h>

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "core/sandbox/ns.h"
#include "core/sandbox/spec.h"

using namespace sbx::core;

namespace {

Spec minimal() {
  Spec s;
  s.argv = {"/bin/true"};
  return s;
}

// A spec that uses every namespace-dependent feature, with everything it needs.
Spec full() {
  Spec s = minimal();
  s.namespaces = all_namespace_flags();
  s.rootfs = "/srv/root";
  s.hostname = "box";
  s.cwd = "/home/user";
  s.env = {"PATH=/usr/bin:/bin", "HOME=/home/user", "EMPTY="};
  s.time_offsets.monotonic = 3600;
  s.time_offsets.boottime = -60;
  s.uid_map = {{0, 100000, 65536}};
  s.gid_map = {{0, 100000, 1000}, {1000, 1000, 1}};
  s.ops = {
      {OpKind::Bind, "/srv/data", "/data"},
      {OpKind::RoBind, "/usr", "/usr"},
      {OpKind::DevBind, "/dev/null", "/dev/null"},
      {OpKind::Tmpfs, "", "/tmp", false, 64 << 20, 01777},
      {OpKind::Proc, "", "/proc"},
      {OpKind::Dev, "", "/dev"},
      {OpKind::Mqueue, "", "/dev/mqueue"},
      {OpKind::Mkdir, "", "/run/x", false, 0, 0700},
      {OpKind::Symlink, "usr/bin", "/bin"},
      {OpKind::File, "hello\n", "/etc/motd"},
      {OpKind::RemountRo, "", "/usr"},
  };
  return s;
}

// Expects validate to fail with EINVAL and a message containing every fragment.
void expect_error(const Spec& s, const std::vector<std::string>& fragments, bool need_argv = true) {
  auto st = validate(s, need_argv);
  REQUIRE_FALSE(st.ok());
  CHECK(st.error().err == EINVAL);
  for (const auto& f : fragments) CHECK_THAT(st.error().message, Catch::Contains(f));
}

}  // namespace

TEST_CASE("validate accepts good specs", "[spec]") {
  SECTION("minimal") {
    CHECK(validate(minimal()).ok());
  }
  SECTION("every feature with its namespace") {
    auto st = validate(full());
    INFO(st.error().message);
    CHECK(st.ok());
  }
  SECTION("no argv when need_argv is false") {
    Spec s;
    CHECK(validate(s, false).ok());
  }
  SECTION("a program name without a slash") {
    Spec s;
    s.argv = {"true"};
    CHECK(validate(s).ok());
  }
  SECTION("a 64-character hostname") {
    Spec s = minimal();
    s.namespaces = CLONE_NEWUTS;
    s.hostname = std::string(64, 'h');
    CHECK(validate(s).ok());
  }
  SECTION("an environment value containing '='") {
    Spec s = minimal();
    s.env = {"A=b=c"};
    CHECK(validate(s).ok());
  }
  SECTION("dest names with dots that are not '..'") {
    Spec s = minimal();
    s.namespaces = CLONE_NEWNS;
    s.ops = {{OpKind::Mkdir, "", "/a/..b"},
             {OpKind::Mkdir, "", "/a/b.."},
             {OpKind::Mkdir, "", "/.../x"},
             {OpKind::Mkdir, "", "/a/./b"},
             {OpKind::Mkdir, "", "/"}};
    auto st = validate(s);
    INFO(st.error().message);
    CHECK(st.ok());
  }
  SECTION("id maps are not checked without a user namespace") {
    Spec s = minimal();
    s.uid_map = {{0, 0, 0}};
    CHECK(validate(s).ok());
  }
  SECTION("adjacent inside ranges do not overlap") {
    Spec s = minimal();
    s.namespaces = CLONE_NEWUSER;
    s.uid_map = {{0, 1000, 1}, {1, 100000, 65535}};
    s.gid_map = {{0, 1000, 1}};
    CHECK(validate(s).ok());
  }
}

TEST_CASE("validate rejects bad specs and names the field", "[spec]") {
  SECTION("empty argv") {
    expect_error(Spec{}, {"argv", "empty"});
  }
  SECTION("empty program name") {
    Spec s;
    s.argv = {""};
    expect_error(s, {"argv[1]", "empty program name"});
    expect_error(s, {"argv[1]"}, false);
  }
  SECTION("unknown namespace bits") {
    Spec s = minimal();
    s.namespaces = CLONE_VM;
    expect_error(s, {"namespaces"});
  }
  SECTION("relative cwd") {
    Spec s = minimal();
    s.cwd = "home/user";
    expect_error(s, {"cwd", "'home/user'", "absolute"});
  }
  SECTION("empty cwd") {
    Spec s = minimal();
    s.cwd = "";
    expect_error(s, {"cwd"});
  }
  SECTION("relative rootfs") {
    Spec s = minimal();
    s.namespaces = CLONE_NEWNS;
    s.rootfs = "srv/root";
    expect_error(s, {"rootfs", "'srv/root'", "absolute"});
  }
  SECTION("hostname without the uts namespace") {
    Spec s = minimal();
    s.hostname = "box";
    s.namespaces = all_namespace_flags() & ~static_cast<uint64_t>(CLONE_NEWUTS);
    s.uid_map = s.gid_map = {{0, 1000, 1}};
    expect_error(s, {"hostname", "uts"});
  }
  SECTION("hostname longer than 64") {
    Spec s = minimal();
    s.namespaces = CLONE_NEWUTS;
    s.hostname = std::string(65, 'h');
    expect_error(s, {"hostname", "64"});
  }
  SECTION("time offsets without the time namespace") {
    Spec s = minimal();
    s.time_offsets.monotonic = 10;
    expect_error(s, {"time offsets", "time namespace"});
    s.time_offsets.monotonic = 0;
    s.time_offsets.boottime = -10;
    expect_error(s, {"time offsets"});
    s.namespaces = CLONE_NEWTIME;
    CHECK(validate(s).ok());
  }
  SECTION("ops without the mnt namespace") {
    Spec s = minimal();
    s.ops = {{OpKind::Tmpfs, "", "/tmp"}};
    expect_error(s, {"mounts", "mnt namespace"});
  }
  SECTION("rootfs without the mnt namespace") {
    Spec s = minimal();
    s.rootfs = "/srv/root";
    expect_error(s, {"mounts", "mnt namespace"});
  }
  SECTION("env entry without '='") {
    Spec s = minimal();
    s.env = {"A=1", "NOVALUE"};
    expect_error(s, {"env", "'NOVALUE'", "KEY=VALUE"});
  }
  SECTION("env entry with an empty key") {
    Spec s = minimal();
    s.env = {"=value"};
    expect_error(s, {"env", "'=value'"});
  }
  SECTION("empty env entry") {
    Spec s = minimal();
    s.env = {""};
    expect_error(s, {"env"});
  }
}

TEST_CASE("validate checks each mount op and names it by 1-based index", "[spec]") {
  Spec s = minimal();
  s.namespaces = CLONE_NEWNS;
  s.ops = {{OpKind::Tmpfs, "", "/tmp"}, {OpKind::Bind, "/srv/data", "/data"}};
  REQUIRE(validate(s).ok());

  SECTION("relative destination") {
    s.ops[1].dest = "data";
    expect_error(s, {"mounts[2] (bind)", "destination", "'data'", "not absolute"});
  }
  SECTION("empty destination") {
    s.ops[0].dest = "";
    expect_error(s, {"mounts[1] (tmpfs)", "destination"});
  }
  SECTION("destination containing '..'") {
    for (const char* dest : {"/data/../etc", "/..", "/a/..", "/../a", "/a/../../b", "/a/b/../"}) {
      INFO("dest " << dest);
      s.ops[1].dest = dest;
      expect_error(s, {"mounts[2] (bind)", std::string("'").append(dest).append("'"), "'..'"});
    }
  }
  SECTION("bind with a relative source") {
    s.ops[1].source = "srv/data";
    expect_error(s, {"mounts[2] (bind)", "source", "'srv/data'", "absolute"});
  }
  SECTION("ro-bind and dev-bind with a relative or empty source") {
    s.ops[0] = {OpKind::RoBind, "", "/usr"};
    expect_error(s, {"mounts[1] (ro-bind)", "source"});
    s.ops[0] = {OpKind::DevBind, "dev/null", "/dev/null"};
    expect_error(s, {"mounts[1] (dev-bind)", "'dev/null'"});
  }
  SECTION("non-bind ops do not need a source") {
    s.ops = {{OpKind::Tmpfs, "", "/tmp"},      {OpKind::Proc, "", "/proc"},
             {OpKind::Dev, "", "/dev"},        {OpKind::Mkdir, "", "/x"},
             {OpKind::File, "", "/etc/empty"}, {OpKind::RemountRo, "", "/"},
             {OpKind::Mqueue, "", "/mq"},      {OpKind::Symlink, "relative/target", "/link"}};
    auto st = validate(s);
    INFO(st.error().message);
    CHECK(st.ok());
  }
  SECTION("device: the node is c/b MAJOR:MINOR or p") {
    for (const char* good : {"c 1:7", "b 8:0", "u 10:229", "p", "c 4095:1048575"}) {
      s.ops = {{OpKind::Device, good, "/dev/x"}};
      INFO(good);
      CHECK(validate(s).ok());
    }
    for (const char* bad : {"", "c", "c 1", "c 1:", "x 1:2", "c 4096:0", "c 1:1048576", "c -1:2",
                            "c 1:2 rwm", "p 1:2"}) {
      s.ops = {{OpKind::Device, bad, "/dev/x"}};
      INFO(bad);
      expect_error(s, {"mounts[1] (device)", "device node"});
    }
    s.ops = {{OpKind::Device, "c 1:7", "/dev/../etc/x"}};
    expect_error(s, {"mounts[1] (device)", "'..'"});
  }
  SECTION("symlink with an empty target") {
    s.ops.push_back({OpKind::Symlink, "", "/link"});
    expect_error(s, {"mounts[3] (symlink)", "link target"});
  }
  SECTION("the first bad op is reported") {
    s.ops[0].dest = "a";
    s.ops[1].dest = "b";
    expect_error(s, {"mounts[1]"});
  }
}

TEST_CASE("validate checks id maps when a user namespace is asked", "[spec]") {
  Spec s = minimal();
  s.namespaces = CLONE_NEWUSER;
  s.uid_map = {{0, 1000, 1}};
  s.gid_map = {{0, 1000, 1}};
  REQUIRE(validate(s).ok());

  SECTION("empty uid map") {
    s.uid_map.clear();
    expect_error(s, {"uid map", "empty"});
  }
  SECTION("empty gid map") {
    s.gid_map.clear();
    expect_error(s, {"gid map", "empty"});
  }
  SECTION("overlapping inside ranges") {
    s.uid_map = {{0, 1000, 10}, {5, 200000, 10}};
    expect_error(s, {"uid map", "overlap"});
    s.uid_map = {{5, 200000, 10}, {0, 1000, 10}};
    expect_error(s, {"uid map", "overlap"});
    s.uid_map = {{0, 1000, 100}, {10, 200000, 1}};  // contained
    expect_error(s, {"uid map", "overlap"});
  }
  SECTION("count 0") {
    s.gid_map = {{0, 1000, 0}};
    expect_error(s, {"gid map", "count 0"});
  }
  SECTION("range past 2^32-1") {
    s.uid_map = {{4294967290u, 0, 10}};
    expect_error(s, {"uid map", "4294967295"});
    s.uid_map = {{0, 4294967290u, 10}};
    expect_error(s, {"uid map", "4294967295"});
  }
  SECTION("more than 340 lines") {
    s.uid_map.clear();
    for (uint32_t i = 0; i < 341; ++i) s.uid_map.push_back({i, 100000 + i, 1});
    expect_error(s, {"uid map", "340"});
    s.uid_map.pop_back();
    CHECK(validate(s).ok());
  }
}

TEST_CASE("describe names a step", "[spec]") {
  CHECK(describe({OpKind::Bind, "/srv/data", "/data"}) == "bind /srv/data on /data");
  CHECK(describe({OpKind::RoBind, "/usr", "/usr"}) == "ro-bind /usr on /usr");
  CHECK(describe({OpKind::DevBind, "/dev/kvm", "/dev/kvm"}) == "dev-bind /dev/kvm on /dev/kvm");
  CHECK(describe({OpKind::Symlink, "usr/bin", "/bin"}) == "symlink /bin -> usr/bin");
  CHECK(describe({OpKind::Tmpfs, "", "/tmp", false, 1 << 20, 01777}) == "tmpfs /tmp");
  CHECK(describe({OpKind::Proc, "", "/proc"}) == "proc /proc");
  CHECK(describe({OpKind::Dev, "", "/dev"}) == "dev /dev");
  CHECK(describe({OpKind::Mqueue, "", "/dev/mqueue"}) == "mqueue /dev/mqueue");
  CHECK(describe({OpKind::Mkdir, "", "/run/x"}) == "mkdir /run/x");
  CHECK(describe({OpKind::File, "secret contents", "/etc/motd"}) ==
        "file /etc/motd");  // not the contents
  CHECK(describe({OpKind::RemountRo, "", "/usr"}) == "remount-ro /usr");
  CHECK(describe({OpKind::Device, "c 1:7", "/dev/mydev"}) == "device /dev/mydev (c 1:7)");
}

TEST_CASE("op kind names round trip", "[spec]") {
  const std::pair<OpKind, const char*> all[] = {
      {OpKind::Bind, "bind"},
      {OpKind::RoBind, "ro-bind"},
      {OpKind::DevBind, "dev-bind"},
      {OpKind::Tmpfs, "tmpfs"},
      {OpKind::Proc, "proc"},
      {OpKind::Dev, "dev"},
      {OpKind::Mqueue, "mqueue"},
      {OpKind::Mkdir, "mkdir"},
      {OpKind::Symlink, "symlink"},
      {OpKind::File, "file"},
      {OpKind::RemountRo, "remount-ro"},
      {OpKind::Device, "device"},
      {OpKind::Overlay, "overlay"},
  };
  for (const auto& [kind, name] : all) {
    INFO("kind " << name);
    CHECK(std::string(op_kind_name(kind)) == name);
    auto back = op_kind_from_name(name);
    REQUIRE(back.has_value());
    CHECK(*back == kind);
    CHECK(op_kind_from_name(op_kind_name(kind)) == kind);
  }
  for (const char* bad : {"", "Bind", "robind", "ro_bind", "bind ", "?", "overlayfs"}) {
    INFO("name '" << bad << "'");
    CHECK_FALSE(op_kind_from_name(bad).has_value());
  }
  CHECK(std::string(op_kind_name(static_cast<OpKind>(999))) == "?");
}
