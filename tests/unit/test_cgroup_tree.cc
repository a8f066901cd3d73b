// Reading a group's figures on v1 and v2, against fake cgroup trees in temporary directories.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <optional>

#include "core/cgroup/cgroup.h"

using namespace sbx::core;
namespace fs = std::filesystem;

namespace {
struct TempTree {
  fs::path root;
  TempTree() {
    char tmpl[] = "/tmp/sbx-cgtree.XXXXXX";
    root = mkdtemp(tmpl);
  }
  ~TempTree() { fs::remove_all(root); }
  void file(const fs::path& rel, const std::string& text) const {
    fs::create_directories((root / rel).parent_path());
    std::ofstream(root / rel) << text;
  }
};
}  // namespace

TEST_CASE("stat and events on a v2 tree", "[cgroup][tree]") {
  TempTree t;
  t.file("web/cgroup.procs", "5\n6\n");
  t.file("web/memory.current", "1048576\n");
  t.file("web/memory.peak", "2097152\n");
  t.file("web/memory.events", "low 0\nhigh 0\nmax 4\noom 2\noom_kill 1\n");
  t.file("web/cpu.stat", "usage_usec 5000\nuser_usec 3000\nsystem_usec 2000\n");
  t.file("web/pids.current", "2\n");
  t.file("web/pids.events", "max 3\n");
  t.file("web/io.stat",
         "8:0 rbytes=100 wbytes=200 rios=1 wios=2\n8:16 rbytes=10 wbytes=20 rios=1 wios=1\n");
  t.file("web/memory.max", "max\n");
  CgroupHost h;
  h.layout = "2";
  h.v2_root = t.root.string();
  h.v2_controllers = {"cpu", "io", "memory", "pids"};
  auto cg = Cgroup::open(h, "/web");
  REQUIRE(cg);
  CHECK(cg->path() == "/web");
  auto procs = cg->procs();
  REQUIRE(procs);
  CHECK(*procs == std::vector<pid_t>{5, 6});
  auto st = cg->stat();
  REQUIRE(st);
  CHECK(st->memory_current == 1048576);
  CHECK(st->memory_peak == 2097152);
  CHECK(st->cpu_usage_usec == 5000);
  CHECK(st->pids_current == 2);
  CHECK(st->io_read_bytes == 110);
  CHECK(st->io_write_bytes == 220);
  CHECK(st->oom_kills == 1);
  auto ev = cg->events();
  REQUIRE(ev);
  CHECK(ev->oom == 2);
  CHECK(ev->oom_kill == 1);
  CHECK(ev->pids_max == 3);
  CHECK(*cg->get("memory.max") == "max");
  REQUIRE(cg->set("memory.max", "1000"));
  CHECK(*cg->get("memory.max") == "1000");
  CHECK_FALSE(cg->get("memory.nope"));
  CHECK_FALSE(Cgroup::open(h, "/missing"));
}

TEST_CASE("stat and events on a v1 tree, one directory per controller", "[cgroup][tree]") {
  TempTree t;
  t.file("memory/web/cgroup.procs", "7\n");
  t.file("memory/web/memory.usage_in_bytes", "4096\n");
  t.file("memory/web/memory.max_usage_in_bytes", "8192\n");
  t.file("memory/web/memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 4\n");
  t.file("cpuacct/web/cgroup.procs", "7\n8\n");
  t.file("cpuacct/web/cpuacct.usage", "3000000\n");
  t.file("pids/web/cgroup.procs", "7\n");
  t.file("pids/web/pids.current", "1\n");
  t.file("pids/web/pids.events", "max 9\n");
  t.file("blkio/web/cgroup.procs", "");
  t.file("blkio/web/blkio.throttle.io_service_bytes",
         "8:0 Read 300\n8:0 Write 400\n8:0 Sync 700\n8:0 Async 0\n8:0 Total 700\nTotal 700\n");
  CgroupHost h;
  h.layout = "1";
  for (const char* c : {"memory", "cpuacct", "pids", "blkio"}) h.v1[c] = (t.root / c).string();
  auto cg = Cgroup::open(h, "/web");
  REQUIRE(cg);
  CHECK(cg->dirs().size() == 4);
  auto procs = cg->procs();
  REQUIRE(procs);
  CHECK(*procs == std::vector<pid_t>{7, 8});  // the union of the hierarchies
  auto st = cg->stat();
  REQUIRE(st);
  CHECK(st->memory_current == 4096);
  CHECK(st->memory_peak == 8192);
  CHECK(st->cpu_usage_usec == 3000);
  CHECK(st->pids_current == 1);
  CHECK(st->io_read_bytes == 300);
  CHECK(st->io_write_bytes == 400);
  CHECK(st->oom_kills == 4);
  auto ev = cg->events();
  REQUIRE(ev);
  CHECK(ev->oom_kill == 4);
  CHECK(ev->pids_max == 9);
  // a file of a controller this group has no hierarchy for
  auto none = cg->get("freezer.state");
  REQUIRE_FALSE(none);
  CHECK(none.error().message.find("freezer") != std::string::npos);
}

// A group create() made is removed by its owner: when it goes, when it is replaced, never by a
// moved-from copy, and not at all once released (on a fake v2 root: no limits, no processes).
TEST_CASE("a created group is removed with its owner unless released", "[cgroup][tree]") {
  TempTree t;
  CgroupHost h;
  h.layout = "2";
  h.v2_root = t.root.string();
  auto exists = [&](const char* name) { return fs::exists(t.root / name); };
  {
    auto cg = Cgroup::create(h, "", "a", Limits{});
    REQUIRE(cg);
    CHECK(cg->owned());
    CHECK(exists("a"));
  }
  CHECK_FALSE(exists("a"));
  {
    std::optional<Cgroup> held;
    {
      auto cg = Cgroup::create(h, "", "b", Limits{});
      REQUIRE(cg);
      held = std::move(*cg);  // the moved-from one goes at the end of this block
    }
    CHECK(exists("b"));
    CHECK(held->owned());
    auto other = Cgroup::create(h, "", "c", Limits{});
    REQUIRE(other);
    *held = std::move(*other);  // replacing an owner removes what it owned
    CHECK_FALSE(exists("b"));
    CHECK(exists("c"));
  }
  CHECK_FALSE(exists("c"));
  {
    auto cg = Cgroup::create(h, "", "d", Limits{});
    REQUIRE(cg);
    cg->release();
    CHECK_FALSE(cg->owned());
  }
  CHECK(exists("d"));
  // an opened group is never removed
  {
    auto cg = Cgroup::open(h, "/d");
    REQUIRE(cg);
  }
  CHECK(exists("d"));
}

#include "core/fs/overlay.h"
#include "core/image/layer.h"

TEST_CASE("overlay option values are escaped; entry paths are checked", "[image]") {
  CHECK(escape_overlay_path("/a:b,c\\d") == "/a\\:b\\,c\\\\d");
  CHECK(check_entry_path("../x") != "");
  CHECK(check_entry_path("/etc/passwd") == "absolute path");
  CHECK(check_entry_path("a/../../b") != "");
  CHECK(check_entry_path("./a/b") == "");
  CHECK(normalize_entry_path("./a//b/") == "a/b");
  CHECK(symlink_escapes("a/link", "../../etc"));
  CHECK_FALSE(symlink_escapes("a/link", "../etc"));
  CHECK_FALSE(symlink_escapes("link", "/etc/passwd"));
  CHECK(symlink_escapes("link", ".."));
}
