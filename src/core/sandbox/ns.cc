#include "core/sandbox/ns.h"

#include <fcntl.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

#include "core/base/fd.h"
#include "core/base/io.h"

namespace sbx::core {

const std::vector<NamespaceKind>& namespace_kinds() {
  static const std::vector<NamespaceKind> kinds = {
      {"user", CLONE_NEWUSER, "CLONE_NEWUSER"},       {"mnt", CLONE_NEWNS, "CLONE_NEWNS"},
      {"uts", CLONE_NEWUTS, "CLONE_NEWUTS"},          {"ipc", CLONE_NEWIPC, "CLONE_NEWIPC"},
      {"pid", CLONE_NEWPID, "CLONE_NEWPID"},          {"net", CLONE_NEWNET, "CLONE_NEWNET"},
      {"cgroup", CLONE_NEWCGROUP, "CLONE_NEWCGROUP"}, {"time", CLONE_NEWTIME, "CLONE_NEWTIME"},
  };
  return kinds;
}

uint64_t all_namespace_flags() {
  uint64_t all = 0;
  for (const auto& k : namespace_kinds()) all |= k.flag;
  return all;
}

Result<uint64_t> namespace_flag(std::string_view name) {
  if (name == "mount") name = "mnt";
  for (const auto& k : namespace_kinds())
    if (k.name == name) return k.flag;
  return user_error("unknown namespace '" + std::string(name) +
                    "' (expected one of user, mnt, uts, ipc, pid, net, cgroup, time)");
}

Result<uint64_t> namespace_flags(const std::vector<std::string>& names) {
  uint64_t flags = 0;
  for (const auto& n : names) {
    auto f = namespace_flag(n);
    if (!f) return f.error();
    flags |= *f;
  }
  return flags;
}

std::vector<std::string> namespace_names(uint64_t flags) {
  std::vector<std::string> out;
  for (const auto& k : namespace_kinds())
    if (flags & k.flag) out.emplace_back(k.name);
  return out;
}

std::string namespace_flags_string(uint64_t flags) {
  std::string out;
  for (const auto& k : namespace_kinds()) {
    if (!(flags & k.flag)) continue;
    if (!out.empty()) out += "|";
    out += k.flag_name;
  }
  return out.empty() ? "0" : out;
}

Result<std::map<std::string, uint64_t>> namespace_ids(pid_t pid) {
  std::map<std::string, uint64_t> ids;
  std::string base = pid == 0 ? "/proc/self/ns/" : "/proc/" + std::to_string(pid) + "/ns/";
  for (const auto& k : namespace_kinds()) {
    struct stat st;
    std::string path = base + std::string(k.name);
    if (stat(path.c_str(), &st) != 0) {
      if (errno == ENOENT && pid != 0 && access(base.c_str(), F_OK) == 0) continue;  // old kernel
      if (errno == ENOENT && pid == 0) continue;
      return sys_error("read namespace " + path);
    }
    ids[std::string(k.name)] = st.st_ino;
  }
  return ids;
}

int sys_pidfd_open(pid_t pid, unsigned flags) {
  return static_cast<int>(syscall(SYS_pidfd_open, pid, flags));
}
int sys_pidfd_send_signal(int pidfd, int sig) {
  return static_cast<int>(syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0));
}
int sys_close_range(unsigned first, unsigned last, unsigned flags) {
  return static_cast<int>(syscall(SYS_close_range, first, last, flags));
}

Result<CloneResult> clone_process(uint64_t ns_flags, bool want_pidfd) {
  fflush(nullptr);  // Lua's and C's stdio: nothing buffered is written by both processes
  CloneResult r;
  struct clone_args args;
  std::memset(&args, 0, sizeof args);
  int pidfd = -1;
  args.flags = ns_flags | (want_pidfd ? CLONE_PIDFD : 0);
  args.pidfd = reinterpret_cast<uint64_t>(&pidfd);
  args.exit_signal = SIGCHLD;
  long pid = syscall(SYS_clone3, &args, sizeof args);
  if (pid < 0 && errno == ENOSYS) {
    // Pre-5.3 kernel: plain clone without a pidfd; the time namespace needs clone3.
    if (ns_flags & CLONE_NEWTIME) return sys_error("clone3 with CLONE_NEWTIME", ENOSYS);
    pid =
        syscall(SYS_clone, (unsigned long)(ns_flags | SIGCHLD), nullptr, nullptr, nullptr, nullptr);
    pidfd = -1;
  }
  if (pid < 0) return sys_error("clone " + namespace_flags_string(ns_flags));
  r.pid = static_cast<pid_t>(pid);
  r.pidfd = pid == 0 ? -1 : pidfd;
  return r;
}

Result<CloneResult> clone_in_userns(int userns, uint64_t ns_flags) {
  int p[2];
  if (pipe2(p, O_CLOEXEC) != 0) return sys_error("join user namespace: pipe");
  Fd report(p[0]);
  fflush(nullptr);  // nothing buffered is written twice (by both processes)
  pid_t helper = fork();
  if (helper < 0) {
    close(p[1]);
    return sys_error("join user namespace: fork");
  }
  if (helper == 0) {
    report.release();
    close(p[0]);
    int out[2] = {0, 0};  // the child's pid, or 0 and the errno
    struct clone_args args;
    std::memset(&args, 0, sizeof args);
    args.flags = ns_flags | CLONE_PARENT;  // (its exit signal is ours: SIGCHLD, from fork)
    long pid = -1;
    if (::setns(userns, CLONE_NEWUSER) == 0) pid = syscall(SYS_clone3, &args, sizeof args);
    if (pid == 0) {
      close(p[1]);
      return CloneResult{0, -1};  // the sandbox's child, in the user namespace: a child of ours
    }
    if (pid < 0) out[1] = errno;
    out[0] = static_cast<int>(pid < 0 ? 0 : pid);
    (void)!write(p[1], out, sizeof out);
    _exit(0);
  }
  close(p[1]);
  int got[2] = {0, EPIPE};
  ssize_t n;
  do n = read(report.get(), got, sizeof got);
  while (n < 0 && errno == EINTR);
  while (waitpid(helper, nullptr, 0) < 0 && errno == EINTR) {
  }
  if (n != static_cast<ssize_t>(sizeof got) || got[0] <= 0)
    return sys_error("join user namespace, then clone " + namespace_flags_string(ns_flags),
                     got[1] ? got[1] : EPIPE);
  CloneResult r;
  r.pid = got[0];
  r.pidfd = sys_pidfd_open(r.pid, 0);  // our child (CLONE_PARENT): its pid cannot be reused yet
  return r;
}

Status unshare_namespaces(uint64_t ns_flags) {
  if (::unshare(static_cast<int>(ns_flags)) != 0)
    return sys_error("unshare " + namespace_flags_string(ns_flags));
  return {};
}

Status join_namespaces(pid_t pid, uint64_t ns_flags) {
  auto mine = namespace_ids(0);
  auto theirs = namespace_ids(pid);
  if (!theirs) return theirs.error();
  uint64_t want = 0;
  for (const auto& k : namespace_kinds()) {
    if (ns_flags && !(ns_flags & k.flag)) continue;
    auto it = theirs->find(std::string(k.name));
    if (it == theirs->end()) continue;
    // Joining one's own user namespace is EINVAL: skip namespaces we already share.
    if (mine && mine->count(it->first) && mine->at(it->first) == it->second) continue;
    want |= k.flag;
  }
  if (!want) return {};
  Fd pidfd(sys_pidfd_open(pid, 0));
  if (pidfd.ok() && ::setns(pidfd.get(), static_cast<int>(want)) == 0) return {};
  // Fall back to one namespace at a time, user first, holding every fd open before the first
  // setns (after joining a mount namespace /proc/PID may mean something else).
  std::vector<std::pair<const NamespaceKind*, Fd>> fds;
  for (const auto& k : namespace_kinds()) {
    if (!(want & k.flag)) continue;
    std::string path = "/proc/" + std::to_string(pid) + "/ns/" + std::string(k.name);
    Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd.ok()) return sys_error("open " + path);
    fds.emplace_back(&k, std::move(fd));
  }
  for (auto& [k, fd] : fds)
    if (::setns(fd.get(), static_cast<int>(k->flag)) != 0)
      return sys_error("setns " + std::string(k->name) + " namespace of pid " +
                       std::to_string(pid));
  return {};
}

namespace {
// The text of /proc/PID/stat after "(comm) " (state first), or "" when it cannot be read.
std::string stat_after_comm(pid_t pid) {
  auto text = read_file("/proc/" + std::to_string(pid) + "/stat");
  if (!text) return "";
  size_t paren = text->rfind(')');
  return paren != std::string::npos && paren + 1 < text->size() && (*text)[paren + 1] == ' '
             ? text->substr(paren + 2)
             : "";
}
bool zombie(const std::string& st) {
  return !st.empty() && (st[0] == 'Z' || st[0] == 'X');
}
}  // namespace

bool process_alive(pid_t pid) {
  if (pid <= 0 || (::kill(pid, 0) != 0 && errno != EPERM)) return false;
  return !zombie(stat_after_comm(pid));  // unreadable (hidepid): alive, as kill said
}

std::string process_identity(pid_t pid) {
  std::string st = stat_after_comm(pid);    // state is field 3, starttime field 22
  if (st.empty() || zombie(st)) return "";  // a zombie is gone already
  const char* p = st.c_str();
  for (int field = 3; *p && field < 22; ++p)
    if (*p == ' ') ++field;
  std::string start;
  while (*p >= '0' && *p <= '9') start += *p++;
  static const std::string boot = [] {  // one per boot: read once
    auto id = read_file("/proc/sys/kernel/random/boot_id");
    std::string text = id ? *id : "";
    if (!text.empty() && text.back() == '\n') text.pop_back();
    return text;
  }();
  return boot + ":" + start;
}

}  // namespace sbx::core
