// The plan's one declaration (core/sandbox/plan): every field survives Spec -> JSON -> Spec and
// Spec -> Lua -> Spec; unknown keys and wrong types are refused with the key path; and the same
// holds for generated plans.
#include <sched.h>

#include <catch2/catch.hpp>
#include <random>
#include <set>
#include <string>

#include "bind/plan_lua.h"
#include "core/sandbox/ns.h"
#include "core/sandbox/plan.h"

using namespace sbx::core;
using schema::Json;

namespace {

// Every field of every plan struct set to a value other than its default.
Spec every_field() {
  Spec s;
  s.namespaces = CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWNET;
  s.rootfs = "/srv/root";
  s.rootfs_readonly = false;
  s.ops = {{OpKind::Tmpfs,
            "tmpfs",
            "/tmp",
            true,
            1 << 20,
            01777,
            5,
            6,
            {{0, 1, 2}},
            {{3, 4, 5}},
            true,
            "/up",
            "/work"},
           {OpKind::Symlink, "/etc", "/data"},
           {OpKind::Device, "c 1:7", "/dev/mydev", false, 0, 0640, 5, 6}};
  s.uid_map = {{0, 100000, 65536}};
  s.gid_map = {{0, 100000, 1000}, {1000, 1000, 1}};
  s.deny_setgroups = false;
  s.hostname = "box";
  s.cwd = "";
  s.env = {"A=1"};
  s.argv = {"/bin/true", "x"};
  s.uid = 7;
  s.gid = 8;
  s.groups = {0, 10};
  s.loopback_up = false;
  s.die_with_parent = false;
  s.init = false;
  s.domainname = "example.org";
  s.personality = "linux32";
  s.root_propagation = "shared";
  s.rlimits = {{"RLIMIT_NOFILE", 1024, 2048}};
  s.umask = 022;
  s.sysctl = {{"net.ipv4.ping_group_range", "0 0"}};
  s.time_offsets = {3600, -60};
  s.layers = {"/l1", "/l2"};
  s.upper = "/u";
  s.work = "/w";
  s.join = {{"net", "/run/netns/blue"}};
  s.bridge = BridgeSpec{"br1", "10.9.0.0/24", "10.9.0.5",  {{"udp", "127.0.0.1", 8053, 53}},
                        false, "web",         "127.0.0.53"};
  s.user_net = UserNetSpec{"slirp4netns", {{"tcp", "127.0.0.1", 8080, 80}}, "127.0.0.53"};
  s.caps = std::vector<std::string>{};
  s.cap_sets = CapSets{{"CAP_KILL"}, {"CAP_KILL"}, {"CAP_KILL"}, {"CAP_KILL"}};
  s.oom_score_adj = -5;
  s.no_new_privs = true;
  s.seccomp = SeccompPolicy{
      "strict", "kill", {{"keyctl", "errno ENOSYS", {{1, "masked_eq", 0xff, 0x10}}}}, {"log"}};
  s.limits.memory = 64ull << 20;
  s.limits.memory_swap = 128ull << 20;
  s.limits.cpu = 0.5;
  s.limits.cpu_weight = 50;
  s.limits.cpu_shares = 1024;
  s.limits.unified = {{"memory.high", "max"}};
  s.limits.memory_swappiness = 10;
  s.limits.oom_kill_disable = true;
  s.limits.cpuset = "0";
  s.limits.pids = 10;
  s.limits.memory_reservation = 32ull << 20;
  s.limits.cpu_period = 50000;
  s.limits.cpu_burst = 1000;
  s.limits.cpu_idle = 1;
  s.limits.cpu_rt_period = 1000000;
  s.limits.cpu_rt_runtime = 1000;
  s.limits.cpuset_mems = "0";
  s.limits.io = {{"8:0", 1, 2, 3, 4, 100}};
  s.limits.io_weight = 200;
  s.limits.hugetlb = {{"2MB", 4ull << 20}};
  s.limits.devices = std::vector<std::string>{"c 1:3 rwm"};
  s.cgroup_parent = "ci";
  s.cgroup_name = "box";
  return s;
}

template <class S>
size_t present_fields(const S& s) {
  size_t n = 0;
  for (const auto& f : schema::fields<S>()) n += f.present(s);
  return n;
}

// Runs fn in a protected call: a raise() becomes the returned message.
std::string lua_error_of(lua_State* L, lua_CFunction fn) {
  lua_pushcfunction(L, fn);
  lua_pushvalue(L, -2);
  if (lua_pcall(L, 1, 0, 0) == 0) return "";
  std::string msg = lua_tostring(L, -1);
  lua_pop(L, 1);
  return msg;
}

Spec g_out;
int decode_top(lua_State* L) {
  g_out = sbx::bind::spec_from_lua(L, 1);
  return 0;
}

Spec through_lua(const Spec& in) {
  lua_State* L = luaL_newstate();
  sbx::bind::push_spec(L, in);
  std::string err = lua_error_of(L, decode_top);
  lua_close(L);
  INFO(err);
  REQUIRE(err.empty());
  return g_out;
}

std::string decode_error(const std::string& text) {
  auto s = plan_from_text(text, "plan");
  return s ? "" : s.error().message;
}

}  // namespace

TEST_CASE("plan: every declared field is set by the test plan (a new field must join it)",
          "[plan]") {
  Spec s = every_field();
  CHECK(present_fields(s) == schema::fields<Spec>().size());
  CHECK(present_fields(s.ops[0]) == schema::fields<Op>().size());
  CHECK(present_fields(s.limits) == schema::fields<Limits>().size());
  CHECK(present_fields(s.limits.io[0]) == schema::fields<IoLimit>().size());
  CHECK(present_fields(*s.bridge) == schema::fields<BridgeSpec>().size());
  CHECK(present_fields(*s.user_net) == schema::fields<UserNetSpec>().size());
  CHECK(present_fields(*s.seccomp) == schema::fields<SeccompPolicy>().size());
  CHECK(present_fields(s.seccomp->rules[0]) == schema::fields<SeccompRule>().size());
  CHECK(present_fields(s.seccomp->rules[0].args[0]) == schema::fields<SeccompArg>().size());
  CHECK(present_fields(s.uid_map[0]) == schema::fields<IdMapEntry>().size());
  CHECK(present_fields(s.time_offsets) == schema::fields<TimeOffsets>().size());
  CHECK(present_fields(s.rlimits[0]) == schema::fields<Rlimit>().size());
  CHECK(present_fields(s.sysctl[0]) == schema::fields<Sysctl>().size());
}

TEST_CASE("plan: Spec -> JSON -> Spec and Spec -> Lua -> Spec are identity", "[plan]") {
  for (const Spec& s : {Spec{}, every_field()}) {
    auto back = plan_from_json(plan_to_json(s));
    REQUIRE(back);
    CHECK(*back == s);
    auto text = plan_from_text(plan_to_json(s).dump(2), "plan");  // plan.json's text
    REQUIRE(text);
    CHECK(*text == s);
    CHECK(through_lua(s) == s);
  }
}

TEST_CASE("plan: the encoding is tidy: defaults of quiet fields and unset optionals are left out",
          "[plan]") {
  Json j = plan_to_json(Spec{});
  CHECK(!j.contains("uid"));
  CHECK(!j.contains("seccomp"));
  CHECK(!j.contains("bridge"));
  CHECK(!j.contains("limits"));
  CHECK(j["ops"] == Json::array());  // lists readers iterate are there even when empty
  CHECK(j["cwd"] == "/");
  CHECK(j["no_new_privs"] == false);
  Spec s;
  s.ops = {{OpKind::Proc, "", "/proc"}};
  s.seccomp = SeccompPolicy{"default", SeccompPolicy{}.default_action, {}};
  s.caps = std::vector<std::string>{};
  j = plan_to_json(s);
  CHECK(j["ops"][0] == Json({{"kind", "proc"}, {"dest", "/proc"}}));
  CHECK(j["seccomp"] == "default");  // a built-in profile, by name
  CHECK(schema::encode(SeccompPolicy{})["rules"] == Json::array());
  CHECK(j["caps"] == Json::array());  // none kept is not "unchanged"
}

TEST_CASE("plan: unknown keys and wrong types are refused with the key path", "[plan]") {
  CHECK_THAT(
      decode_error(R"({"limits": {"memry": 5}})"),
      Catch::StartsWith("plan: spec.limits.memry: unknown key (expected memory, memory_swap"));
  CHECK_THAT(decode_error(R"({"hostnme": "x"})"), Catch::Contains("spec.hostnme: unknown key"));
  CHECK_THAT(
      decode_error(R"({"limits": {"memory": "64M"}})"),
      Catch::Contains("spec.limits.memory: expected a whole number or \"max\", got a string"));
  CHECK_THAT(decode_error(R"({"ops": [{"kind": "bind"}, {"dest": "/x"}]})"),
             Catch::Contains("spec.ops[2]: missing kind"));
  CHECK_THAT(decode_error(R"({"ops": [{"kind": "bnd"}]})"),
             Catch::Contains("spec.ops[1].kind: unknown 'bnd'"));
  CHECK_THAT(decode_error(R"({"ops": [{"kind": "tmpfs", "size": 1.5}]})"),
             Catch::Contains("spec.ops[1].size: 1.5 is not a whole number"));
  CHECK_THAT(decode_error(R"({"ops": [{"kind": "tmpfs", "size": 1e35}]})"),
             Catch::Contains("1e+35 is not a whole number"));
  CHECK_THAT(decode_error(R"({"ops": [{"kind": "tmpfs", "size": 18446744073709551616.0}]})"),
             Catch::Contains("is not a whole number in 0..18446744073709551615"));
  CHECK_THAT(decode_error(R"({"ops": [{"kind": "mkdir", "mode": 4096}]})"),
             Catch::Contains("4096 is not a mode in 0..4095"));
  CHECK_THAT(decode_error(R"({"uid": -1})"), Catch::Contains("spec.uid: -1 is not an id"));
  CHECK_THAT(decode_error(R"({"uid": 4294967295})"),
             Catch::Contains("spec.uid: 4294967295 is not an id"));
  CHECK_THAT(decode_error(R"({"namespaces": ["mnt", "nett"]})"),
             Catch::Contains("spec.namespaces"));
  CHECK_THAT(decode_error(R"({"bridge": {"publish": ["x"]}})"),
             Catch::Contains("spec.bridge.publish[1]"));
  CHECK_THAT(
      decode_error(R"({"seccomp": {"rules": [{"args": [{"index": 6}]}]}})"),
      Catch::Contains("spec.seccomp.rules[1].args[1].index: 6 is not an argument index in 0..5"));
  CHECK_THAT(decode_error(R"({"time_offsets": 5})"),
             Catch::Contains("spec.time_offsets: expected a table, got a number"));
  CHECK_THAT(decode_error(R"({"env": "A=1"})"),
             Catch::Contains("spec.env: expected a list, got a string"));
  CHECK_THAT(decode_error(R"({"argv": [1]})"),
             Catch::Contains("spec.argv[1]: expected a string, got a number"));
  CHECK_THAT(decode_error(R"([1, 2])"), Catch::Contains("spec: expected a table, got a list"));
  CHECK_THAT(decode_error("{"), Catch::Contains("plan: not valid JSON"));
  // Lua's side names the same path
  lua_State* L = luaL_newstate();
  luaL_dostring(L, "return { limits = { memory = 1, memry = 2 } }");
  CHECK_THAT(lua_error_of(L, decode_top), Catch::Contains("spec.limits.memry: unknown key"));
  lua_settop(L, 0);
  luaL_openlibs(L);
  luaL_dostring(L, "return { ops = { { kind = 'bind', dest = print } } }");
  CHECK_THAT(lua_error_of(L, decode_top),
             Catch::Contains("spec.ops[1].dest: cannot hold a function"));
  lua_close(L);
}

TEST_CASE("plan: decoding over a plan keeps what is not given (a run's own argv and env)",
          "[plan]") {
  Spec s = every_field();
  REQUIRE(plan_from_json(Json::parse(R"({"argv": ["/bin/sh"], "cwd": "/w"})"), s));
  CHECK(s.argv == std::vector<std::string>{"/bin/sh"});
  CHECK(s.cwd == "/w");
  CHECK(s.hostname == "box");
  CHECK(s.limits.pids == 10u);
}

TEST_CASE("plan: generated plans survive both round trips", "[plan]") {
  std::mt19937_64 rng(12);  // fixed: a failure is reproducible
  auto pick = [&](uint64_t n) { return rng() % n; };
  auto text = [&] {
    static const char* const words[] = {"",     "/",  "/srv/x",     "a b",           "ü",
                                        "x\"y", "\\", "10.0.0.0/8", "/proc/1/ns/net"};
    return std::string(words[pick(9)]);
  };
  auto whole = [&](uint64_t max) { return pick(max + 1); };
  const std::vector<std::string> kinds = {"bind",       "ro-bind", "dev-bind", "tmpfs",   "proc",
                                          "dev",        "mqueue",  "mkdir",    "symlink", "file",
                                          "remount-ro", "mask",    "read-only"};
  for (int round = 0; round < 300; ++round) {
    Spec s;
    s.namespaces = rng() & all_namespace_flags();
    s.rootfs = text();
    s.rootfs_readonly = pick(2);
    for (uint64_t i = 0, n = pick(4); i < n; ++i)
      s.ops.push_back({*op_kind_from_name(kinds[pick(kinds.size())]), text(), text(), bool(pick(2)),
                       whole(1ull << 52), static_cast<uint32_t>(whole(07777))});
    for (uint64_t i = 0, n = pick(3); i < n; ++i)
      s.uid_map.push_back({static_cast<uint32_t>(rng()), static_cast<uint32_t>(rng()),
                           static_cast<uint32_t>(rng())});
    s.hostname = text();
    s.cwd = text();
    for (uint64_t i = 0, n = pick(3); i < n; ++i) s.env.push_back(text());
    for (uint64_t i = 0, n = pick(3); i < n; ++i) s.argv.push_back(text());
    if (pick(2)) s.uid = static_cast<uint32_t>(whole(4294967294u));
    if (pick(2)) s.gid = static_cast<uint32_t>(whole(4294967294u));
    s.die_with_parent = pick(2);
    s.time_offsets.monotonic = static_cast<int64_t>(whole(1ull << 40)) - (1ll << 39);
    if (pick(2))
      s.bridge = BridgeSpec{
          text(),        text(), text(), {{pick(2) ? "tcp" : "udp", "0.0.0.0", 80, 8080}},
          bool(pick(2)), text(), text()};
    if (pick(2))
      s.user_net = UserNetSpec{pick(2) ? "pasta" : "slirp4netns",
                               {{pick(2) ? "tcp" : "udp", "127.0.0.1", 8080, 80}},
                               text()};
    if (pick(2)) s.caps = std::vector<std::string>(pick(3), "CAP_KILL");
    if (pick(2)) {
      s.seccomp = SeccompPolicy{text(), pick(2) ? "errno EPERM" : "kill", {}};
      if (pick(2))
        s.seccomp->rules.push_back(
            {text(), "allow", {{static_cast<unsigned>(pick(6)), "eq", whole(1ull << 52), 0}}});
    }
    if (pick(2)) s.limits.memory = whole(1ull << 52);
    if (pick(2)) s.limits.cpu = static_cast<double>(pick(1000)) / 7;
    if (pick(2)) s.limits.devices = std::vector<std::string>{text()};
    s.cgroup_parent = text();
    auto back = plan_from_text(plan_to_json(s).dump(), "plan");
    INFO("round " << round << ": " << plan_to_json(s).dump());
    REQUIRE(back);
    CHECK(*back == s);
    CHECK(through_lua(s) == s);
  }
}

TEST_CASE("plan: the reference lists every field, nested ones by path", "[plan]") {
  std::set<std::string> paths;
  for (const auto& d : plan_reference()) {
    CHECK(!d.doc.empty());
    paths.insert(d.path);
  }
  for (const char* p :
       {"namespaces", "ops", "ops[].kind", "limits.memory", "limits.io[].rbps", "bridge.publish",
        "seccomp.rules[].args[].index", "time_offsets.boottime", "uid_map[].count"})
    CHECK(paths.count(p) == 1);
}
