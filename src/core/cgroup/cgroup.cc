#include "core/cgroup/cgroup.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <set>
#include <sstream>
#include <thread>
#include <utility>

#include "core/base/fault.h"
#include "core/base/fd.h"
#include "core/base/handle.h"
#include "core/base/io.h"
#include "core/cgroup/device_bpf.h"
#include "core/sandbox/ns.h"
#include "core/sandbox/owner.h"

namespace sbx::core {

namespace {

const char* const kV1Controllers[] = {"memory", "cpu",   "cpuacct", "cpuset",
                                      "pids",   "blkio", "freezer", "devices"};

Status write_text(const std::string& path, const std::string& value) {
  if (auto s = write_control(path, value); !s)
    return sys_error("write " + value + " to " + path, s.error().err);
  return {};
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// "key value" lines (memory.events, cpu.stat, memory.oom_control): the value of `key`, or 0.
uint64_t keyed(const std::string& text, const std::string& key) {
  std::istringstream in(text);
  std::string k;
  uint64_t v;
  while (in >> k >> v)
    if (k == key) return v;
  return 0;
}

uint64_t number(const Result<std::string>& r) {
  if (!r) return 0;
  return std::strtoull(r->c_str(), nullptr, 10);
}

// The controller a file belongs to: "memory.max" -> memory, "cpuacct.usage" -> cpuacct.
std::string controller_of(const std::string& file) {
  std::string c = file.substr(0, file.find('.'));
  if (c == "io") return "io";
  return c;
}

// v2: every level from the root down to the parent of `dir` passes on the controllers `files` need
Status enable_controllers(const CgroupHost& host, const std::string& dir,
                          const std::vector<LimitFile>& files) {
  std::set<std::string> want;
  for (const auto& f : files) want.insert(controller_of(f.file));
  std::vector<std::string> ups;
  for (std::string up = dir.substr(0, dir.rfind('/')); up.size() >= host.v2_root.size();
       up = up.substr(0, up.rfind('/'))) {
    ups.push_back(up);
    if (up.size() == host.v2_root.size()) break;
  }
  for (auto it = ups.rbegin(); it != ups.rend(); ++it)
    for (const auto& c : want) {
      auto have = read_file(*it + "/cgroup.subtree_control");
      std::istringstream words(have ? *have : "");
      std::string w;
      bool on = false;
      while (words >> w) on = on || w == c;  // (a word: "cpu" is not "cpuset")
      if (on) continue;
      if (auto s = write_text(*it + "/cgroup.subtree_control", "+" + c); !s)
        return s.error().context("enable the " + c + " controller");
    }
  return {};
}

// The file of `f` this group has: `file`, or `alt_file` when the kernel offers that one instead.
// An error names both when it has neither.
Result<std::string> limit_path(const std::string& dir, const LimitFile& f) {
  std::string p = dir + "/" + f.file;
  if (f.alt_file.empty() || access(p.c_str(), F_OK) == 0) return p;
  std::string alt = dir + "/" + f.alt_file;
  if (access(alt.c_str(), F_OK) == 0) return alt;
  return Error{EOPNOTSUPP, "limit " + dir + ": the kernel offers neither " + f.file + " nor " +
                               f.alt_file +
                               " (for io weights: load the bfq io scheduler, "
                               "modprobe bfq)"};
}

// Writes `f` to `path`, the file limit_path chose: its value, or the alternative's.
Status write_limit(const std::string& path, const LimitFile& f) {
  bool first = path.size() > f.file.size() &&
               path.compare(path.size() - f.file.size() - 1, std::string::npos, "/" + f.file) == 0;
  auto st = write_text(path, first ? f.value : f.alt_value);
  if (!st && st.error().err == EOPNOTSUPP && first &&
      f.file.find("bfq.weight") != std::string::npos && f.value.find(':') != std::string::npos) {
    std::string dev = f.value.substr(0, f.value.find(' '));
    return Error{EOPNOTSUPP, st.error().message + " (device " + dev +
                                 " does not use the bfq io scheduler: /sys/dev/block/" + dev +
                                 "/queue/scheduler)"};
  }
  if (!st && st.error().err == ENODEV && f.value.find(':') != std::string::npos)
    return Error{ENODEV, st.error().message + " (no block device " +
                             f.value.substr(0, f.value.find(' ')) +
                             " on this host: lsblk lists "
                             "MAJ:MIN)"};
  return st;
}

void nap_ms(int ms) {
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
}

}  // namespace

bool CgroupHost::on_v2(const std::string& controller) const {
  if (v2_root.empty()) return false;
  std::string c = controller == "cpuacct" ? "cpu" : controller == "blkio" ? "io" : controller;
  if (c == "freezer") return layout == "2";
  return std::find(v2_controllers.begin(), v2_controllers.end(), c) != v2_controllers.end();
}

bool CgroupHost::has(const std::string& controller) const {
  return on_v2(controller) || v1.count(controller == "io" ? "blkio" : controller);
}

CgroupHost detect_cgroups() {
  CgroupHost h;
  auto mountinfo = read_file("/proc/self/mountinfo");
  std::istringstream in(mountinfo ? *mountinfo : "");
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream f(line);
    std::vector<std::string> w;
    std::string t;
    while (f >> t) w.push_back(t);
    auto sep = std::find(w.begin(), w.end(), "-");
    if (sep == w.end() || sep + 3 >= w.end() + 1 || w.size() < 5) continue;
    const std::string& mnt = w[4];
    const std::string& type = *(sep + 1);
    if (type == "cgroup2" && h.v2_root.empty()) {
      h.v2_root = mnt;
    } else if (type == "cgroup" && sep + 3 < w.end()) {
      std::string opts = "," + *(sep + 3) + ",";
      for (const char* c : kV1Controllers)
        if (opts.find(std::string(",") + c + ",") != std::string::npos && !h.v1.count(c))
          h.v1[c] = mnt;
    }
  }
  if (!h.v2_root.empty()) {
    auto text = read_file(h.v2_root + "/cgroup.controllers");
    if (text) {
      std::istringstream c(*text);
      std::string w;
      while (c >> w) h.v2_controllers.push_back(w);
    }
  }
  h.layout = h.v1.empty() ? "2" : (h.v2_root.empty() ? "1" : "hybrid");
  // On a hybrid host the unified tree only helps for controllers v1 does not mount.
  return h;
}

uint64_t weight_to_shares(uint64_t weight) {
  weight = std::clamp<uint64_t>(weight, 1, 10000);
  return 2 + ((weight - 1) * 262142) / 9999;
}

const std::vector<std::string>& default_device_rules() {
  static const std::vector<std::string> rules = {"c 1:3 rwm", "c 1:5 rwm", "c 1:7 rwm",
                                                 "c 1:8 rwm", "c 1:9 rwm", "c 5:0 rwm",
                                                 "c 5:1 rwm", "c 5:2 rwm", "c 136:* rwm"};
  return rules;
}

Result<std::vector<LimitFile>> limit_files(const CgroupHost& host, const Limits& l) {
  std::vector<LimitFile> out;
  auto need = [&](const char* limit, const char* controller) -> Status {
    if (host.has(controller)) return {};
    return {EOPNOTSUPP, std::string("limit ") + limit + ": the " + controller +
                            " controller is not available on this host (cgroup layout " +
                            host.layout + ")"};
  };
  auto put = [&](const std::string& controller, const std::string& file, const std::string& value) {
    out.push_back({host.on_v2(controller) ? "" : controller, file, value});
  };
  const bool v2mem = host.on_v2("memory");
  // "max" (v2) or "-1" (v1) for no limit
  auto amount = [&](uint64_t v, bool v2) {
    return v == kUnlimited ? (v2 ? "max" : "-1") : std::to_string(v);
  };
  if (l.memory) {
    if (auto s = need("memory", "memory"); !s) return s.error();
    put("memory", v2mem ? "memory.max" : "memory.limit_in_bytes", amount(*l.memory, v2mem));
  }
  if (l.memory_swap) {
    if (auto s = need("memory_swap", "memory"); !s) return s.error();
    if (!l.memory)
      return user_error(
          "limit memory_swap: needs memory too (it is memory + swap, as docker's --memory-swap)");
    if (*l.memory_swap < *l.memory) return user_error("limit memory_swap: smaller than memory");
    if (v2mem)
      put("memory", "memory.swap.max",
          *l.memory_swap == kUnlimited ? "max" : std::to_string(*l.memory_swap - *l.memory));
    else
      put("memory", "memory.memsw.limit_in_bytes", amount(*l.memory_swap, false));
  }
  if (l.memory_reservation) {
    if (auto s = need("memory_reservation", "memory"); !s) return s.error();
    // no reservation: v1's soft limit off (-1), v2's protection none (0)
    if (v2mem)
      put("memory", "memory.low",
          *l.memory_reservation == kUnlimited ? "0" : std::to_string(*l.memory_reservation));
    else
      put("memory", "memory.soft_limit_in_bytes", amount(*l.memory_reservation, false));
  }
  if (l.cpu || l.cpu_period) {
    if (auto s = need(l.cpu ? "cpu" : "cpu_period", "cpu"); !s) return s.error();
    const uint64_t period = l.cpu_period.value_or(100000);
    if (period < 1000 || period > 1000000)
      return user_error("limit cpu_period: expected 1000..1000000 microseconds, got " +
                        std::to_string(period));
    std::string quota = host.on_v2("cpu") ? "max" : "-1";
    if (l.cpu && !std::isinf(*l.cpu)) {
      if (*l.cpu <= 0) return user_error("limit cpu: must be more than 0 cores");
      uint64_t q = static_cast<uint64_t>(std::llround(*l.cpu * static_cast<double>(period)));
      if (q < 1000) return user_error("limit cpu: less than 1000 microseconds of each period");
      quota = std::to_string(q);
    }
    if (host.on_v2("cpu")) {
      put("cpu", "cpu.max", quota + " " + std::to_string(period));
    } else {
      if (l.cpu_period) put("cpu", "cpu.cfs_period_us", std::to_string(period));
      if (l.cpu) {
        if (!l.cpu_period) put("cpu", "cpu.cfs_period_us", std::to_string(period));
        put("cpu", "cpu.cfs_quota_us", quota);
      }
    }
  }
  if (l.cpu_burst) {
    if (auto s = need("cpu_burst", "cpu"); !s) return s.error();
    put("cpu", host.on_v2("cpu") ? "cpu.max.burst" : "cpu.cfs_burst_us",
        std::to_string(*l.cpu_burst));
  }
  if (l.cpu_weight) {
    if (auto s = need("cpu_weight", "cpu"); !s) return s.error();
    if (*l.cpu_weight < 1 || *l.cpu_weight > 10000)
      return user_error("limit cpu_weight: expected 1..10000");
    if (host.on_v2("cpu"))
      put("cpu", "cpu.weight", std::to_string(*l.cpu_weight));
    else
      put("cpu", "cpu.shares", std::to_string(weight_to_shares(*l.cpu_weight)));
  }
  if (l.cpu_shares) {
    if (auto s = need("cpu_shares", "cpu"); !s) return s.error();
    if (l.cpu_weight) return user_error("limit cpu_shares and cpu_weight: give one");
    if (*l.cpu_shares < 2 || *l.cpu_shares > 262144)
      return user_error("limit cpu_shares: expected 2..262144");
    if (host.on_v2("cpu"))
      put("cpu", "cpu.weight", std::to_string(1 + ((*l.cpu_shares - 2) * 9999) / 262142));
    else
      put("cpu", "cpu.shares", std::to_string(*l.cpu_shares));
  }
  // after the weight: an idle group refuses a weight (EINVAL)
  if (l.cpu_idle) {
    if (auto s = need("cpu_idle", "cpu"); !s) return s.error();
    if (*l.cpu_idle > 1) return user_error("limit cpu_idle: expected 0 or 1");
    put("cpu", "cpu.idle", std::to_string(*l.cpu_idle));
  }
  if (l.memory_swappiness || l.oom_kill_disable) {
    const char* which = l.memory_swappiness ? "memory_swappiness" : "oom_kill_disable";
    if (auto s = need(which, "memory"); !s) return s.error();
    if (v2mem)
      return Error{EOPNOTSUPP,
                   std::string("limit ") + which + ": cgroup v2 has no per-group " +
                       (l.memory_swappiness ? "swappiness" : "switch for the OOM killer")};
    if (l.memory_swappiness) {
      if (*l.memory_swappiness > 100) return user_error("limit memory_swappiness: expected 0..100");
      put("memory", "memory.swappiness", std::to_string(*l.memory_swappiness));
    }
    if (l.oom_kill_disable) put("memory", "memory.oom_control", "1");
  }
  if (l.cpu_rt_period || l.cpu_rt_runtime) {
    const char* which = l.cpu_rt_runtime ? "cpu_rt_runtime" : "cpu_rt_period";
    if (auto s = need(which, "cpu"); !s) return s.error();
    if (host.on_v2("cpu"))
      return Error{EOPNOTSUPP, std::string("limit ") + which +
                                   ": cgroup v2 has no realtime cpu time (cpu.rt_*) per group"};
    if (l.cpu_rt_period) put("cpu", "cpu.rt_period_us", std::to_string(*l.cpu_rt_period));
    if (l.cpu_rt_runtime) put("cpu", "cpu.rt_runtime_us", std::to_string(*l.cpu_rt_runtime));
  }
  auto cpu_list = [](const char* limit, const std::string& v) -> Status {
    if (v.empty() || v.find_first_not_of("0123456789,-") != std::string::npos)
      return user_error(std::string("limit ") + limit + ": '" + v +
                        "' is not a list like 0-1 or 0,2");
    return {};
  };
  if (l.cpuset) {
    if (auto s = need("cpuset", "cpuset"); !s) return s.error();
    if (auto s = cpu_list("cpuset", *l.cpuset); !s) return s.error();
    put("cpuset", "cpuset.cpus", *l.cpuset);
  }
  if (l.cpuset_mems) {
    if (auto s = need("cpuset_mems", "cpuset"); !s) return s.error();
    if (auto s = cpu_list("cpuset_mems", *l.cpuset_mems); !s) return s.error();
    put("cpuset", "cpuset.mems", *l.cpuset_mems);
  }
  if (l.pids) {
    if (auto s = need("pids", "pids"); !s) return s.error();
    put("pids", "pids.max", *l.pids == kUnlimited ? "max" : std::to_string(*l.pids));
  }
  for (const auto& io : l.io) {
    if (auto s = need("io", "blkio"); !s) return s.error();
    if (io.device.find(':') == std::string::npos)
      return user_error("limit io: device '" + io.device + "' is not MAJOR:MINOR");
    if (host.on_v2("io")) {
      std::string v = io.device;
      if (io.rbps) v += " rbps=" + std::to_string(io.rbps);
      if (io.wbps) v += " wbps=" + std::to_string(io.wbps);
      if (io.riops) v += " riops=" + std::to_string(io.riops);
      if (io.wiops) v += " wiops=" + std::to_string(io.wiops);
      if (v != io.device) put("io", "io.max", v);
    } else {
      if (io.rbps)
        put("blkio", "blkio.throttle.read_bps_device", io.device + " " + std::to_string(io.rbps));
      if (io.wbps)
        put("blkio", "blkio.throttle.write_bps_device", io.device + " " + std::to_string(io.wbps));
      if (io.riops)
        put("blkio", "blkio.throttle.read_iops_device", io.device + " " + std::to_string(io.riops));
      if (io.wiops)
        put("blkio", "blkio.throttle.write_iops_device",
            io.device + " " + std::to_string(io.wiops));
    }
  }
  // Weights: BFQ's files (v1 and v2, the scale 10..1000 as given), else the older v1
  // blkio.weight or v2's iocost io.weight (1..10000, converted as runc and crun do)
  auto weight = [&](const char* limit, uint64_t w, const std::string& device) -> Status {
    if (auto s = need(limit, "blkio"); !s) return s;
    if (w < 10 || w > 1000)
      return user_error(std::string("limit ") + limit + ": expected 10..1000, got " +
                        std::to_string(w));
    std::string at = device.empty() ? "" : device + " ";
    if (host.on_v2("io")) {
      out.push_back(
          {"", "io.bfq.weight", at + std::to_string(w), "io.weight",
           (device.empty() ? "default " : at) + std::to_string(1 + (w - 10) * 9999 / 990)});
    } else {
      const char* sfx = device.empty() ? "weight" : "weight_device";
      out.push_back({"blkio", std::string("blkio.bfq.") + sfx, at + std::to_string(w),
                     std::string("blkio.") + sfx, at + std::to_string(w)});
    }
    return {};
  };
  if (l.io_weight)
    if (auto s = weight("io_weight", *l.io_weight, ""); !s) return s.error();
  for (const auto& io : l.io)
    if (io.weight)
      if (auto s = weight("io weight", io.weight, io.device); !s) return s.error();
  for (const auto& h : l.hugetlb) {
    if (auto s = need("hugetlb", "hugetlb"); !s) return s.error();
    size_t digits = h.size.find_first_not_of("0123456789");
    if (digits == 0 || digits == std::string::npos ||
        (h.size.substr(digits) != "KB" && h.size.substr(digits) != "MB" &&
         h.size.substr(digits) != "GB"))
      return user_error("limit hugetlb: page size '" + h.size + "' is not like 2MB or 1GB");
    if (host.layout == "hybrid" && !host.v1.count("hugetlb"))
      return Error{EOPNOTSUPP,
                   "limit hugetlb: this hybrid host has the hugetlb controller only in its "
                   "unified hierarchy, where sbx makes no groups (mount hugetlb as v1, or boot "
                   "with cgroup v2 only)"};
    bool v2 = host.on_v2("hugetlb");
    put("hugetlb", "hugetlb." + h.size + (v2 ? ".max" : ".limit_in_bytes"), amount(h.limit, v2));
  }
  if (l.devices) {
    // One reading of the rules for both layouts: v1 is given the state they leave, v2 gets it
    // as an eBPF program when the group is made (Cgroup::create), no file here.
    auto policy = device_policy(*l.devices);
    if (!policy) return policy.error().context("limit devices");
    if (host.layout != "2") {
      if (!host.v1.count("devices"))
        return Error{EOPNOTSUPP,
                     "limit devices: the devices controller is not available on this host "
                     "(cgroup layout " +
                         host.layout +
                         (host.layout == "hybrid"
                              ? "; sbx makes a hybrid host's groups in the v1 hierarchies, and "
                                "none of them has devices: mount it, or boot with cgroup v2 only)"
                              : ")")};
      put("devices", "devices.deny", "a");
      if (policy->default_allow) put("devices", "devices.allow", "a");
      for (const auto& e : policy->exceptions)
        put("devices", e.allow ? "devices.allow" : "devices.deny", device_rule_text(e));
    }
  }
  for (const auto& u : l.unified) {
    std::string c = controller_of(u.file);
    if (u.file.find('/') != std::string::npos || u.file.find('.') == std::string::npos ||
        u.file.rfind("cgroup.", 0) == 0 || u.file == "." || u.file == "..")
      return user_error("limit unified: '" + u.file +
                        "' is not a controller's file of the group (like memory.high)");
    if (!host.on_v2(c))
      return Error{EOPNOTSUPP, "limit unified " + u.file + ": needs cgroup v2 (the " + c +
                                   " controller is not on v2 here: layout " + host.layout + ")"};
    put(c, u.file, u.value);
  }
  return out;
}

std::string Cgroup::dir(const std::string& controller) const {
  std::string c = controller;
  if (!c.empty() && host_.on_v2(c)) c = "";
  if (c == "io") c = "blkio";
  auto it = dirs_.find(c);
  if (it != dirs_.end()) return it->second;
  return dirs_.empty() ? "" : dirs_.begin()->second;
}

std::vector<std::string> Cgroup::dirs() const {
  std::vector<std::string> out;
  for (const auto& [c, d] : dirs_) out.push_back(d);
  return out;
}

std::string Cgroup::file_path(const std::string& file) const {
  std::string c = controller_of(file);
  if (c == "cgroup") return dir("") + "/" + file;
  if (host_.on_v2(c) || dirs_.count("")) return dirs_.count("") ? dirs_.at("") + "/" + file : "";
  auto it = dirs_.find(c == "io" ? "blkio" : c);
  return it == dirs_.end() ? "" : it->second + "/" + file;
}

namespace {
// A v2 file's v1 counterpart (and back), for the hint when a name of the other version is used.
std::string other_version_name(const std::string& file) {
  static const std::pair<const char*, const char*> kNames[] = {
      {"memory.max", "memory.limit_in_bytes"},
      {"memory.current", "memory.usage_in_bytes"},
      {"memory.peak", "memory.max_usage_in_bytes"},
      {"memory.swap.max", "memory.memsw.limit_in_bytes"},
      {"cpu.max", "cpu.cfs_quota_us"},
      {"cpu.weight", "cpu.shares"},
      {"io.max", "blkio.throttle.read_bps_device"},
      {"cpuset.cpus.effective", "cpuset.effective_cpus"}};
  for (const auto& [v2, v1] : kNames) {
    if (file == v2) return v1;
    if (file == v1) return v2;
  }
  return "";
}

Error with_version_hint(Error e, const CgroupHost& host, const std::string& file) {
  std::string other = other_version_name(file);
  if (e.err == ENOENT && !other.empty())
    e.message += " (this host's " + std::string(host.layout == "2" ? "cgroup v2" : "cgroup v1") +
                 " names it " + other +
                 "; cg:limit{ ... } and cg:stat() use the same words on both)";
  return e;
}
}  // namespace

Status Cgroup::set(const std::string& file, const std::string& value) const {
  if (file.find('/') != std::string::npos)
    return user_error("cgroup set: '" + file + "' is not a file name");
  std::string p = file_path(file);
  if (p.empty())
    return {ENOENT, "cgroup " + rel_ + ": no hierarchy has the " + controller_of(file) +
                        " controller for " + file};
  auto st = write_text(p, value);
  if (!st) return with_version_hint(st.error(), host_, file);
  return st;
}

Status Cgroup::apply(const Limits& limits) const {
  if (limits.devices)
    return user_error("cgroup " + rel_ + ": device rules cannot be changed on a live group");
  if (!limits.io.empty())
    return user_error("cgroup " + rel_ + ": io limits cannot be changed on a live group yet");
  auto files = limit_files(host_, limits);
  if (!files) return files.error();
  // a limit the group was made without may need its controller passed down first (v2)
  if (host_.layout == "2" && dirs_.count(""))
    if (auto s = enable_controllers(host_, dirs_.at(""), *files); !s)
      return s.error().context("cgroup " + rel_);
  struct Written {
    std::string path, before;
  };
  std::vector<Written> done;
  auto undo = [&](const Error& e) -> Status {
    for (auto it = done.rbegin(); it != done.rend(); ++it)
      (void)write_control(it->path, it->before);
    return e;
  };
  std::vector<LimitFile> todo = *files;
  while (!todo.empty()) {
    std::vector<LimitFile> later;
    Error last;
    for (const auto& f : todo) {
      auto it = dirs_.find(f.controller);
      if (it == dirs_.end())
        return undo(Error{ENOENT, "cgroup " + rel_ + ": not in the " +
                                      (f.controller.empty() ? "unified" : f.controller) +
                                      " hierarchy (for " + f.file + ")"});
      auto path = limit_path(it->second, f);
      if (!path) return undo(path.error());
      auto before = read_file(*path);
      if (!before) return undo(before.error().context("cgroup " + rel_ + ": read " + f.file));
      if (auto st = write_limit(*path, f); !st) {
        last = st.error();
        later.push_back(f);
        continue;
      }
      done.push_back({*path, trim(*before)});
    }
    if (later.size() == todo.size()) return undo(last.context("update cgroup " + rel_));
    todo = std::move(later);
  }
  return {};
}

Result<std::string> Cgroup::get(const std::string& file) const {
  if (file.find('/') != std::string::npos)
    return user_error("cgroup get: '" + file + "' is not a file name");
  std::string p = file_path(file);
  if (p.empty())
    return Error{ENOENT, "cgroup " + rel_ + ": no hierarchy has the " + controller_of(file) +
                             " controller for " + file};
  auto r = read_file(p);
  if (!r) return with_version_hint(r.error(), host_, file);
  return trim(*r);
}

Status Cgroup::add(pid_t pid) const {
  for (const auto& [c, d] : dirs_)
    if (auto s = write_text(d + "/cgroup.procs", std::to_string(pid)); !s)
      return s.error().context("add pid " + std::to_string(pid) + " to cgroup " + rel_);
  return {};
}

Result<std::vector<pid_t>> Cgroup::procs() const {
  std::set<pid_t> all;
  for (const auto& [c, d] : dirs_) {
    auto text = read_file(d + "/cgroup.procs");
    if (!text) return text.error();
    std::istringstream in(*text);
    pid_t p;
    while (in >> p) all.insert(p);
  }
  return std::vector<pid_t>(all.begin(), all.end());
}

Result<CgroupStat> Cgroup::stat() const {
  CgroupStat s;
  if (host_.on_v2("memory")) {
    s.memory_current = number(get("memory.current"));
    s.memory_peak = number(get("memory.peak"));
    s.oom_kills = keyed(get("memory.events").ok() ? *get("memory.events") : "", "oom_kill");
  } else if (dirs_.count("memory")) {
    s.memory_current = number(get("memory.usage_in_bytes"));
    s.memory_peak = number(get("memory.max_usage_in_bytes"));
    auto oc = get("memory.oom_control");
    s.oom_kills = oc ? keyed(*oc, "oom_kill") : 0;
  }
  if (host_.on_v2("cpu")) {
    auto cs = get("cpu.stat");
    s.cpu_usage_usec = cs ? keyed(*cs, "usage_usec") : 0;
  } else if (dirs_.count("cpuacct")) {
    s.cpu_usage_usec = number(get("cpuacct.usage")) / 1000;
  }
  if (host_.has("pids")) s.pids_current = number(get("pids.current"));
  if (host_.on_v2("io")) {
    auto io = get("io.stat");
    if (io) {
      std::istringstream in(*io);
      std::string tok;
      while (in >> tok) {
        if (tok.rfind("rbytes=", 0) == 0)
          s.io_read_bytes += std::strtoull(tok.c_str() + 7, nullptr, 10);
        if (tok.rfind("wbytes=", 0) == 0)
          s.io_write_bytes += std::strtoull(tok.c_str() + 7, nullptr, 10);
      }
    }
  } else if (dirs_.count("blkio")) {
    auto io = get("blkio.throttle.io_service_bytes");
    if (io) {
      std::istringstream in(*io);
      std::string line;
      while (std::getline(in, line)) {
        std::istringstream l(line);
        std::string dev, op;
        uint64_t v = 0;
        if (!(l >> dev >> op >> v)) continue;
        if (op == "Read") s.io_read_bytes += v;
        if (op == "Write") s.io_write_bytes += v;
      }
    }
  }
  return s;
}

Result<CgroupEvents> Cgroup::events() const {
  CgroupEvents e;
  if (host_.on_v2("memory")) {
    auto m = get("memory.events");
    if (m) {
      e.oom = keyed(*m, "oom");
      e.oom_kill = keyed(*m, "oom_kill");
    }
  } else if (dirs_.count("memory")) {
    auto m = get("memory.oom_control");
    if (m) e.oom = e.oom_kill = keyed(*m, "oom_kill");  // v1 counts kills only
  }
  if (host_.has("pids")) {
    auto p = get("pids.events");
    if (p) e.pids_max = keyed(*p, "max");
  }
  return e;
}

Status Cgroup::freeze() const {
  bool v2 = host_.layout == "2";
  if (!v2 && !dirs_.count("freezer"))
    return {EOPNOTSUPP, "freeze cgroup " + rel_ + ": no freezer controller"};
  if (auto s = v2 ? set("cgroup.freeze", "1") : set("freezer.state", "FROZEN"); !s) return s;
  for (int i = 0; i < 400; ++i) {  // up to 2 s for every task to stop
    auto st = v2 ? get("cgroup.events") : get("freezer.state");
    if (st && (v2 ? keyed(*st, "frozen") == 1 : *st == "FROZEN")) return {};
    nap_ms(5);
  }
  return {ETIMEDOUT, "freeze cgroup " + rel_ + ": tasks did not stop within 2 s"};
}

Status Cgroup::thaw() const {
  bool v2 = host_.layout == "2";
  if (!v2 && !dirs_.count("freezer"))
    return {EOPNOTSUPP, "thaw cgroup " + rel_ + ": no freezer controller"};
  return v2 ? set("cgroup.freeze", "0") : set("freezer.state", "THAWED");
}

Status Cgroup::kill() const {
  if (dirs_.count("") && access((dirs_.at("") + "/cgroup.kill").c_str(), F_OK) == 0) {
    if (auto s = set("cgroup.kill", "1"); !s) return s;
  } else {
    // Frozen tasks cannot fork: freeze, SIGKILL everyone, thaw so the kills land; repeat
    // until nothing is left (a fork that raced the freeze is caught by the next round).
    for (int round = 0; round < 50; ++round) {
      auto ps = procs();
      if (!ps) return ps.error();
      if (ps->empty()) break;
      bool frozen = freeze().ok();
      for (pid_t p : *ps) ::kill(p, SIGKILL);
      if (frozen) (void)thaw();
      nap_ms(2);
    }
  }
  for (int i = 0; i < 500; ++i) {  // up to 5 s for the kernel to finish the exits
    auto ps = procs();
    if (!ps) return ps.error();
    if (ps->empty()) return {};
    nap_ms(10);
  }
  return {EBUSY, "kill cgroup " + rel_ + ": processes are still there after 5 s"};
}

Cgroup::Cgroup(Cgroup&& o) noexcept
    : host_(std::move(o.host_)),
      rel_(std::move(o.rel_)),
      dirs_(std::move(o.dirs_)),
      owned_(std::exchange(o.owned_, false)),
      owner_(o.owner_) {}

Cgroup& Cgroup::operator=(Cgroup&& o) noexcept {
  if (this != &o) {
    (void)remove();
    host_ = std::move(o.host_);
    rel_ = std::move(o.rel_);
    dirs_ = std::move(o.dirs_);
    owned_ = std::exchange(o.owned_, false);
    owner_ = o.owner_;
  }
  return *this;
}

Cgroup::~Cgroup() {
  (void)remove();
}

Status Cgroup::destroy() {
  if (dirs_.empty()) return {};
  owned_ = true;  // asked for: the group goes whoever made it
  owner_ = getpid();
  return remove();
}

Status Cgroup::remove() {
  if (!owned_ || dirs_.empty()) return {};
  if (owner_ != getpid()) return {};  // a forked copy never removes its parent's group
  Status killed = kill();
  Status result = killed;
  for (const auto& [c, d] : dirs_) {
    int tries = 0;
    while (rmdir(d.c_str()) != 0 && errno == EBUSY && ++tries < 200) nap_ms(5);
    if (access(d.c_str(), F_OK) == 0 && result) result = sys_error("remove cgroup " + d);
  }
  dirs_.clear();
  owned_ = false;
  return result;
}

Result<std::string> delegated_cgroup_parent(const CgroupHost& host) {
  const std::string fix =
      " (systemd-run --user --scope -p Delegate=yes sbx run ... runs it in a subtree systemd "
      "delegates to you; --limits-optional runs without the limits; sbx doctor checks this host)";
  if (host.layout != "2")
    return Error{EPERM, "limits as uid " + std::to_string(getuid()) +
                            ": this host's controllers are " +
                            (host.layout == "1" ? "cgroup v1" : "cgroup v1 (hybrid)") +
                            ", whose groups only root can make" + fix};
  auto self = read_file("/proc/self/cgroup");
  std::string own;
  if (self) {
    std::istringstream lines(*self);
    std::string line;
    while (std::getline(lines, line))
      if (line.rfind("0::", 0) == 0) own = line.substr(3);
  }
  if (own.empty() || own[0] != '/')
    return Error{ENOENT, "limits as uid " + std::to_string(getuid()) +
                             ": this process is in no cgroup v2 group (/proc/self/cgroup)" + fix};
  std::string parent = own.substr(0, own.rfind('/'));
  std::string dir = host.v2_root + parent;
  for (const char* f : {"", "/cgroup.procs", "/cgroup.subtree_control"})
    if (access((dir + f).c_str(), W_OK) != 0)
      return Error{EACCES, "limits as uid " + std::to_string(getuid()) +
                               ": no cgroup subtree of yours: " + dir + f +
                               " is not writable by you" + fix};
  return parent;
}

Result<Cgroup> Cgroup::create(const CgroupHost& host, const std::string& parent,
                              const std::string& name, const Limits& limits) {
  if (name.empty() || name.find('/') != std::string::npos || name == "." || name == "..")
    return user_error("cgroup name '" + name + "': expected one path component");
  if (parent.find("..") != std::string::npos)
    return user_error("cgroup parent '" + parent + "': contains '..'");
  auto files = limit_files(host, limits);
  if (!files) return files.error();
  Cgroup cg;
  cg.host_ = host;
  cg.rel_ = (parent.empty() || parent == "/" ? "" : (parent[0] == '/' ? parent : "/" + parent)) +
            "/" + name;
  cg.owned_ = true;
  cg.owner_ = getpid();
  std::set<std::string> mounts;
  if (host.layout == "2") {
    cg.dirs_[""] = host.v2_root + cg.rel_;
  } else {
    for (const auto& [c, m] : host.v1)
      if (mounts.insert(m).second) cg.dirs_[c] = m + cg.rel_;
  }
  std::vector<std::string> made;
  // Missing parents are made (as runc does for an OCI cgroupsPath) and stay: other groups may go
  // there. On v1 a new cpuset level copies its parent's cpus and mems.
  auto copy_cpuset = [&](const std::string& c, const std::string& d) -> Status {
    if (c != "cpuset") return {};  // v1: a cpuset group takes no task until cpus and mems are set
    std::string up = d.substr(0, d.rfind('/'));
    for (const char* f : {"cpuset.cpus", "cpuset.mems"}) {
      auto v = read_file(up + "/" + f);
      if (v && !trim(*v).empty())
        if (auto s = write_text(d + "/" + f, trim(*v)); !s) return s;
    }
    return {};
  };
  for (const auto& [c, d] : cg.dirs_) {
    std::string base = d.substr(0, d.size() - cg.rel_.size());
    size_t at = 1;
    std::string rel_parent = cg.rel_.substr(0, cg.rel_.rfind('/'));
    while (at <= rel_parent.size() && !rel_parent.empty()) {
      size_t end = rel_parent.find('/', at);
      if (end == std::string::npos) end = rel_parent.size();
      std::string level = base + rel_parent.substr(0, end);
      if (mkdir(level.c_str(), 0755) == 0) {
        if (auto s = copy_cpuset(c, level); !s) return s.error();
      } else if (errno != EEXIST) {
        return sys_error("create cgroup parent " + level);
      }
      at = end + 1;
    }
  }
  auto undo = [&](const Error& e) -> Result<Cgroup> {
    for (auto it = made.rbegin(); it != made.rend(); ++it) rmdir(it->c_str());
    cg.dirs_.clear();
    cg.owned_ = false;
    return e;
  };
  for (const auto& [c, d] : cg.dirs_) {
    if (int e = fault("cgroup.mkdir"))
      return undo(fault_error("cgroup.mkdir", "create cgroup " + d, e));
    if (mkdir(d.c_str(), 0755) != 0) return undo(sys_error("create cgroup " + d));
    made.push_back(d);
    if (auto s = copy_cpuset(c, d); !s) return undo(s.error());
  }
  if (host.layout == "2")
    if (auto s = enable_controllers(host, cg.dirs_[""], *files); !s)
      return undo(s.error().context("cgroup " + cg.rel_));
  bool devices_begun = false;
  auto devices_fault = [&](const std::string& d) -> Status {
    if (std::exchange(devices_begun, true)) return {};
    if (int e = fault("cgroup.devices"))
      return fault_error("cgroup.devices", "apply the device rules to " + d, e);
    return {};
  };
  for (const auto& f : *files) {
    std::string d = f.controller.empty() ? cg.dirs_[""] : cg.dirs_[f.controller];
    if (d.empty()) d = cg.dir(f.controller);
    if (f.controller == "devices")
      if (auto s = devices_fault(d); !s) return undo(s.error());
    if (int e = fault("cgroup.limit"))
      return undo(fault_error("cgroup.limit", "limit " + d + "/" + f.file, e));
    auto path = limit_path(d, f);
    if (!path) return undo(path.error());
    if (auto s = write_limit(*path, f); !s) return undo(s.error().context("limit"));
  }
  if (limits.devices && host.layout == "2") {
    // (the rules were read once already, by limit_files)
    auto policy = device_policy(*limits.devices);
    if (!policy) return undo(policy.error().context("limit devices"));
    if (auto s = devices_fault(cg.dirs_[""]); !s) return undo(s.error());
    if (auto s = attach_device_program(cg.dirs_[""], *policy); !s)
      return undo(s.error().context("limit devices"));
  }
  return cg;
}

Result<Cgroup> Cgroup::open(const CgroupHost& host, const std::string& path) {
  Cgroup cg;
  cg.host_ = host;
  struct statfs sf;
  if (path.rfind("/sys/fs/cgroup", 0) == 0) {
    if (statfs(path.c_str(), &sf) != 0) return sys_error("open cgroup " + path);
    bool v2 = sf.f_type == CGROUP2_SUPER_MAGIC;
    for (const auto& [c, m] : host.v1)
      if (path.rfind(m + "/", 0) == 0 || path == m) {
        cg.dirs_[c] = path;
        cg.rel_ = path.substr(m.size());
      }
    if (v2 && host.v2_root.size() && path.rfind(host.v2_root, 0) == 0) {
      cg.dirs_[""] = path;
      cg.rel_ = path.substr(host.v2_root.size());
    }
    if (cg.dirs_.empty())
      return Error{ENOENT, "open cgroup " + path + ": not inside a cgroup hierarchy"};
    return cg;
  }
  cg.rel_ = path.empty() || path[0] != '/' ? "/" + path : path;
  if (host.layout == "2") {
    cg.dirs_[""] = host.v2_root + cg.rel_;
  } else {
    for (const auto& [c, m] : host.v1)
      if (access((m + cg.rel_).c_str(), F_OK) == 0) cg.dirs_[c] = m + cg.rel_;
  }
  if (cg.dirs_.empty() || access(cg.dir().c_str(), F_OK) != 0)
    return Error{ENOENT, "open cgroup " + cg.rel_ + ": no such group in any hierarchy"};
  return cg;
}

std::vector<std::string> collect_stale_cgroups(const CgroupHost& host) {
  std::vector<std::string> removed;
  std::set<std::string> roots;
  if (host.layout == "2") roots.insert(host.v2_root);
  for (const auto& [c, m] : host.v1) roots.insert(m);
  std::set<std::string> names;
  for (const auto& r : roots) {
    Dir d(opendir(r.c_str()));
    if (!d) continue;
    while (auto* e = readdir(d.get())) {
      int pid = 0, n = 0;
      char tail;
      if (std::sscanf(e->d_name, "sbx-%d-%d%c", &pid, &n, &tail) == 2 && pid > 0 &&
          !owner_alive(pid))
        names.insert(e->d_name);
    }
  }
  for (const auto& name : names) {
    auto cg = Cgroup::open(host, "/" + name);
    if (!cg) continue;
    cg->owned_ = true;
    cg->owner_ = getpid();
    if (cg->remove()) removed.push_back("/" + name);
  }
  return removed;
}

}  // namespace sbx::core
