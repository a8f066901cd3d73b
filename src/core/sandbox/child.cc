#include "core/sandbox/child.h"

#include <fcntl.h>
#include <grp.h>
#include <linux/close_range.h>
#include <linux/sched.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>

#include "core/base/env.h"
#include "core/base/fault.h"
#include "core/base/io.h"
#include "core/base/trace.h"
#include "core/fs/mount.h"
#include "core/sandbox/ns.h"
#include "core/sandbox/pid1.h"
#include "core/security/caps.h"
#include "core/security/seccomp.h"

namespace sbx::core {

namespace {

[[noreturn]] void fail(const ChildChannels& ch, const Error& e) {
  char buf[4096];
  FailureHeader h{e.err};
  size_t n = std::min(e.message.size(), sizeof buf - sizeof h);
  std::memcpy(buf, &h, sizeof h);
  std::memcpy(buf + sizeof h, e.message.data(), n);
  (void)!send(ch.sync, buf, sizeof h + n, MSG_NOSIGNAL);
  _exit(127);
}

void check(const ChildChannels& ch, const Status& s) {
  if (!s) fail(ch, s.error());
}

// The supervisor still holds its end of the sync socket while it lives.
bool supervisor_alive(int sync) {
  char c;
  ssize_t n = recv(sync, &c, 1, MSG_PEEK | MSG_DONTWAIT);
  return n != 0;  // 0: orderly shutdown (its end closed); -1 EAGAIN: alive
}

Status loopback_up() {
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) return sys_error("bring lo up: socket");
  struct ifreq ifr;
  std::memset(&ifr, 0, sizeof ifr);
  std::strcpy(ifr.ifr_name, "lo");
  int r = ioctl(s, SIOCGIFFLAGS, &ifr);
  if (r == 0) {
    ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
    r = ioctl(s, SIOCSIFFLAGS, &ifr);
  }
  int e = errno;
  close(s);
  return r == 0 ? Status{} : sys_error("bring lo up", e);
}

Status enter_time_namespace(const Spec& spec) {
  // Offsets can only be set before a process lives in the namespace: unshare (children go in),
  // write them, and the fork that follows puts the payload inside.
  if (::unshare(CLONE_NEWTIME) != 0) return sys_error("unshare time namespace");
  char buf[128];
  int n = snprintf(buf, sizeof buf, "monotonic %lld 0\nboottime %lld 0\n",
                   (long long)spec.time_offsets.monotonic, (long long)spec.time_offsets.boottime);
  if (auto s =
          write_control("/proc/self/timens_offsets", std::string_view(buf, static_cast<size_t>(n)));
      !s)
    return s.error().context("set time offsets (monotonic " +
                             std::to_string(spec.time_offsets.monotonic) + ", boottime " +
                             std::to_string(spec.time_offsets.boottime) + ")");
  return {};
}

// execvpe with the sandbox's own PATH (from spec.env), not the supervisor's.
[[noreturn]] void exec_payload(const Spec& spec, const ChildChannels& ch) {
  std::vector<char*> argv, envp;
  for (const auto& a : spec.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::string path = kDefaultPath;
  for (const auto& e : spec.env) {
    envp.push_back(const_cast<char*>(e.c_str()));
    if (e.rfind("PATH=", 0) == 0) path = e.substr(5);
  }
  envp.push_back(nullptr);
  const std::string& prog = spec.argv[0];
  if (int e = fault("child.exec")) fail(ch, fault_error("child.exec", "exec " + prog, e));
  int err = ENOENT;
  if (prog.find('/') != std::string::npos) {
    execve(prog.c_str(), argv.data(), envp.data());
    err = errno;
  } else {
    size_t i = 0;
    while (i <= path.size()) {
      size_t j = path.find(':', i);
      if (j == std::string::npos) j = path.size();
      std::string dir = path.substr(i, j - i);
      std::string cand = (dir.empty() ? "." : dir) + "/" + prog;
      execve(cand.c_str(), argv.data(), envp.data());
      if (errno != ENOENT && errno != ENOTDIR) err = errno;  // remember EACCES, keep looking
      i = j + 1;
    }
  }
  std::string hint = err == ENOENT ? " (not found in the sandbox's PATH or root)" : "";
  fail(ch, {err, "exec " + prog + ": " + std::strerror(err) + hint});
}

// Without no_new_privs a filter can only be installed while the process still has CAP_SYS_ADMIN
// (in its user namespace): before the identity change, as runc does, so it also judges the
// calls that change the ids and capabilities. With no_new_privs: last, before execve.
bool seccomp_early(const Spec& spec, const ChildChannels& ch) {
  return !spec.no_new_privs && !ch.seccomp.empty();
}

void install_filters(const ChildChannels& ch) {
  if (int e = fault("child.seccomp"))
    fail(ch, fault_error("child.seccomp", "install the seccomp filter", e));
  if (ch.seccomp.empty()) return;
  // (the listener's own flag is refused on a filter without one)
  unsigned flags = ch.seccomp_flags & ~(1U << 5);  // SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
  if (auto r = install_seccomp(ch.seccomp, flags); !r) fail(ch, r.error());
}

// A policy with notify rules: their own filter (every other call allowed) goes on before the start
// and the identity change (runc's order), while the supervisor still waits, which receives the
// listener ('S'): the calls it notifies wait for whoever answers on it (an OCI seccomp agent, a Lua
// handler). The policy's other rules come later, as without notify rules: sbx's own set-up calls in
// between are judged by the notify rules only (and let through by the supervisor), never refused by
// a strict base.
void install_with_listener(const Spec& spec, const ChildChannels& ch) {
  if (ch.seccomp_notify.empty()) return;
  if (int e = fault("child.seccomp"))
    fail(ch, fault_error("child.seccomp", "install the seccomp filter", e));
  if (spec.no_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
    fail(ch, sys_error("set no_new_privs"));
  uint64_t tag = 0;
  if (getrandom(&tag, sizeof tag, 0) != static_cast<ssize_t>(sizeof tag))
    fail(ch, sys_error("seccomp: a random tag for the listener's hand-over"));
  auto fd = install_seccomp({ch.seccomp_notify}, ch.seccomp_flags, true, ch.sync, tag);
  if (!fd) fail(ch, fd.error());
  if (!send_with_fd(ch.sync, "S", *fd, tag))
    fail(ch, sys_error("hand the seccomp listener to the supervisor"));
  close(*fd);
}

// The last steps: no_new_privs, then the seccomp filter (nothing but execve comes after it).
[[noreturn]] void harden_and_exec(const Spec& spec, const ChildChannels& ch) {
  if (spec.no_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
    fail(ch, sys_error("set no_new_privs"));
  if (!seccomp_early(spec, ch)) install_filters(ch);
  trace::mark("child: seccomp, then execve");
  exec_payload(spec, ch);
}

void reset_signals(const sigset_t* old_mask) {
  struct sigaction sa;
  std::memset(&sa, 0, sizeof sa);
  sa.sa_handler = SIG_DFL;
  for (int s = 1; s < NSIG; ++s) sigaction(s, &sa, nullptr);  // EINVAL for KILL/STOP: fine
  sigprocmask(SIG_SETMASK, old_mask, nullptr);
}

void set_credentials(const Spec& spec, const ChildChannels& ch) {
  if (!spec.uid && !spec.gid && spec.groups.empty()) return;
  gid_t gid = spec.gid.value_or(0);
  uid_t uid = spec.uid.value_or(0);
  if (!spec.groups.empty()) {
    std::vector<gid_t> list(spec.groups.begin(), spec.groups.end());
    if (setgroups(list.size(), list.data()) != 0)
      fail(ch, sys_error("setgroups (supplementary groups)"));
  } else if (setgroups(0, nullptr) != 0 && errno != EPERM) {
    // with setgroups denied the list cannot change (and holds only unmapped ids)
    fail(ch, sys_error("setgroups"));
  }
  if (setresgid(gid, gid, gid) != 0)
    fail(ch, sys_error("setgid " + std::to_string(gid) + " (is it mapped in the user namespace?)"));
  if (setresuid(uid, uid, uid) != 0)
    fail(ch, sys_error("setuid " + std::to_string(uid) + " (is it mapped in the user namespace?)"));
}

// A pty from the sandbox's own /dev/ptmx (its devpts instance: `tty` inside names /dev/pts/N): the
// slave becomes 0, 1 and 2; the master goes to the supervisor over the sync socket ('P'), or to
// the engine over its OCI console socket (one message: the pty's name, with the master).
void allocate_pty(const ChildChannels& ch) {
  int m = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
  char name[64];
  if (m < 0 || unlockpt(m) != 0 || ptsname_r(m, name, sizeof name) != 0)
    fail(ch,
         sys_error("open a terminal from the sandbox's /dev/ptmx (is a devpts mounted there?)"));
  if (ch.tty_rows || ch.tty_cols) {
    struct winsize ws {
      ch.tty_rows, ch.tty_cols, 0, 0
    };
    if (ioctl(m, TIOCSWINSZ, &ws) != 0) fail(ch, sys_error("set the terminal's window size"));
  }
  int s = open(name, O_RDWR | O_NOCTTY);
  if (s < 0) fail(ch, sys_error(std::string("open ") + name));
  for (int i = 0; i < 3; ++i)
    if (dup2(s, i) < 0) fail(ch, sys_error("set up the terminal as stdio"));
  if (s > 2) close(s);
  const bool console = ch.console >= 0;
  if (!send_with_fd(console ? ch.console : ch.sync, console ? std::string_view(name) : "P", m))
    fail(ch, sys_error(console ? "send the terminal to the console socket"
                               : "hand the terminal to the supervisor"));
  close(m);
  if (console) close(ch.console);
}

// Every fd but 0-2 and the ones passed on explicitly closes on exec (the sync socket is CLOEXEC
// and tells the parent "exec'd").
void close_all_but(const ChildChannels& ch) {
  sys_close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
  for (int fd : ch.keep_fds)
    if (fd >= 3 && fcntl(fd, F_SETFD, 0) != 0) fail(ch, sys_error("pass fd " + std::to_string(fd)));
}

// The payload's identity: its own session on the sandbox's terminal (job control inside), the
// cwd, the bounding set reduced while still root, then uid/gid (from `ids`), then the capabilities.
void take_identity(const Spec& spec, const Spec& ids, const ChildChannels& ch) {
  if (ch.tty && (setsid() < 0 || ioctl(0, TIOCSCTTY, 0) != 0))
    fail(ch, sys_error("make the pty the controlling terminal"));
  if (chdir(spec.cwd.c_str()) != 0) fail(ch, sys_error("cwd " + spec.cwd));
  for (const auto& r : spec.rlimits) {  // while still root (a raise needs CAP_SYS_RESOURCE)
    struct rlimit lim {
      static_cast<rlim_t>(r.soft), static_cast<rlim_t>(r.hard)
    };
    if (setrlimit(*rlimit_number(r.type), &lim) != 0)
      fail(ch,
           sys_error("set " + r.type + " " + std::to_string(r.soft) + ":" + std::to_string(r.hard) +
                     " (raising a hard limit needs CAP_SYS_RESOURCE)"));
  }
  if (spec.umask) umask(static_cast<mode_t>(*spec.umask));
  // before the filter (the default profile allows personality(2) only with safe values)
  if (!spec.personality.empty() &&
      personality(spec.personality == "linux32" ? PER_LINUX32 : PER_LINUX) < 0)
    fail(ch, sys_error("set personality " + spec.personality));
  if (spec.oom_score_adj)
    if (auto st = write_control("/proc/self/oom_score_adj", std::to_string(*spec.oom_score_adj));
        !st)
      fail(ch, st.error().context("oom_score_adj (lowering it needs CAP_SYS_RESOURCE)"));
  if (seccomp_early(spec, ch)) install_filters(ch);
  if (ch.caps) check(ch, drop_bounding(*ch.caps));
  // a payload that is not root keeps the permitted set it is given across the uid change
  if (ch.cap_sets && prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0)
    fail(ch, sys_error("PR_SET_KEEPCAPS"));
  set_credentials(ids, ch);
  if (ch.caps) check(ch, ch.cap_sets ? set_caps(*ch.cap_sets) : set_caps(*ch.caps));
  if (ch.cap_sets) prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
}

}  // namespace

// Created mode: tell the starter "set up" and outlive it; block until a reader opens the FIFO
// (OCI start), give it one byte, go on to exec. Still root of the user namespace and dumpable
// here, so /proc/self/fd reopens the O_PATH descriptor.
void wait_for_start(const ChildChannels& ch, int start_fd) {
  prctl(PR_SET_PDEATHSIG, 0);
  if (send(ch.sync, "R", 1, MSG_NOSIGNAL) != 1) _exit(127);
  std::string path = "/proc/self/fd/" + std::to_string(start_fd);
  int w;
  do w = open(path.c_str(), O_WRONLY | O_CLOEXEC);
  while (w < 0 && errno == EINTR);
  if (w < 0) _exit(127);
  (void)!write(w, "0", 1);
  close(w);
  close(start_fd);
}

void run_child(const Spec& spec, const ChildChannels& ch) {
  // Die with the supervisor even during setup; set again after each credential change.
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  for (int i = 0; i < 3; ++i)
    if (ch.stdio[i] >= 0 && ch.stdio[i] != i && dup2(ch.stdio[i], i) < 0)
      fail(ch, sys_error("set up stdio " + std::to_string(i)));

  char go = 0;
  ssize_t n;
  do n = read(ch.sync, &go, 1);
  while (n < 0 && errno == EINTR);
  if (n != 1) _exit(127);  // the supervisor is gone or failed to write the id maps
  trace::mark("child: go");

  // joined mnt and uts work as made ones here (mounts, hostname), a joined user namespace as a
  // new one (the child is its root); a joined pid namespace only decides how /proc is mounted
  const uint64_t joined = joined_namespaces(spec);
  const uint64_t ns = spec.namespaces | (joined & (CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWUSER));
  // Created mode: the FIFO is reached by its host path now, reopened through /proc at the start.
  int start_fd = -1;
  if (!ch.start_fifo.empty()) {
    start_fd = open(ch.start_fifo.c_str(), O_PATH | O_CLOEXEC | O_NOFOLLOW);
    if (start_fd < 0) fail(ch, sys_error("open the start fifo " + ch.start_fifo));
  }
  // A joined mount namespace replaces the new one clone made; the mounts go on in it (paths of
  // the plan, the stage among them, must resolve there, as with runc).
  if (ch.join_mnt >= 0 && setns(ch.join_mnt, CLONE_NEWNS) != 0)
    fail(ch, sys_error("join the mount namespace"));
  if (ns & CLONE_NEWUSER) {
    // Become root of the new user namespace (the caller's own ids are not mapped inside).
    if (setresgid(0, 0, 0) != 0 || setresuid(0, 0, 0) != 0)
      fail(ch, sys_error("become root in the user namespace (is 0 mapped?)"));
    // The id change cleared "dumpable", which makes /proc/self root-owned (outside): restore it
    // so the setup can write /proc/self/timens_offsets. execve sets it again for the payload.
    prctl(PR_SET_DUMPABLE, 1);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
  }
  if (!supervisor_alive(ch.sync)) _exit(127);
  // Moved into its own cgroup by now: a cgroup namespace made here is rooted at that group.
  if ((ns & CLONE_NEWCGROUP) && !spec.limits.empty() && ::unshare(CLONE_NEWCGROUP) != 0)
    fail(ch, sys_error("unshare cgroup namespace"));

  if (ns & CLONE_NEWNS) check(ch, make_mounts_private());
  trace::mark("child: private mounts", "and its user ns root, cgroup ns");
  if (ns & CLONE_NEWTIME) check(ch, enter_time_namespace(spec));
  if ((ns & CLONE_NEWNET) && spec.loopback_up) check(ch, loopback_up());
  // namespaced sysctls through the host's /proc, still mounted here: /proc/sys/net and the ipc
  // keys show the writer's own namespaces (validate() refused every other key)
  for (const auto& c : spec.sysctl) {
    std::string path = "/proc/sys/" + c.key;
    for (auto& x : path)
      if (x == '.') x = '/';
    check(ch, write_control(path, c.value));
  }
  if ((ns & CLONE_NEWUTS) && !spec.hostname.empty() &&
      sethostname(spec.hostname.data(), spec.hostname.size()) != 0)
    fail(ch, sys_error("set hostname " + spec.hostname));
  if ((ns & CLONE_NEWUTS) && !spec.domainname.empty() &&
      setdomainname(spec.domainname.data(), spec.domainname.size()) != 0)
    fail(ch, sys_error("set domainname " + spec.domainname));
  trace::mark("child: lo, sysctls, hostname");
  if (ns & CLONE_NEWNS) {
    auto root = prepare_root(spec, ch.stage);
    if (!root) fail(ch, root.error());
    trace::mark("child: root");
    if (int e = fault("child.mounts"))
      fail(ch, fault_error("child.mounts", "mount the sandbox's file systems", e));
    for (size_t i = 0; i < spec.ops.size(); ++i) {
      check(ch, run_op(spec.ops[i], *root, (ns | joined) & CLONE_NEWPID,
                       i < ch.op_trees.size() ? ch.op_trees[i] : -1));
      trace::mark(op_kind_name(spec.ops[i].kind), spec.ops[i].dest.c_str());
    }
    check(ch, finish_root(spec, *root));
    trace::mark("child: finish root");
    if (int e = fault("child.pivot")) fail(ch, fault_error("child.pivot", "pivot_root", e));
    check(ch, switch_root(*root));
    trace::mark("child: pivot_root, old root detached");
    if (!spec.root_propagation.empty() && spec.root_propagation != "private") {
      unsigned long kind = spec.root_propagation == "slave"    ? MS_SLAVE
                           : spec.root_propagation == "shared" ? MS_SHARED
                                                               : MS_UNBINDABLE;
      if (mount(nullptr, "/", nullptr, MS_REC | kind, nullptr) != 0)
        fail(ch, sys_error("make the new root " + spec.root_propagation));
    }
  }

  if (ch.own_pty) allocate_pty(ch);
  // A pid namespace gets a real PID 1; a time namespace needs one more fork to be entered.
  sigset_t old_mask;
  if (ch.has_mask)
    old_mask = ch.mask;
  else
    sigprocmask(SIG_SETMASK, nullptr, &old_mask);
  const pid_t init_pid = getpid();
  const bool forked = ((ns & CLONE_NEWPID) && spec.init) || (ns & CLONE_NEWTIME);
  if (forked) {
    sigset_t block;
    init_signal_set(&block);
    sigprocmask(SIG_BLOCK, &block, nullptr);
    pid_t payload = fork();
    if (payload < 0) fail(ch, sys_error("fork the payload from the init"));
    if (payload == 0) trace::mark("child: init forked the payload");
    if (payload > 0) {
      // The init keeps only the status pipe (as fd 3): no fd of sbx stays visible inside.
      int st = -1;
      if (ch.status >= 0 && dup2(ch.status, 3) == 3) st = 3;
      sys_close_range(0, 2, 0);
      sys_close_range(4, ~0U, 0);
      // With hardening the init keeps no capability and cannot be inspected from inside: it
      // only reaps, forwards signals (same uid) and reports.
      if (ch.caps) {
        (void)drop_bounding({});
        (void)set_caps(std::vector<int>{});
      }
      if (spec.no_new_privs || spec.seccomp) prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
      prctl(PR_SET_DUMPABLE, 0);
      run_init(payload, st);
    }
  }
  reset_signals(&old_mask);
  if (ch.status >= 0) close(ch.status);
  install_with_listener(spec, ch);
  if (start_fd >= 0) wait_for_start(ch, start_fd);

  take_identity(spec, spec, ch);
  trace::mark("child: identity", "rlimits, caps, ids");
  if (spec.die_with_parent) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    bool alive = forked ? getppid() == init_pid : supervisor_alive(ch.sync);
    if (!alive) _exit(127);
  } else {
    prctl(PR_SET_PDEATHSIG, 0);
  }
  // Every fd but 0-2 closes on exec; the sync socket is CLOEXEC and tells the parent "exec'd".
  close_all_but(ch);
  harden_and_exec(spec, ch);
}

void run_entered_child(pid_t target, const Spec& spec, const ChildChannels& ch) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  char go = 0;
  ssize_t n;
  do n = read(ch.sync, &go, 1);
  while (n < 0 && errno == EINTR);
  if (n != 1) _exit(127);
  // All of the sandbox's namespaces (its user namespace too: root there, nothing outside); the
  // mount namespace brings its root and cwd. The pid namespace applies to our child.
  if (auto s = join_namespaces(target, 0); !s)
    fail(ch, s.error().context("join the namespaces of sandbox pid " + std::to_string(target)));
  trace::mark("exec helper: namespaces joined");
  prctl(PR_SET_DUMPABLE, 0);  // nothing inside may ptrace or read this helper
  if (ch.own_pty) allocate_pty(ch);
  for (int i = 0; i < 3; ++i)
    if (ch.stdio[i] >= 0 && ch.stdio[i] != i && dup2(ch.stdio[i], i) < 0)
      fail(ch, sys_error("set up stdio " + std::to_string(i)));
  // The payload goes into the pid namespace as the caller's own child (CLONE_PARENT): the caller
  // waits for it and signals it directly, and this helper ends at once, its teardown off the path
  // of the payload's end. (Its exit signal is SIGCHLD, from the caller's clone of us.)
  struct clone_args args;
  std::memset(&args, 0, sizeof args);
  args.flags = CLONE_PARENT;
  long payload = syscall(SYS_clone3, &args, sizeof args);
  if (payload < 0) fail(ch, sys_error("fork inside the sandbox's pid namespace"));
  if (payload > 0) {
    // its pid (in the caller's pid namespace, which is ours): 'C' and the number, one record (the
    // payload's failure record may come before or after it, never inside it)
    int32_t pid = static_cast<int32_t>(payload);
    char msg[1 + sizeof pid];
    msg[0] = 'C';
    std::memcpy(msg + 1, &pid, sizeof pid);
    if (send(ch.sync, msg, sizeof msg, MSG_NOSIGNAL) != static_cast<ssize_t>(sizeof msg))
      kill(static_cast<pid_t>(payload), SIGKILL);
    _exit(0);
  }
  trace::mark("exec helper: forked into the pid namespace");
  // Joining a user namespace keeps our outside ids (unmapped there: "nobody"): take the sandbox's.
  Spec ids = spec;
  ids.uid = spec.uid.value_or(0);
  ids.gid = spec.gid.value_or(0);
  install_with_listener(spec, ch);
  take_identity(spec, ids, ch);
  // dies with the caller unless it is to outlive it (OCI exec --detach, for a subreaper)
  prctl(PR_SET_PDEATHSIG, spec.die_with_parent ? SIGKILL : 0);
  if (spec.die_with_parent && !supervisor_alive(ch.sync)) _exit(127);
  close_all_but(ch);
  harden_and_exec(spec, ch);
}

}  // namespace sbx::core
