#include "core/security/seccomp.h"

#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <map>
#include <set>

#include "core/base/fd.h"
#include "core/base/io.h"
#include "core/base/trust.h"
#include "core/base/units.h"

namespace sbx::core {

namespace {

Result<uint32_t> parse_action(const std::string& text) {
  if (text == "allow") return SCMP_ACT_ALLOW;
  if (text == "kill") return SCMP_ACT_KILL;
  if (text == "kill_process") return SCMP_ACT_KILL_PROCESS;
  if (text == "trap") return SCMP_ACT_TRAP;
  if (text == "log") return SCMP_ACT_LOG;
  if (text == "notify") return SCMP_ACT_NOTIFY;
  if (text.rfind("errno", 0) == 0) {
    std::string v = text.size() > 6 ? text.substr(6) : "EPERM";
    if (auto n = parse_errno(v)) return SCMP_ACT_ERRNO(static_cast<uint16_t>(*n));
  }
  return user_error("seccomp: action '" + text +
                    "' (expected allow, errno EPERM|N, kill, kill_process, trap, log or notify)");
}

Result<scmp_compare> parse_op(const std::string& op) {
  static const std::map<std::string, scmp_compare> ops = {{"eq", SCMP_CMP_EQ},
                                                          {"ne", SCMP_CMP_NE},
                                                          {"lt", SCMP_CMP_LT},
                                                          {"le", SCMP_CMP_LE},
                                                          {"gt", SCMP_CMP_GT},
                                                          {"ge", SCMP_CMP_GE},
                                                          {"masked_eq", SCMP_CMP_MASKED_EQ}};
  auto it = ops.find(op);
  if (it == ops.end())
    return user_error("seccomp: argument operator '" + op +
                      "' (expected eq ne lt le gt ge masked_eq)");
  return it->second;
}

// A context for the native ABI plus i386; x32 (and any other ABI) gets EPERM before any rule.
Result<scmp_filter_ctx> make_ctx(uint32_t def) {
  scmp_filter_ctx ctx = seccomp_init(def);
  if (!ctx) return Error{EINVAL, "seccomp: cannot create a filter"};
  for (uint32_t arch : {SCMP_ARCH_X86}) {
    int r = seccomp_arch_add(ctx, arch);
    if (r != 0 && r != -EEXIST) {
      seccomp_release(ctx);
      return Error{-r, "seccomp: add architecture"};
    }
  }
  seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
  seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH,
                   SCMP_ACT_ERRNO(EPERM));  // a binary tree: ~450 syscalls stay fast
  return ctx;
}

// (a notify rule stays in the first filter whatever its arguments: a task may have one listener)
bool denies_on_args(const SeccompRule& r) {
  return r.action != "allow" && r.action != "notify" && !r.args.empty();
}

Status add_rule(scmp_filter_ctx ctx, const SeccompRule& r) {
  int nr = seccomp_syscall_resolve_name(r.syscall.c_str());
  if (nr == __NR_SCMP_ERROR) return {};  // unknown here (another kernel's name): nothing to filter
  auto act = parse_action(r.action);
  if (!act) return act.error();
  std::vector<scmp_arg_cmp> cmps;
  for (const auto& a : r.args) {
    auto op = parse_op(a.op);
    if (!op) return op.error();
    if (a.index > 5)
      return user_error("seccomp: " + r.syscall + ": argument index " + std::to_string(a.index) +
                        " (0..5)");
    cmps.push_back(scmp_arg_cmp{a.index, *op, a.value, a.value2});
  }
  int rc = seccomp_rule_add_array(ctx, *act, nr, static_cast<unsigned>(cmps.size()), cmps.data());
  // The same action as the default (a redundant rule) is not an error.
  if (rc != 0 && rc != -EACCES)
    return Error{-rc, "seccomp: rule for " + r.syscall + " (" + r.action + ")"};
  return {};
}

}  // namespace

namespace {
// What "default" refuses outright (the kinds of calls Docker's default profile refuses).
const char* const kDefaultDeny[] = {"unshare",
                                    "setns",
                                    "mount",
                                    "umount",
                                    "umount2",
                                    "pivot_root",
                                    "fsopen",
                                    "fsconfig",
                                    "fsmount",
                                    "fspick",
                                    "move_mount",
                                    "open_tree",
                                    "mount_setattr",
                                    "keyctl",
                                    "add_key",
                                    "request_key",
                                    "bpf",
                                    "userfaultfd",
                                    "perf_event_open",
                                    "io_uring_setup",
                                    "io_uring_enter",
                                    "io_uring_register",
                                    "kexec_load",
                                    "kexec_file_load",
                                    "init_module",
                                    "finit_module",
                                    "delete_module",
                                    "create_module",
                                    "query_module",
                                    "get_kernel_syms",
                                    "open_by_handle_at",
                                    "name_to_handle_at",
                                    "acct",
                                    "swapon",
                                    "swapoff",
                                    "reboot",
                                    "settimeofday",
                                    "clock_settime",
                                    "clock_adjtime",
                                    "adjtimex",
                                    "stime",
                                    "sysfs",
                                    "_sysctl",
                                    "uselib",
                                    "ustat",
                                    "vm86",
                                    "vm86old",
                                    "nfsservctl",
                                    "lookup_dcookie",
                                    "quotactl",
                                    "quotactl_fd",
                                    "iopl",
                                    "ioperm",
                                    "syslog",
                                    "kcmp",
                                    "process_vm_readv",
                                    "process_vm_writev",
                                    "ptrace",
                                    "vhangup",
                                    "mbind",
                                    "set_mempolicy",
                                    "move_pages",
                                    "migrate_pages",
                                    "get_mempolicy",
                                    "lsm_set_self_attr",
                                    "fanotify_init"};
const char* const kStrictAllow[] = {"read",
                                    "write",
                                    "readv",
                                    "writev",
                                    "pread64",
                                    "pwrite64",
                                    "open",
                                    "openat",
                                    "close",
                                    "close_range",
                                    "stat",
                                    "fstat",
                                    "lstat",
                                    "newfstatat",
                                    "statx",
                                    "lseek",
                                    "mmap",
                                    "mprotect",
                                    "munmap",
                                    "mremap",
                                    "madvise",
                                    "brk",
                                    "rt_sigaction",
                                    "rt_sigprocmask",
                                    "rt_sigreturn",
                                    "rt_sigsuspend",
                                    "sigaltstack",
                                    "access",
                                    "faccessat",
                                    "faccessat2",
                                    "pipe",
                                    "pipe2",
                                    "dup",
                                    "dup2",
                                    "dup3",
                                    "poll",
                                    "ppoll",
                                    "select",
                                    "pselect6",
                                    "nanosleep",
                                    "clock_nanosleep",
                                    "clock_gettime",
                                    "clock_getres",
                                    "gettimeofday",
                                    "time",
                                    "getpid",
                                    "getppid",
                                    "gettid",
                                    "getuid",
                                    "geteuid",
                                    "getgid",
                                    "getegid",
                                    "getgroups",
                                    "getresuid",
                                    "getresgid",
                                    "exit",
                                    "exit_group",
                                    "execve",
                                    "execveat",
                                    "wait4",
                                    "waitid",
                                    "kill",
                                    "tgkill",
                                    "uname",
                                    "fcntl",
                                    "getcwd",
                                    "chdir",
                                    "fchdir",
                                    "rename",
                                    "renameat",
                                    "renameat2",
                                    "mkdir",
                                    "mkdirat",
                                    "rmdir",
                                    "unlink",
                                    "unlinkat",
                                    "readlink",
                                    "readlinkat",
                                    "getdents64",
                                    "getrandom",
                                    "futex",
                                    "set_tid_address",
                                    "set_robust_list",
                                    "rseq",
                                    "prlimit64",
                                    "getrlimit",
                                    "arch_prctl",
                                    "fork",
                                    "vfork",
                                    "umask",
                                    "sysinfo",
                                    "getrusage",
                                    "times",
                                    "sched_yield",
                                    "sched_getaffinity",
                                    "ftruncate",
                                    "fsync",
                                    "fdatasync",
                                    "chmod",
                                    "fchmod",
                                    "fchmodat",
                                    "utimensat",
                                    "symlink",
                                    "symlinkat",
                                    "link",
                                    "linkat",
                                    "statfs",
                                    "fstatfs",
                                    "getpgrp",
                                    "setpgid",
                                    "getpgid",
                                    "getsid",
                                    "setsid",
                                    "prctl",
                                    "ioctl",
                                    "eventfd2",
                                    "epoll_create1",
                                    "epoll_ctl",
                                    "epoll_wait",
                                    "epoll_pwait",
                                    "copy_file_range",
                                    "sendfile",
                                    "splice",
                                    "seccomp"};
constexpr uint64_t kCloneNsFlags =
    0x7E020000;  // CLONE_NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET
constexpr uint64_t kTiocsti = 0x5412;
}  // namespace

Result<SeccompPolicy> builtin_seccomp(const std::string& name) {
  SeccompPolicy p;
  p.profile = name;
  p.default_action = "errno EPERM";
  SeccompRule clone_plain{"clone", "allow", {{0, "masked_eq", kCloneNsFlags, 0}}};
  SeccompRule no_tiocsti{"ioctl", "errno EPERM", {{1, "masked_eq", 0xffffffff, kTiocsti}}};
  if (name == "default") {
    std::set<std::string> deny(std::begin(kDefaultDeny), std::end(kDefaultDeny));
    std::set<std::string> special = {"clone", "clone3", "personality", "socket", "ioctl"};
    for (const auto& n : seccomp_syscalls())
      if (!deny.count(n) && !special.count(n)) p.rules.push_back({n, "allow", {}});
    p.rules.push_back(clone_plain);
    p.rules.push_back({"clone3", "errno ENOSYS", {}});
    p.rules.push_back({"socket", "allow", {{0, "lt", 38, 0}}});  // below AF_ALG
    p.rules.push_back(
        {"socket", "allow", {{0, "eq", 39, 0}}});  // AF_QIPCRTR, between the refused ones
    p.rules.push_back({"socket", "allow", {{0, "gt", 40, 0}}});  // above AF_VSOCK
    p.rules.push_back({"ioctl", "allow", {}});
    p.rules.push_back(no_tiocsti);
    for (uint64_t v : {0x0ULL, 0x8ULL, 0x20000ULL, 0x20008ULL, 0xffffffffULL})
      p.rules.push_back({"personality", "allow", {{0, "eq", v, 0}}});
    return p;
  }
  if (name == "strict") {
    for (const char* n : kStrictAllow) p.rules.push_back({n, "allow", {}});
    p.rules.push_back(clone_plain);
    p.rules.push_back({"clone3", "errno ENOSYS", {}});
    p.rules.push_back(no_tiocsti);
    return p;
  }
  return user_error("seccomp: unknown profile '" + name +
                    "' (expected default, strict, none, or a policy table)");
}

Result<SeccompPolicy> expand_seccomp(const SeccompPolicy& p) {
  if (p.profile.empty()) return p;
  auto b = builtin_seccomp(p.profile);
  if (!b) return b.error();
  for (const auto& r : p.rules) b->rules.push_back(r);  // extra rules after the profile's
  return b;
}

std::vector<std::string> seccomp_syscalls() {
  static const std::vector<std::string> all = [] {
    std::set<std::string> names;
    for (int nr = 0; nr < 1024; ++nr) {
      char* n = seccomp_syscall_resolve_num_arch(SCMP_ARCH_X86_64, nr);
      if (n) {
        names.insert(n);
        free(n);
      }
    }
    return std::vector<std::string>(names.begin(), names.end());
  }();
  return all;
}

Result<unsigned> seccomp_flag_bits(const std::vector<std::string>& flags) {
  unsigned bits = 0;
  for (const auto& f : flags) {
    if (f == "log")
      bits |= SECCOMP_FILTER_FLAG_LOG;
    else if (f == "spec_allow")
      bits |= SECCOMP_FILTER_FLAG_SPEC_ALLOW;
    else if (f == "wait_killable_recv")
      bits |= 1U << 5;  // SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV (Linux 5.19; not in older headers)
    else
      return user_error("seccomp.flags: unknown flag '" + f +
                        "' (expected log, spec_allow, wait_killable_recv)");
  }
  return bits;
}

Status check_seccomp(const SeccompPolicy& p) {
  if (auto b = seccomp_flag_bits(p.flags); !b) return b.error();
  if (!p.profile.empty() && p.profile != "default" && p.profile != "strict")
    return user_error("seccomp: unknown profile '" + p.profile +
                      "' (expected default, strict, none, or a policy table)");
  if (auto a = parse_action(p.default_action); !a) return a.error().context("seccomp.default");
  for (const auto& r : p.rules) {
    if (r.syscall.empty()) return user_error("seccomp: a rule without a syscall name");
    if (auto a = parse_action(r.action); !a)
      return a.error().context("seccomp rule for " + r.syscall);
    for (const auto& arg : r.args) {
      if (auto o = parse_op(arg.op); !o) return o.error().context("seccomp rule for " + r.syscall);
      if (arg.index > 5)
        return user_error("seccomp rule for " + r.syscall + ": argument index must be 0..5");
    }
  }
  return {};
}

namespace {
// The program of a context, as the kernel takes it (struct sock_filter[]).
Result<std::string> export_bpf(scmp_filter_ctx ctx) {
  Fd fd(memfd_create("sbx-seccomp", MFD_CLOEXEC));
  if (!fd.ok()) return sys_error("seccomp: memfd");
  int rc = seccomp_export_bpf(ctx, fd.get());
  if (rc != 0) return Error{-rc, "seccomp: export the filter"};
  off_t size = lseek(fd.get(), 0, SEEK_END);
  std::string out(static_cast<size_t>(size), '\0');
  if (pread(fd.get(), out.data(), out.size(), 0) != size)
    return sys_error("seccomp: read the filter");
  return out;
}
}  // namespace

namespace {
Result<std::vector<std::string>> compile_plain(const SeccompPolicy& p);

// A policy with notify rules as two parts: the notify rules alone, every other call allowed (the
// filter with the listener, which goes on first); and the policy with each notify rule an allow
// (its argument conditions kept), a default notify an allow. Stacked, the kernel takes the stricter
// answer: what the policy refuses stays refused and is never notified; what it allows and a notify
// rule names waits for the listener.
Result<std::vector<std::string>> compile_notifying(const SeccompPolicy& p) {
  const bool default_notifies = p.default_action == "notify";
  auto ctx = make_ctx(default_notifies ? SCMP_ACT_NOTIFY : SCMP_ACT_ALLOW);
  if (!ctx) return ctx.error();
  for (const auto& r : p.rules)
    if (r.action == "notify")
      if (auto s = add_rule(*ctx, r); !s) {
        seccomp_release(*ctx);
        return s.error();
      }
  auto notify = export_bpf(*ctx);
  seccomp_release(*ctx);
  if (!notify) return notify.error();
  SeccompPolicy rest = p;
  if (default_notifies) rest.default_action = "allow";
  for (auto& r : rest.rules)
    if (r.action == "notify") r.action = "allow";
  auto programs = compile_plain(rest);
  if (!programs) return programs.error();
  programs->insert(programs->begin(), std::move(*notify));
  return programs;
}
}  // namespace

Result<std::vector<std::string>> compile_seccomp(const SeccompPolicy& given) {
  auto expanded = expand_seccomp(given);
  if (!expanded) return expanded.error();
  if (seccomp_notifies(*expanded)) return compile_notifying(*expanded);
  return compile_plain(*expanded);
}

namespace {
Result<std::vector<std::string>> compile_plain(const SeccompPolicy& p) {
  auto def = parse_action(p.default_action);
  if (!def) return def.error();
  // Filter 1: the rules, the default for every other known syscall, ENOSYS for numbers no
  // syscall has (yet): a newer kernel's call makes libc fall back instead of failing hard.
  auto ctx = make_ctx(*def);
  if (!ctx) return ctx.error();
  for (const auto& r : p.rules) {
    if (denies_on_args(r)) continue;
    if (auto s = add_rule(*ctx, r); !s) {
      seccomp_release(*ctx);
      return s.error();
    }
  }
  if (*def != SCMP_ACT_ALLOW)
    for (int nr = 0; nr < 1024; ++nr) {
      char* n = seccomp_syscall_resolve_num_arch(SCMP_ARCH_X86_64, nr);
      if (n) {
        free(n);
        continue;
      }
      (void)seccomp_rule_add_exact(*ctx, SCMP_ACT_ERRNO(ENOSYS), nr, 0);
    }
  std::vector<std::string> programs;
  auto first = export_bpf(*ctx);
  seccomp_release(*ctx);
  if (!first) return first.error();
  programs.push_back(std::move(*first));
  // Filter 2: denials that depend on the arguments of calls filter 1 allows.
  bool any = std::any_of(p.rules.begin(), p.rules.end(), denies_on_args);
  if (!any) return programs;
  auto ctx2 = make_ctx(SCMP_ACT_ALLOW);
  if (!ctx2) return ctx2.error();
  for (const auto& r : p.rules)
    if (denies_on_args(r))
      if (auto s = add_rule(*ctx2, r); !s) {
        seccomp_release(*ctx2);
        return s.error();
      }
  auto second = export_bpf(*ctx2);
  seccomp_release(*ctx2);
  if (!second) return second.error();
  programs.push_back(std::move(*second));
  return programs;
}
}  // namespace

Result<std::vector<std::string>> cached_seccomp(const SeccompPolicy& p,
                                                const std::string& cache_dir) {
  // The key: the policy as text, and libseccomp's version (another version may compile otherwise).
  const scmp_version* v = seccomp_version();
  // (a built-in profile is keyed by its name and the revision of its lists in this file: its
  // rules follow from them and libseccomp's syscall table)
  static const uint64_t revision = [] {
    uint64_t h = 1469598103934665603ULL;
    auto mix = [&](const char* w) {
      for (const char* c = w; *c; ++c) h = (h ^ static_cast<unsigned char>(*c)) * 1099511628211ULL;
      h = (h ^ ' ') * 1099511628211ULL;
    };
    for (const char* w : kDefaultDeny) mix(w);
    for (const char* w : kStrictAllow) mix(w);
    return h;
  }();
  // (built by appending: GCC 12 -O3 misreports -Wrestrict on `"literal" + std::string`, PR 105329)
  // ("layout 2": a notify policy's rules in a filter of their own, first)
  std::string text = "layout 2\n";
  if (!p.profile.empty()) {
    text.append("profile ").append(p.profile).append(" ");
    text.append(std::to_string(revision)).append("\n");
  }
  text.append(p.default_action).append("\n");
  text.append(std::to_string(v->major)).append(".").append(std::to_string(v->minor)).append(".");
  text.append(std::to_string(v->micro)).append("\n");
  for (const auto& r : p.rules) {
    text.append(r.syscall).append(" ").append(r.action);
    for (const auto& a : r.args) {
      text.append(" ").append(std::to_string(a.index)).append(a.op).append(std::to_string(a.value));
      text.append("/").append(std::to_string(a.value2));
    }
    text.append("\n");
  }
  uint64_t h = 1469598103934665603ULL;  // FNV-1a
  for (unsigned char c : text) h = (h ^ c) * 1099511628211ULL;
  char name[32];
  snprintf(name, sizeof name, "%016llx", static_cast<unsigned long long>(h));
  std::string path = cache_dir + "/" + name + ".bpf";
  // The file: the policy text, then each program as <length>\n<bytes>. It is only read from the
  // caller's own private directory, through a descriptor whose owner and mode are checked, and only
  // when its text is exactly this policy's; anything else is compiled afresh and replaced.
  if (auto fd = open_trusted_file(path)) {
    auto cached = read_fd(fd->get(), "read " + path);
    const std::string all = cached ? std::move(*cached) : "";
    if (cached && all.compare(0, text.size(), text) == 0) {
      std::vector<std::string> programs;
      size_t off = text.size();
      while (off < all.size()) {
        size_t nl = all.find('\n', off);
        if (nl == std::string::npos || nl == off || nl - off > 6) break;
        size_t len = 0;
        for (size_t i = off; i < nl && len != SIZE_MAX; ++i)
          len = all[i] >= '0' && all[i] <= '9' ? len * 10 + static_cast<size_t>(all[i] - '0')
                                               : SIZE_MAX;
        // a BPF program is whole instructions, at most BPF_MAXINSNS (4096) of them
        if (len == SIZE_MAX || len == 0 || len % 8 != 0 || len > 4096 * 8 ||
            nl + 1 + len > all.size())
          break;
        programs.push_back(all.substr(nl + 1, len));
        off = nl + 1 + len;
      }
      if (off == all.size() && !programs.empty()) return programs;
    }
  }
  auto programs = compile_seccomp(p);
  if (!programs) return programs;
  std::string out = text;
  for (const auto& prog : *programs) out += std::to_string(prog.size()) + "\n" + prog;
  (void)write_file_atomic(path, out, 0600);  // only a cache: the next start compiles again
  return programs;
}

bool seccomp_notifies(const SeccompPolicy& p) {
  return p.default_action == "notify" ||
         std::any_of(p.rules.begin(), p.rules.end(),
                     [](const SeccompRule& r) { return r.action == "notify"; });
}

namespace {
// Instructions put before the listener's program: sendmsg(sock, msg, flags, tag) from the native
// ABI, with exactly that socket and that tag in the fourth argument (which sendmsg ignores), passes
// unjudged; every other call falls through to the policy unchanged. The one call it lets by hands
// the listener over while the policy may notify sendmsg itself; the tag is random per start and
// gone from memory once the payload's execve replaces it.
std::string handover_prefix(int sock, uint64_t tag) {
  constexpr uint32_t kArch = offsetof(struct seccomp_data, arch);
  constexpr uint32_t kNr = offsetof(struct seccomp_data, nr);
  auto arg = [](int i, bool high) {
    return static_cast<uint32_t>(offsetof(struct seccomp_data, args) + 8 * i + (high ? 4 : 0));
  };
  const std::pair<uint32_t, uint32_t> checks[] = {{kArch, AUDIT_ARCH_X86_64},
                                                  {kNr, __NR_sendmsg},
                                                  {arg(0, false), static_cast<uint32_t>(sock)},
                                                  {arg(0, true), 0},
                                                  {arg(3, false), static_cast<uint32_t>(tag)},
                                                  {arg(3, true), static_cast<uint32_t>(tag >> 32)}};
  constexpr size_t n = std::size(checks);
  std::vector<struct sock_filter> out;
  for (size_t i = 0; i < n; ++i) {
    out.push_back(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, checks[i].first));
    // on a mismatch: past the rest of the checks and the ALLOW, to the policy's first instruction
    auto skip = static_cast<uint8_t>(2 * (n - i - 1) + 1);
    out.push_back(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, checks[i].second, 0, skip));
  }
  out.push_back(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
  return std::string(reinterpret_cast<const char*>(out.data()), out.size() * sizeof out[0]);
}
}  // namespace

Result<int> install_seccomp(const std::vector<std::string>& programs, unsigned flags, bool listener,
                            int handover_sock, uint64_t handover_tag) {
  int fd = -1;
  // The argument filter first: the main one may refuse seccomp(2) itself (strict does).
  for (auto it = programs.rbegin(); it != programs.rend(); ++it) {
    // the first program has the notify rules: its listener is the one a task may have
    const bool with_listener = listener && it == programs.rend() - 1;
    const std::string prog = with_listener && handover_sock >= 0
                                 ? handover_prefix(handover_sock, handover_tag) + *it
                                 : *it;
    struct sock_fprog fp;
    fp.len = static_cast<unsigned short>(prog.size() / sizeof(struct sock_filter));
    fp.filter = reinterpret_cast<struct sock_filter*>(const_cast<char*>(prog.data()));
    long r = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
                     flags | (with_listener ? SECCOMP_FILTER_FLAG_NEW_LISTENER : 0U), &fp);
    if (r < 0)
      return sys_error(
          flags ? "seccomp: install the filter with its flags (EINVAL: a flag this kernel "
                  "does not know)"
                : "seccomp: install the filter");
    if (with_listener) fd = static_cast<int>(r);
  }
  return fd;
}

}  // namespace sbx::core
