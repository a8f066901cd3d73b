// The portable limits -> cgroup files mapping, against fake hosts (no cgroup is touched).
#include <catch2/catch.hpp>
#include <limits>

#include "core/cgroup/cgroup.h"

using namespace sbx::core;

namespace {
CgroupHost v2_host() {
  // (initialised, not assigned: GCC 12 -O3 misreports -Wrestrict on `str = "literal"`, PR 105329)
  return CgroupHost{
      "2", "/sys/fs/cgroup", {"cpuset", "cpu", "io", "memory", "hugetlb", "pids"}, {}};
}
CgroupHost v1_host() {
  CgroupHost h;
  h.layout = "hybrid";
  h.v2_root = "/sys/fs/cgroup/unified";
  h.v2_controllers = {"hugetlb"};
  for (const char* c :
       {"memory", "cpu", "cpuacct", "cpuset", "pids", "blkio", "freezer", "devices"})
    h.v1[c] = std::string("/sys/fs/cgroup/") + c;
  return h;
}
std::string render(const std::vector<LimitFile>& files) {
  std::string out;
  for (const auto& f : files)
    out += (f.controller.empty() ? "" : f.controller + ":") + f.file + "=" + f.value + "\n";
  return out;
}
}  // namespace

TEST_CASE("limits map to v2 files", "[cgroup]") {
  Limits l;
  l.memory = 64 << 20;
  l.memory_swap = 96 << 20;
  l.cpu = 0.5;
  l.cpu_weight = 100;
  l.cpuset = "0-1";
  l.pids = 64;
  l.io.push_back({"8:0", 1048576, 0, 0, 100});
  auto files = limit_files(v2_host(), l);
  REQUIRE(files);
  CHECK(render(*files) ==
        "memory.max=67108864\n"
        "memory.swap.max=33554432\n"
        "cpu.max=50000 100000\n"
        "cpu.weight=100\n"
        "cpuset.cpus=0-1\n"
        "pids.max=64\n"
        "io.max=8:0 rbps=1048576 wiops=100\n");
}

TEST_CASE("limits map to v1 files on a hybrid host", "[cgroup]") {
  Limits l;
  l.memory = 64 << 20;
  l.memory_swap = 96 << 20;
  l.cpu = 1.5;
  l.cpu_weight = 100;
  l.pids = 64;
  l.io.push_back({"8:0", 0, 2048, 10, 0});
  auto files = limit_files(v1_host(), l);
  REQUIRE(files);
  CHECK(render(*files) ==
        "memory:memory.limit_in_bytes=67108864\n"
        "memory:memory.memsw.limit_in_bytes=100663296\n"
        "cpu:cpu.cfs_period_us=100000\n"
        "cpu:cpu.cfs_quota_us=150000\n"
        "cpu:cpu.shares=2597\n"
        "pids:pids.max=64\n"
        "blkio:blkio.throttle.write_bps_device=8:0 2048\n"
        "blkio:blkio.throttle.read_iops_device=8:0 10\n");
}

TEST_CASE("no limit (max), a quota's period, reservation, realtime and memory nodes", "[cgroup]") {
  Limits l;
  l.memory = kUnlimited;
  l.memory_swap = kUnlimited;
  l.memory_reservation = 16 << 20;
  l.cpu = 0.25;
  l.cpu_period = 50000;
  l.cpuset_mems = "0";
  l.pids = kUnlimited;
  auto v2 = limit_files(v2_host(), l);
  REQUIRE(v2);
  CHECK(render(*v2) ==
        "memory.max=max\n"
        "memory.swap.max=max\n"
        "memory.low=16777216\n"
        "cpu.max=12500 50000\n"
        "cpuset.mems=0\n"
        "pids.max=max\n");
  l.cpu_rt_period = 1000000;
  l.cpu_rt_runtime = 5000;
  auto rt = limit_files(v2_host(), l);
  REQUIRE_FALSE(rt);
  CHECK(rt.error().message.find("cgroup v2 has no realtime") != std::string::npos);
  l.cpu = std::numeric_limits<double>::infinity();
  auto v1 = limit_files(v1_host(), l);
  REQUIRE(v1);
  CHECK(render(*v1) ==
        "memory:memory.limit_in_bytes=-1\n"
        "memory:memory.memsw.limit_in_bytes=-1\n"
        "memory:memory.soft_limit_in_bytes=16777216\n"
        "cpu:cpu.cfs_period_us=50000\n"
        "cpu:cpu.cfs_quota_us=-1\n"
        "cpu:cpu.rt_period_us=1000000\n"
        "cpu:cpu.rt_runtime_us=5000\n"
        "cpuset:cpuset.mems=0\n"
        "pids:pids.max=max\n");
  l = Limits{};
  l.cpu_period = 100;
  CHECK(limit_files(v1_host(), l).error().message.find("1000..1000000") != std::string::npos);
}

TEST_CASE("a limit without its controller is an error naming the controller", "[cgroup]") {
  CgroupHost h = v2_host();
  h.v2_controllers = {"memory"};
  Limits l;
  l.cpu = 1;
  auto files = limit_files(h, l);
  REQUIRE_FALSE(files);
  CHECK(files.error().message ==
        "limit cpu: the cpu controller is not available on this host (cgroup layout 2)");
  l = Limits{};
  l.pids = 10;
  REQUIRE_FALSE(limit_files(h, l));
}

TEST_CASE("bad limit values are rejected", "[cgroup]") {
  Limits l;
  l.cpu = 0.001;
  CHECK_FALSE(limit_files(v2_host(), l));
  l = Limits{};
  l.memory_swap = 1 << 20;
  CHECK(limit_files(v2_host(), l).error().message.find("needs memory too") != std::string::npos);
  l.memory = 2 << 20;
  CHECK(limit_files(v2_host(), l).error().message.find("smaller than memory") != std::string::npos);
  l = Limits{};
  l.cpuset = "0-1;rm";
  CHECK_FALSE(limit_files(v2_host(), l));
  l = Limits{};
  l.io.push_back({"/dev/sda", 1, 0, 0, 0});
  CHECK_FALSE(limit_files(v2_host(), l));
}

TEST_CASE("cpu.weight to cpu.shares follows the OCI conversion", "[cgroup]") {
  CHECK(weight_to_shares(1) == 2);
  CHECK(weight_to_shares(10000) == 262144);
  CHECK(weight_to_shares(100) == 2597);
}

TEST_CASE("host helpers: on_v2 and has", "[cgroup]") {
  CgroupHost h = v1_host();
  CHECK_FALSE(h.on_v2("memory"));
  CHECK(h.has("memory"));
  CHECK(h.has("io"));
  CHECK_FALSE(h.has("rdma"));
  CgroupHost v2 = v2_host();
  CHECK(v2.on_v2("cpuacct"));
  CHECK(v2.on_v2("freezer"));
  CHECK(v2.on_v2("blkio"));
}

TEST_CASE("devices: v1 gets a deny-all and what the rules leave; v2 no file (a program)",
          "[cgroup]") {
  Limits l;
  l.devices = std::vector<std::string>{"c 1:3 rwm", "c 136:* rw", "c 1:3 r", "deny c 1:5 w"};
  auto files = limit_files(v1_host(), l);
  REQUIRE(files);
  CHECK(render(*files) ==
        "devices:devices.deny=a\ndevices:devices.allow=c 1:3 rwm\ndevices:devices.allow=c 136:* "
        "rw\n");
  l.devices = std::vector<std::string>{"a", "deny b 8:* w"};
  files = limit_files(v1_host(), l);
  REQUIRE(files);
  CHECK(render(*files) ==
        "devices:devices.deny=a\ndevices:devices.allow=a\ndevices:devices.deny=b 8:* w\n");
  auto v2 = limit_files(v2_host(), l);
  REQUIRE(v2);
  CHECK(v2->empty());
  l.devices = std::vector<std::string>{"c 1:3 rwm; echo"};
  CHECK_FALSE(limit_files(v1_host(), l));
  CHECK_FALSE(limit_files(v2_host(), l));
  CgroupHost bare = v1_host();
  bare.v1.erase("devices");
  l.devices = std::vector<std::string>{"c 1:3 rwm"};
  auto none = limit_files(bare, l);
  REQUIRE_FALSE(none);
  CHECK(none.error().message.find("hybrid host") != std::string::npos);
  CHECK(default_device_rules().size() == 9);
}

TEST_CASE("io weights (BFQ's files, else blkio.weight / iocost's io.weight) and huge page limits",
          "[cgroup]") {
  Limits l;
  l.io_weight = 500;
  l.io.push_back({"8:0", 0, 0, 0, 0, 200});
  l.hugetlb.push_back({"2MB", 4 << 20});
  l.hugetlb.push_back({"1GB", kUnlimited});
  auto v2 = limit_files(v2_host(), l);
  REQUIRE(v2);
  CHECK(render(*v2) ==
        "io.bfq.weight=500\n"
        "io.bfq.weight=8:0 200\n"
        "hugetlb.2MB.max=4194304\n"
        "hugetlb.1GB.max=max\n");
  CHECK((*v2)[0].alt_file == "io.weight");
  CHECK((*v2)[0].alt_value == "default 4950");  // 1 + (500 - 10) * 9999 / 990
  CHECK((*v2)[1].alt_value == "8:0 1920");
  // this hybrid host has hugetlb only in the unified tree, where sbx makes no groups
  auto hybrid = limit_files(v1_host(), l);
  REQUIRE_FALSE(hybrid);
  CHECK(hybrid.error().message.find("hugetlb controller only in its unified hierarchy") !=
        std::string::npos);
  l.hugetlb.clear();
  auto v1 = limit_files(v1_host(), l);
  REQUIRE(v1);
  CHECK(render(*v1) ==
        "blkio:blkio.bfq.weight=500\n"
        "blkio:blkio.bfq.weight_device=8:0 200\n");
  CHECK((*v1)[0].alt_file == "blkio.weight");
  CgroupHost pure_v1 = v1_host();
  pure_v1.layout = "1";
  pure_v1.v2_root.clear();
  pure_v1.v2_controllers.clear();
  pure_v1.v1["hugetlb"] = "/sys/fs/cgroup/hugetlb";
  l = Limits{};
  l.hugetlb.push_back({"2MB", 4 << 20});
  CHECK(render(*limit_files(pure_v1, l)) == "hugetlb:hugetlb.2MB.limit_in_bytes=4194304\n");
  l.hugetlb[0].size = "2XB";
  CHECK(limit_files(pure_v1, l).error().message.find("page size '2XB'") != std::string::npos);
  l = Limits{};
  l.io_weight = 1001;
  CHECK(limit_files(v2_host(), l).error().message ==
        "limit io_weight: expected 10..1000, got 1001");
}
