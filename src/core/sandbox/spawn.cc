#include "core/sandbox/spawn.h"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "core/base/fault.h"
#include "core/base/io.h"
#include "core/base/signals.h"
#include "core/base/trace.h"
#include "core/base/trust.h"
#include "core/fs/mount.h"
#include "core/fs/workspace.h"
#include "core/net/net.h"
#include "core/sandbox/child.h"
#include "core/sandbox/features.h"
#include "core/sandbox/forward.h"
#include "core/sandbox/idmap.h"
#include "core/sandbox/ns.h"
#include "core/sandbox/owner.h"
#include "core/sandbox/pid1.h"
#include "core/security/caps.h"
#include "core/security/notify.h"
#include "core/security/seccomp.h"

namespace sbx::core {

bool owned_by_this_process(pid_t owner) {
  return owner == getpid();
}

Sandbox::Sandbox(pid_t pid, Fd pidfd, Fd status)
    : pid_(pid), owner_(getpid()), pidfd_(std::move(pidfd)), status_(std::move(status)) {}

Sandbox::Sandbox(Sandbox&& o) noexcept
    : pid_(std::exchange(o.pid_, -1)),
      owner_(o.owner_),
      pidfd_(std::move(o.pidfd_)),
      status_(std::move(o.status_)),
      exit_(o.exit_),
      cgroup_(std::move(o.cgroup_)),
      final_stat_(o.final_stat_),
      final_events_(o.final_events_),
      net_(std::move(o.net_)),
      user_net_(std::move(o.user_net_)),
      tty_(std::move(o.tty_)),
      seccomp_listener_(std::move(o.seccomp_listener_)) {}

Sandbox& Sandbox::operator=(Sandbox&& o) noexcept {
  if (this != &o) {
    reap_now();
    pid_ = std::exchange(o.pid_, -1);
    owner_ = o.owner_;
    pidfd_ = std::move(o.pidfd_);
    status_ = std::move(o.status_);
    exit_ = o.exit_;
    cgroup_ = std::move(o.cgroup_);
    final_stat_ = o.final_stat_;
    final_events_ = o.final_events_;
    net_ = std::move(o.net_);
    user_net_ = std::move(o.user_net_);
    tty_ = std::move(o.tty_);
    seccomp_listener_ = std::move(o.seccomp_listener_);
  }
  return *this;
}

Sandbox::~Sandbox() {
  reap_now();
  if (pid_ > 0) forget_namespaces(pid_);
  if (owned_by_this_process(owner_)) own_sandbox_remove(pidfd_.get());
}

pid_t Sandbox::release() {
  pid_t pid = pid_;
  if (owned_by_this_process(owner_)) own_sandbox_remove(pidfd_.get());
  if (cgroup_) cgroup_->release();
  cgroup_.reset();
  pidfd_.reset();
  status_.reset();
  pid_ = -1;
  return pid;
}

void Sandbox::reap_now() {
  if (pid_ <= 0 || exit_ || !owned_by_this_process(owner_)) return;
  (void)kill(SIGKILL);
  (void)wait(false);
}

Status Sandbox::kill(int sig) {
  if (pid_ <= 0 || exit_) return {ESRCH, "signal sandbox: it has already exited"};
  if (!owned_by_this_process(owner_))
    return {EPERM, "signal sandbox pid " + std::to_string(pid_) +
                       ": it belongs to the process that started it"};
  int r = pidfd_.ok() ? sys_pidfd_send_signal(pidfd_.get(), sig) : ::kill(pid_, sig);
  if (r != 0)
    return sys_error("signal " + std::to_string(sig) + " to sandbox pid " + std::to_string(pid_));
  return {};
}

namespace {
// Inits that told their status and were left to finish their exit (Sandbox::wait).
std::vector<pid_t>& unreaped() {
  static std::vector<pid_t> pids;
  return pids;
}
}  // namespace

void reap_told_inits() {
  for (pid_t pid : unreaped())
    while (waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
    }
  unreaped().clear();
}

Result<std::optional<ExitStatus>> Sandbox::wait(bool nohang) {
  if (exit_) return exit_;
  if (pid_ <= 0) return Error{ECHILD, "wait: no sandbox"};
  if (!owned_by_this_process(owner_))
    return Error{ECHILD, "wait for sandbox pid " + std::to_string(pid_) +
                             ": it belongs to the process that started it"};
  // Without a group or a bridge address to release once the init is gone, the init's word ends
  // the wait: it tells the status when nothing else of the sandbox is left (settled), and its own
  // exit, the kernel tearing its namespaces down, is not waited for (its zombie is reaped by the
  // next spawn, or by the kernel's reparenting when this process ends).
  std::optional<ExitRecord> told;
  if (!nohang && status_.ok() && !cgroup_ && !net_ && !user_net_) {
    ExitRecord rec{};
    ssize_t n;
    do n = read(status_.get(), &rec, sizeof rec);
    while (n < 0 && errno == EINTR);
    status_.reset();
    if (n == sizeof rec) told = rec;
    if (told && told->settled) {
      trace::mark("payload exit", "told by the init");
      exit_ = ExitStatus{};
      exit_->code = rec.signal ? -1 : rec.code;
      exit_->signal = rec.signal;
      unreaped().push_back(pid_);
      own_sandbox_remove(pidfd_.get());
      pidfd_.reset();
      trace::mark("teardown", "the init's own exit left to the kernel");
      return exit_;
    }
  }
  int st = 0;
  pid_t r;
  do r = waitpid(pid_, &st, nohang ? WNOHANG : 0);
  while (r < 0 && errno == EINTR);
  if (r < 0) return sys_error("wait for sandbox pid " + std::to_string(pid_));
  if (r == 0) return std::optional<ExitStatus>{};
  trace::mark("payload exit", "reaped");
  ExitStatus es;
  if (WIFEXITED(st)) es.code = WEXITSTATUS(st);
  if (WIFSIGNALED(st)) es.signal = WTERMSIG(st);
  // An init reports what really ended the payload (its own exit code can only say 128+N).
  if (status_.ok()) {
    ExitRecord rec;
    if (read(status_.get(), &rec, sizeof rec) == sizeof rec) told = rec;
    status_.reset();
  }
  if (told) {
    es.code = told->signal ? -1 : told->code;
    es.signal = told->signal;
  }
  exit_ = es;
  if (cgroup_) {
    // What the sandbox used, then the group goes (with any process that escaped the init).
    if (auto st = cgroup_->stat()) final_stat_ = *st;
    if (auto ev = cgroup_->events()) final_events_ = *ev;
    (void)cgroup_->remove();
    cgroup_.reset();
  }
  if (net_) (void)net_->release();  // keeps address and ports for the status report
  if (user_net_) (void)user_net_->release();
  forget_namespaces(pid_);
  // only now may a signal mean "end sbx" again: everything the sandbox had is released
  own_sandbox_remove(pidfd_.get());
  pidfd_.reset();
  trace::mark("teardown", cgroup_ || net_ ? "group, network released" : nullptr);
  return exit_;
}

namespace {
Result<bool> await_exec(int sync, Sandbox& box, pid_t* child = nullptr);
Result<std::vector<std::string>> seccomp_programs(const SeccompPolicy& p);

// A file the sandbox's root must own (the start fifo): chowned to the host ids of root inside.
Status give_to_root(const std::string& path, const std::vector<IdMapEntry>& uid_map,
                    const std::vector<IdMapEntry>& gid_map) {
  auto outside = [](const std::vector<IdMapEntry>& map) -> int64_t {
    for (const auto& e : map)
      if (e.inside == 0) return e.outside;
    return -1;
  };
  int64_t uid = outside(uid_map), gid = outside(gid_map);
  if (uid >= 0 && lchown(path.c_str(), static_cast<uid_t>(uid),
                         gid >= 0 ? static_cast<gid_t>(gid) : static_cast<gid_t>(-1)) != 0)
    return sys_error("start fifo " + path + ": give it to the sandbox's root");
  return {};
}

// What the child takes from the caller's io and the spec: stdio, terminal, fds passed on, and
// the seccomp filters compiled here (the child cannot compile after pivoting, nor should it).
Status fill_channels(ChildChannels& ch, const Spec& spec, const SpawnIo& io) {
  for (int i = 0; i < 3; ++i) ch.stdio[i] = io.stdio[i];
  ch.tty = io.tty;
  ch.own_pty = io.own_pty;
  ch.console = io.console;
  ch.tty_rows = io.tty_rows;
  ch.tty_cols = io.tty_cols;
  if (io.console >= 0 && !io.own_pty)
    return user_error("console socket: only for a terminal the sandbox allocates (own_pty)");
  ch.keep_fds = io.keep_fds;
  ch.start_fifo = io.start_fifo;
  if (!io.start_fifo.empty()) {
    // Dying with the starter after the start is checked by the payload against its init (which
    // dies with the starter); without an init it would look at the sync socket, which the starter
    // closes once the sandbox is created (an OCI create ends there: die_with_parent false).
    bool with_init =
        ((spec.namespaces & CLONE_NEWPID) && spec.init) || (spec.namespaces & CLONE_NEWTIME);
    if (spec.die_with_parent && !with_init)
      return user_error(
          "a created sandbox (start_fifo) without an init outlives its starter's sync socket: "
          "die_with_parent must be false");
    // the sandbox's root opens it for writing at its start: it must be theirs (runc does the same;
    // a joined user namespace's maps are read once the child is in it)
    if (spec.namespaces & CLONE_NEWUSER)
      if (auto s = give_to_root(io.start_fifo, spec.uid_map, spec.gid_map); !s) return s;
  }
  if (spec.caps) {
    auto keep = cap_numbers(*spec.caps);
    if (!keep) return keep.error();
    ch.caps = std::move(*keep);
  }
  if (spec.cap_sets) {
    CapNumbers sets;
    for (auto [names, out] : {std::pair{&spec.cap_sets->effective, &sets.effective},
                              std::pair{&spec.cap_sets->permitted, &sets.permitted},
                              std::pair{&spec.cap_sets->inheritable, &sets.inheritable},
                              std::pair{&spec.cap_sets->ambient, &sets.ambient}}) {
      auto n = cap_numbers(*names);
      if (!n) return n.error().context("cap_sets");
      *out = std::move(*n);
    }
    for (int c : sets.ambient)
      if (!std::binary_search(sets.permitted.begin(), sets.permitted.end(), c) ||
          !std::binary_search(sets.inheritable.begin(), sets.inheritable.end(), c))
        return user_error("cap_sets.ambient: capability " + std::to_string(c) +
                          " must be in permitted and inheritable too (the kernel refuses it)");
    ch.cap_sets = std::move(sets);
  }
  for (int fd : io.keep_fds)
    if (fd < 3 || fcntl(fd, F_GETFD) < 0)
      return user_error("fds: " + std::to_string(fd) + " is not an open descriptor of 3 or more");
  if (spec.seccomp) {
    auto progs = seccomp_programs(*spec.seccomp);
    if (!progs) return progs.error();
    ch.seccomp = std::move(*progs);
    auto bits = seccomp_flag_bits(spec.seccomp->flags);
    if (!bits) return bits.error();
    ch.seccomp_flags = *bits;
    if (seccomp_notifies(*spec.seccomp) && !ch.seccomp.empty()) {
      // (compile_seccomp puts the notify rules' filter first)
      ch.seccomp_notify = std::move(ch.seccomp.front());
      ch.seccomp.erase(ch.seccomp.begin());
    }
  }
  return {};
}

// Compiled once per policy and kept under the runtime directory (compiling the default profile
// costs ~20 ms, reading it back well under one).
Result<std::vector<std::string>> seccomp_programs(const SeccompPolicy& p) {
  // Only from a private cache of the caller's own (trust.h); the runtime directory above it is
  // checked too (0755 for root, whose children must reach the stage; 0700 for a user).
  std::string dir = runtime_dir() + "/seccomp";
  if (auto s = checked_runtime_dir(); !s) return s.error();
  if (auto s = trusted_dir(dir, 0700, "seccomp cache"); !s) return s.error();
  return cached_seccomp(p, dir);
}
}  // namespace

Result<std::string> stage_dir() {
  std::string dir = runtime_dir() + "/stage";
  if (auto s = checked_runtime_dir(); !s) return s.error();
  if (int e = fault("spawn.stage"))
    return fault_error("spawn.stage", "create the stage directory " + dir, e);
  // 0755: a child that is root only in its user namespace must still be able to reach it.
  if (auto s = trusted_dir(dir, 0755, "stage directory"); !s) return s.error();
  return dir;
}

namespace {
Result<Sandbox> spawn_owned(const Spec& given, const SpawnIo& io, Check check,
                            SetupSignals& signals);

Error interrupted(int sig) {
  return Error{EINTR, "interrupted by SIG" + signal_name(sig) +
                          " during set-up (everything made for the sandbox was released)"};
}
}  // namespace

Result<Sandbox> spawn(const Spec& given, const SpawnIo& io, Check check) {
  reap_told_inits();
  SetupSignals signals;  // unblocked on return: a signal that came late goes to the running sandbox
  auto box = spawn_owned(given, io, check, signals);
  if (box) own_sandbox_add(box->pidfd());
  return box;
}

namespace {
Result<Sandbox> spawn_owned(const Spec& given, const SpawnIo& io, Check check,
                            SetupSignals& signals) {
  if (auto s = check == Check::all ? validate(given) : validate_process(given); !s)
    return s.error();
  trace::mark("validate");
  // A workspace's start mark was taken before this spawn: its payload goes only after that tick
  // of the coarse clock (workspace.h), which the set-up below has usually outlasted already.
  const bool workspace = std::any_of(given.ops.begin(), given.ops.end(),
                                     [](const Op& op) { return op.kind == OpKind::Overlay; });
  const int64_t spawn_tick = workspace ? coarse_now_ns() : 0;
  // its cgroup, veth, lease and files carry this process's pid: record who that is first
  if (given.bridge || given.user_net || !given.limits.empty())
    if (auto s = register_owner(); !s) return s.error().context("spawn");
  // io, capabilities and seccomp first: bad input fails before anything is made on the host
  ChildChannels ch;
  if (auto s = fill_channels(ch, given, io); !s) return s.error().context("spawn");
  trace::mark("channels", given.seccomp ? "seccomp programs from the cache" : nullptr);
  // On a bridge: the lease, the ports and the files come first; the files are bound read-only.
  std::optional<BridgeAttachment> net;
  std::optional<UserNetAttachment> user_net;
  std::optional<Spec> with_files;
  if (given.bridge || given.user_net) {
    std::vector<std::pair<std::string, std::string>> files;
    if (given.bridge) {
      auto at = BridgeAttachment::prepare(*given.bridge, given.hostname, files);
      if (!at) return at.error().context("spawn");
      net = std::move(*at);
    } else {
      auto at = UserNetAttachment::prepare(*given.user_net, files);
      if (!at) return at.error().context("spawn");
      user_net = std::move(*at);
    }
    if ((given.namespaces | joined_namespaces(given)) & CLONE_NEWNS) {
      with_files = given;
      for (auto& [host, inside] : files) {
        // A root whose /etc/resolv.conf is a symlink (systemd-resolved) keeps its own: sbx never
        // mounts on a symlink.
        struct stat st;
        if (given.layers.empty() && lstat((given.rootfs + inside).c_str(), &st) == 0 &&
            S_ISLNK(st.st_mode))
          continue;
        // A file of the caller's own there wins (--dns); its hosts lines go after the
        // bridge's names as they are now (--add-host: a copy, not the live list).
        const std::string& at = inside;  // (a structured binding: no lambda captures one)
        auto own = std::find_if(with_files->ops.begin(), with_files->ops.end(), [&](const Op& o) {
          return o.kind == OpKind::File && o.dest == at;
        });
        if (own != with_files->ops.end()) {
          if (auto now = read_file(host); now && inside == "/etc/hosts")
            own->source = *now + own->source;
          continue;
        }
        with_files->ops.push_back(Op{OpKind::RoBind, host, inside});
      }
    }
  }
  const Spec& spec = with_files ? *with_files : given;
  if ((spec.namespaces | joined_namespaces(spec)) & CLONE_NEWNS) {
    auto stage = stage_dir();
    if (!stage) return stage.error();
    ch.stage = *stage;
  }
  int sv[2], st[2];
  if (int e = fault("spawn.sync")) return fault_error("spawn.sync", "spawn: create sync socket", e);
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0)
    return sys_error("spawn: create sync socket");
  Fd parent_sync(sv[0]), child_sync(sv[1]);
  if (pipe2(st, O_CLOEXEC) != 0) return sys_error("spawn: create status pipe");
  Fd status_read(st[0]), status_write(st[1]);
  ch.sync = child_sync.get();
  ch.status = status_write.get();
  ch.has_mask = true;
  ch.mask = signals.caller_mask();

  // With limits the sandbox gets its own cgroup, joined before "go" (before anything runs). Its
  // cgroup namespace must be rooted there, so the child unshares it after the move. `cg` removes
  // it on every return until the box takes it.
  std::optional<Cgroup> cg;
  uint64_t clone_flags = spec.namespaces;
  if (!spec.limits.empty()) {
    static unsigned counter = 0;
    std::string name = !spec.cgroup_name.empty()
                           ? spec.cgroup_name
                           : "sbx-" + std::to_string(getpid()) + "-" + std::to_string(++counter);
    CgroupHost host = detect_cgroups();
    std::string parent = spec.cgroup_parent;
    if (parent.empty() && geteuid() != 0) {  // a user's groups go where the host delegates to it
      auto d = delegated_cgroup_parent(host);
      if (!d) return d.error().context("spawn");
      parent = *d;
    }
    auto made = Cgroup::create(host, parent, name, spec.limits);
    if (!made) return made.error().context("spawn");
    cg = std::move(*made);
    clone_flags &= ~static_cast<uint64_t>(CLONE_NEWCGROUP);
    trace::mark("cgroup", "made, limits written");
  }
  // Joined namespaces: the supervisor steps into each for the clone (the child inherits them
  // before its user namespace would make joining impossible; pid and time apply to children
  // only) and steps back at once. A mount namespace is joined by the child itself (setns of mnt
  // would move the supervisor's root and cwd): clone makes a new one, the child leaves it.
  struct Joined {
    int flag;
    Fd home, target;
    std::string what;  // "join network namespace /run/netns/blue"
  };
  // Idmapped binds: their copies are made here, in the host's namespaces (the child, in a user
  // namespace of its own, may not idmap a host file system) and attached by the child.
  std::vector<Fd> trees;
  for (const auto& op : spec.ops) {
    trees.emplace_back();
    if (op.uid_map.empty()) continue;
    auto userns = userns_with_maps(op.uid_map, op.gid_map);
    if (!userns) return userns.error().context("spawn: " + describe(op));
    auto tree = idmapped_tree(op, userns->get());
    if (!tree) return tree.error().context("spawn");
    trees.back() = std::move(*tree);
    ch.op_trees.resize(spec.ops.size(), -1);
    ch.op_trees[trees.size() - 1] = trees.back().get();
  }
  std::vector<Joined> joined;
  Fd join_mnt, join_user;
  for (const auto& j : spec.join) {
    int flag = static_cast<int>(*namespace_flag(j.type));
    std::string what =
        "join " + std::string(j.type == "net" ? "network" : j.type) + " namespace " + j.path;
    Fd target(open(j.path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!target.ok()) return sys_error(what);
    if (flag == CLONE_NEWNS) {
      join_mnt = std::move(target);
      clone_flags |= CLONE_NEWNS;
      continue;
    }
    if (flag == CLONE_NEWUSER) {  // joined by a helper that clones the child (clone_in_userns)
      join_user = std::move(target);
      continue;
    }
    // (validate() let only ipc, uts, net, pid, cgroup and time through to here)
    Fd home(open(("/proc/self/ns/" + j.type).c_str(), O_RDONLY | O_CLOEXEC));
    joined.push_back({flag, std::move(home), std::move(target), std::move(what)});
  }
  auto step_back = [&]() {
    for (auto& j : joined)
      if (j.home.ok()) (void)setns(j.home.get(), j.flag);
  };
  for (auto& j : joined)
    if (!j.home.ok() || setns(j.target.get(), j.flag) != 0) {
      Error e = sys_error(j.what);
      step_back();
      return e;
    }
  ch.join_mnt = join_mnt.get();
  auto before_clone = [&](const Error& e) {
    step_back();
    return e;
  };
  if (int sig = signals.take_pending()) return before_clone(interrupted(sig).context("spawn"));
  if (int e = fault("spawn.clone"))
    return before_clone(fault_error("spawn.clone", "spawn: clone", e));
  auto cl =
      join_user.ok() ? clone_in_userns(join_user.get(), clone_flags) : clone_process(clone_flags);
  if (cl ? cl->pid != 0 : true) step_back();
  if (cl && cl->pid != 0) trace::mark("clone");
  if (!cl) {
    Error e = cl.error().context("spawn");
    if (((clone_flags & CLONE_NEWUSER) || getuid() != 0) &&
        (e.err == EPERM || e.err == ENOSPC || e.err == EACCES))
      if (std::string why = userns_refusal(); !why.empty())
        e.message += " (" + why + "; sbx doctor checks the rest of this host)";
    return e;
  }
  if (cl->pid == 0) {
    parent_sync.release();  // the child must not close fds by destructor; they close on exec
    status_read.release();
    close(sv[0]);
    close(st[0]);
    run_child(spec, ch);
  }
  Sandbox box(cl->pid, Fd(cl->pidfd), std::move(status_read));
  child_sync.reset();
  status_write.reset();
  if (cg) {
    Status added = fault("cgroup.join")
                       ? Status(fault_error("cgroup.join", "add the child to its cgroup", EIO))
                       : cg->add(cl->pid);
    box.set_cgroup(std::move(*cg));  // the box removes it on every path from here
    if (!added) return added.error().context("spawn");
  }

  if (join_user.ok() && !io.start_fifo.empty()) {
    auto uids = read_id_map(cl->pid, "uid_map");
    auto gids = read_id_map(cl->pid, "gid_map");
    if (!uids || !gids)
      return (uids ? gids.error() : uids.error())
          .context("spawn: the joined user namespace's maps");
    if (auto s = give_to_root(io.start_fifo, *uids, *gids); !s) return s.error().context("spawn");
  }
  if (int e = fault("spawn.id-maps")) return fault_error("spawn.id-maps", "spawn: uid map", e);
  if (spec.namespaces & CLONE_NEWUSER) {
    if (auto s = write_id_maps(cl->pid, spec.uid_map, spec.gid_map, spec.deny_setgroups); !s)
      return s.error().context("spawn");  // box's destructor kills and reaps the child
    trace::mark("id maps");
  }
  if (net) {  // `net` is released by its destructor if anything fails before the box owns it
    if (auto s = net->connect(cl->pid); !s) return s.error().context("spawn");
    box.set_net(std::move(*net));  // released when the box is reaped, on every path
  }
  // unprivileged: its namespaces kept for the hooks' nft and sockets (egress) while it runs
  if (unprivileged_net() && (spec.namespaces & CLONE_NEWNET) && (spec.namespaces & CLONE_NEWUSER))
    remember_namespaces(cl->pid);
  if (user_net) {  // (the child can be entered by its owner until it goes on)
    Status up = user_net->connect(cl->pid, spec.namespaces & CLONE_NEWUSER);
    box.set_user_net(std::move(*user_net));  // ended when the box is reaped, on every path
    if (!up) return up.error().context("spawn");
  }
  if (workspace) wait_past_tick(spawn_tick);
  if (int sig = signals.take_pending()) return interrupted(sig).context("spawn");
  if (int e = fault("spawn.go")) return fault_error("spawn.go", "spawn: start the child", e);
  if (send(parent_sync.get(), "g", 1, MSG_NOSIGNAL) != 1)
    return sys_error("spawn: start the child");
  trace::mark("go");

  // EOF: the payload was exec'd (the socket is CLOEXEC). A record: a setup step failed.
  auto r = await_exec(parent_sync.get(), box);
  if (!r) return r.error();
  trace::mark("exec'd", "the sync socket closed");
  return box;
}
}  // namespace

namespace {
// After "go": EOF means exec'd; a record is the step that failed; a one-byte 'P' carries the
// master of the pty the sandbox allocated itself, 'S' its seccomp listener (SCM_RIGHTS); 'C' with
// 4 bytes is the pid of the process an exec helper started as our child (`child`).
Result<bool> await_exec(int sync, Sandbox& box, pid_t* child) {
  char buf[4096];
  ssize_t n;
  for (;;) {
    // Once the child holds a filter with notify rules, the calls it notifies before its execve are
    // sbx's own set-up (and the execve itself): they go on; the handler judges the payload's.
    if (int l = box.seccomp_listener_fd(); l >= 0) {
      struct pollfd pf[2] = {{sync, POLLIN, 0}, {l, POLLIN, 0}};
      int r = poll(pf, 2, -1);
      if (r < 0 && errno == EINTR) continue;
      if (r > 0 && (pf[1].revents & POLLIN) && !(pf[0].revents & (POLLIN | POLLHUP))) {
        (void)allow_next_call(l);
        continue;
      }
    }
    int fd = -1;
    n = recv_with_fd(sync, buf, sizeof buf, &fd);
    Fd passed(fd);
    if (n == 1 && buf[0] == 'R') return true;  // created: set up, waiting for its start
    // 'C' and the pid in one record: the payload's own failure record may come at any moment,
    // and was once taken for the pid's (the error then had no text)
    if (n == 1 + static_cast<ssize_t>(sizeof(int32_t)) && buf[0] == 'C' && child) {
      int32_t pid = 0;
      std::memcpy(&pid, buf + 1, sizeof pid);
      if (pid > 0) *child = pid;
      continue;
    }
    if (n != 1 || (buf[0] != 'P' && buf[0] != 'S') || !passed.ok()) break;
    if (buf[0] == 'P')
      box.set_tty(std::move(passed));
    else
      box.set_seccomp_listener(std::move(passed));
  }
  if (n >= static_cast<ssize_t>(sizeof(FailureHeader))) {
    FailureHeader h;
    std::memcpy(&h, buf, sizeof h);
    Error e{h.err, std::string(buf + sizeof h, static_cast<size_t>(n) - sizeof h)};
    (void)box.wait(false);
    return e;
  }
  return true;
}
}  // namespace

Result<Sandbox> enter(pid_t target, const Spec& spec, const SpawnIo& io,
                      const std::string& cgroup) {
  if (spec.argv.empty() || spec.argv[0].empty()) return user_error("exec: no command");
  if (target <= 0) return user_error("exec: no sandbox pid");
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0)
    return sys_error("exec: create sync socket");
  Fd parent_sync(sv[0]), child_sync(sv[1]);
  ChildChannels ch;
  ch.sync = child_sync.get();
  if (auto s = fill_channels(ch, spec, io); !s) return s.error().context("exec");
  trace::mark("channels", spec.seccomp ? "seccomp programs from the cache" : nullptr);
  auto cl = clone_process(0);
  if (!cl) return cl.error().context("exec");
  if (cl->pid != 0) trace::mark("fork the helper");
  if (cl->pid == 0) {
    parent_sync.release();
    close(sv[0]);
    run_entered_child(target, spec, ch);
  }
  Sandbox box(cl->pid, Fd(cl->pidfd), Fd());
  child_sync.reset();
  if (!cgroup.empty()) {
    auto cg = Cgroup::open(detect_cgroups(), cgroup);
    if (!cg) return cg.error().context("exec: join the sandbox's cgroup");
    if (auto s = cg->add(cl->pid); !s) return s.error().context("exec: join the sandbox's cgroup");
    trace::mark("cgroup joined");
  }
  if (send(parent_sync.get(), "g", 1, MSG_NOSIGNAL) != 1) return sys_error("exec: start the child");
  pid_t payload = -1;
  auto r = await_exec(parent_sync.get(), box, &payload);
  if (payload > 0 && !r) {
    // it failed in its set-up: our child, reaped here
    while (waitpid(payload, nullptr, 0) < 0 && errno == EINTR) {
    }
  }
  if (!r) return r.error();
  trace::mark("exec'd", "the sync socket closed");
  (void)box.wait(false);  // the helper, which ended once the payload was started
  if (payload <= 0) return Error{EPROTO, "exec: the helper did not report the process it started"};
  Fd pidfd(sys_pidfd_open(payload, 0));  // our child: its pid is not reused before we reap it
  Sandbox started(payload, std::move(pidfd), Fd());
  started.set_tty(box.take_tty());
  started.set_seccomp_listener(box.take_seccomp_listener());
  return started;
}

}  // namespace sbx::core
