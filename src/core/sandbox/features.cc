#include "core/sandbox/features.h"

#include <linux/magic.h>
#include <sched.h>
#include <seccomp.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <sstream>

#include "core/base/io.h"
#include "core/sandbox/ns.h"

namespace sbx::core {

namespace {
// The whitespace-separated words of a small file; none when it cannot be read.
std::vector<std::string> words_of(const char* path) {
  auto text = read_file(path);
  std::istringstream in(text ? *text : "");
  std::vector<std::string> out;
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

bool file_has_word(const char* path, const std::string& word) {
  auto words = words_of(path);
  return std::find(words.begin(), words.end(), word) != words.end();
}

bool can_create_userns() {
  auto r = clone_process(CLONE_NEWUSER, false);
  if (!r) return false;
  if (r->pid == 0) _exit(0);
  int st;
  while (waitpid(r->pid, &st, 0) < 0 && errno == EINTR) {
  }
  return true;
}
// (strtol, not a stream: the first std::istringstream of a process costs ~40 us of locale
// set-up, paid on every sbx run's start)
long read_sysctl(const char* path, long missing) {
  auto text = read_file(path);
  if (!text) return missing;
  errno = 0;
  char* end = nullptr;
  long v = std::strtol(text->c_str(), &end, 10);
  if (end == text->c_str() || errno != 0) return missing;
  return v;
}

// "2" (unified), "hybrid" (v1 controllers and a cgroup2 at unified/) or "1". Returned rather than
// assigned: GCC 12 -O3 misreports -Wrestrict on assigning a literal to a std::string (PR 105329).
std::string cgroup_mode() {
  struct statfs sf;
  if (statfs("/sys/fs/cgroup", &sf) == 0 && sf.f_type == CGROUP2_SUPER_MAGIC) return "2";
  if (statfs("/sys/fs/cgroup/unified", &sf) == 0 && sf.f_type == CGROUP2_SUPER_MAGIC)
    return "hybrid";
  return "1";
}

std::vector<std::string> cgroup_controllers(const std::string& mode) {
  std::vector<std::string> out;
  if (mode == "2") {
    return words_of("/sys/fs/cgroup/cgroup.controllers");
  }
  for (const char* c : {"cpu", "cpuacct", "cpuset", "memory", "pids", "blkio", "freezer", "devices",
                        "net_cls", "perf_event", "hugetlb"}) {
    struct statfs cf;
    std::string p = "/sys/fs/cgroup/";
    p.append(c);
    if (statfs(p.c_str(), &cf) == 0 && cf.f_type == CGROUP_SUPER_MAGIC) out.emplace_back(c);
  }
  return out;
}
}  // namespace

bool userns_allowed() {
  if (read_sysctl("/proc/sys/user/max_user_namespaces", 1) <= 0) return false;
  if (getuid() == 0) return true;
  return read_sysctl("/proc/sys/kernel/unprivileged_userns_clone", 1) != 0 &&
         read_sysctl("/proc/sys/kernel/apparmor_restrict_unprivileged_userns", 0) == 0;
}

std::string userns_refusal() {
  if (read_sysctl("/proc/sys/user/max_user_namespaces", 1) <= 0)
    return "user namespaces are disabled: user.max_user_namespaces is 0 (sysctl -w "
           "user.max_user_namespaces=15000)";
  if (getuid() == 0) return "";
  if (read_sysctl("/proc/sys/kernel/unprivileged_userns_clone", 1) == 0)
    return "unprivileged user namespaces are disabled: kernel.unprivileged_userns_clone is 0 "
           "(sysctl -w kernel.unprivileged_userns_clone=1)";
  if (read_sysctl("/proc/sys/kernel/apparmor_restrict_unprivileged_userns", 0) != 0)
    return "AppArmor restricts unprivileged user namespaces: "
           "kernel.apparmor_restrict_unprivileged_userns is 1 "
           "(give sbx an AppArmor profile with 'userns,' or sysctl -w "
           "kernel.apparmor_restrict_unprivileged_userns=0)";
  return "";
}

Features detect_features() {
  Features f;
  f.root = getuid() == 0;
  struct utsname u;
  if (uname(&u) == 0) f.kernel = u.release;
  f.cgroup = cgroup_mode();
  f.cgroup_controllers = cgroup_controllers(f.cgroup);
  f.userns = can_create_userns();
  f.overlay = file_has_word("/proc/filesystems", "overlay");
  f.seccomp = seccomp_api_get() >= 1;
  struct stat st;
  f.timens = stat("/proc/self/ns/time", &st) == 0;
  f.cgroupns = stat("/proc/self/ns/cgroup", &st) == 0;
  f.clone3 = true;
  if (auto r = clone_process(0, true); r) {
    if (r->pid == 0) _exit(0);
    f.clone3 = r->pidfd >= 0;
    if (r->pidfd >= 0) close(r->pidfd);
    int ws;
    while (waitpid(r->pid, &ws, 0) < 0 && errno == EINTR) {
    }
  }
  return f;
}

}  // namespace sbx::core
