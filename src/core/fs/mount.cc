#include "core/fs/mount.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cstring>
#include <sstream>

#include "core/base/fd.h"
#include "core/base/io.h"
#include "core/fs/overlay.h"

#ifndef MOUNT_ATTR_RDONLY
#define MOUNT_ATTR_RDONLY 0x00000001
#endif
#ifndef MOUNT_ATTR_NOSUID
#define MOUNT_ATTR_NOSUID 0x00000002
#define MOUNT_ATTR_NODEV 0x00000004
#endif
#ifndef AT_RECURSIVE
#define AT_RECURSIVE 0x8000
#endif

namespace sbx::core {

namespace {

struct MountAttr {
  uint64_t attr_set, attr_clr, propagation, userns_fd;
};

// mount_setattr(2) changes only the named flags, so locked flags (nosuid, nodev of a mount
// inherited from the host) never make a remount fail in a user namespace.
Status set_attr(const std::string& path, uint64_t attr, bool recursive, const std::string& step) {
  MountAttr a{attr, 0, 0, 0};
  if (syscall(SYS_mount_setattr, AT_FDCWD, path.c_str(), recursive ? AT_RECURSIVE : 0, &a,
              sizeof a) == 0)
    return {};
  if (errno != ENOSYS) return sys_error(step);
  // Pre-5.12 kernels: one mount only, keeping the locked flags by reading them back.
  struct statfs sf;
  if (statfs(path.c_str(), &sf) != 0) return sys_error(step);
  unsigned long keep = sf.f_flags & (MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NOATIME |
                                     MS_NODIRATIME | MS_RELATIME);
  unsigned long want = (attr & MOUNT_ATTR_RDONLY ? MS_RDONLY : 0) |
                       (attr & MOUNT_ATTR_NOSUID ? MS_NOSUID : 0) |
                       (attr & MOUNT_ATTR_NODEV ? MS_NODEV : 0);
  if (mount(nullptr, path.c_str(), nullptr, MS_REMOUNT | MS_BIND | keep | want, nullptr) != 0)
    return sys_error(step);
  return {};
}

Status set_readonly(const std::string& path, bool recursive) {
  return set_attr(path, MOUNT_ATTR_RDONLY, recursive, "remount-ro " + path);
}

}  // namespace

std::string parent_of(const std::string& p) {
  auto i = p.find_last_of('/');
  return i == 0 || i == std::string::npos ? "/" : p.substr(0, i);
}

namespace {

// openat2 with RESOLVE_IN_ROOT: symlinks resolve as if `rootfd` were "/", so nothing can lead out.
int open_in_root(int rootfd, const std::string& rel, uint64_t flags) {
  struct open_how how;
  std::memset(&how, 0, sizeof how);
  how.flags = flags | O_PATH | O_CLOEXEC;
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  return static_cast<int>(
      syscall(SYS_openat2, rootfd, rel.empty() ? "." : rel.c_str(), &how, sizeof how));
}

std::string fd_path(int fd) {
  char link[64], buf[4096];
  snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  ssize_t n = readlink(link, buf, sizeof buf);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
}

// The destination `dest` inside `root` as a real path (no symlink left in it, inside root): every
// symlink on the way resolved within root, what is missing created there (directories; the last
// component a directory or an empty file). A destination that is itself a symlink is refused, so a
// rootfs whose /proc or /dev is a symlink is refused too. Nothing is ever created outside root.
// A resolved destination: the fd (mounts go on "/proc/self/fd/N", the very dentry that was checked,
// whatever happens to the path meanwhile) and its real path (for what follows a mount).
struct Target {
  Fd fd;
  std::string real;
  std::string at() const { return "/proc/self/fd/" + std::to_string(fd.get()); }
};

// A missing mount point that could not be made: in a root this process may not write, say so.
Error not_made(const std::string& what) {
  Error e = sys_error(what);
  if (e.err == EACCES || e.err == EROFS || e.err == EPERM)
    e.message += " (the root is not writable here: mount on an existing path, or under /tmp)";
  return e;
}

Result<Target> target_in_root(const std::string& root, const std::string& dest, bool directory,
                              bool create, const std::string& step) {
  Fd rootfd(open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!rootfd.ok()) return sys_error(step + ": open the new root");
  std::string rel = dest;
  while (!rel.empty() && rel[0] == '/') rel.erase(0, 1);
  Fd fd(open_in_root(rootfd.get(), rel, O_NOFOLLOW));
  if (!fd.ok() && errno == ENOENT && create) {
    // make the parents, one component at a time, each inside root
    std::string prefix;
    size_t pos = 0;
    for (size_t slash; (slash = rel.find('/', pos)) != std::string::npos; pos = slash + 1) {
      std::string comp = rel.substr(pos, slash - pos);
      if (comp.empty()) continue;
      Fd parent(open_in_root(rootfd.get(), prefix, O_DIRECTORY));
      if (!parent.ok()) return sys_error(step + ": resolve /" + prefix);
      if (mkdirat(parent.get(), comp.c_str(), 0755) != 0 && errno != EEXIST)
        return not_made(step + ": mkdir /" + prefix + (prefix.empty() ? "" : "/") + comp);
      prefix += (prefix.empty() ? "" : "/") + comp;
    }
    std::string name = rel.substr(pos);
    Fd parent(open_in_root(rootfd.get(), prefix, O_DIRECTORY));
    if (!parent.ok()) return sys_error(step + ": resolve /" + prefix);
    if (directory) {
      if (mkdirat(parent.get(), name.c_str(), 0755) != 0 && errno != EEXIST)
        return not_made(step + ": mkdir " + dest);
    } else {
      int f = openat(parent.get(), name.c_str(), O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
      if (f < 0) return not_made(step + ": create " + dest);
      close(f);
    }
    fd.reset(open_in_root(rootfd.get(), rel, O_NOFOLLOW));
  }
  if (!fd.ok()) return sys_error(step);
  struct stat st;
  if (fstat(fd.get(), &st) != 0) return sys_error(step);
  if (S_ISLNK(st.st_mode)) return {EINVAL, step + ": destination is a symbolic link (refused)"};
  std::string real = fd_path(fd.get()), base = fd_path(rootfd.get());
  if (real.empty() || (real != base && real.compare(0, base.size() + 1, base + "/") != 0))
    return Error{EXDEV, step + ": destination resolves outside the new root (refused)"};
  return Target{std::move(fd), real};
}

Status bind(const Op& op, const Target& t, bool readonly, bool allow_dev, int tree) {
  std::string step = describe(op);
  const std::string& target = t.real;
  if (tree >= 0) {
    // an idmapped copy of the source, made by the supervisor (idmapped_tree): attached here
    if (syscall(SYS_move_mount, tree, "", t.fd.get(), "",
                MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) != 0)
      return sys_error(step + ": attach the idmapped mount");
  } else if (mount(op.source.c_str(), t.at().c_str(), nullptr, MS_BIND | MS_REC, nullptr) != 0) {
    return sys_error(step);
  }
  uint64_t attr =
      (allow_dev ? 0 : MOUNT_ATTR_NODEV | MOUNT_ATTR_NOSUID) | (readonly ? MOUNT_ATTR_RDONLY : 0);
  if (attr)
    return set_attr(target, attr, true, step + ": set " + (readonly ? "ro," : "") + "nodev,nosuid");
  return {};
}

Status tmpfs(const Op& op, const Target& t, unsigned default_mode) {
  std::string step = describe(op);
  char data[64];
  unsigned mode = op.mode ? op.mode : default_mode;
  if (op.size)
    snprintf(data, sizeof data, "mode=%o,size=%llu", mode, (unsigned long long)op.size);
  else
    snprintf(data, sizeof data, "mode=%o", mode);
  // (the source is only a name in the mount table: an OCI config's "shm", say)
  const char* source = op.kind == OpKind::Tmpfs && !op.source.empty() ? op.source.c_str() : "tmpfs";
  if (mount(source, t.at().c_str(), "tmpfs", MS_NOSUID | MS_NODEV, data) != 0)
    return sys_error(step);
  return {};
}

// Whether something is mounted over a part of /proc (a container's masked paths: /proc/kcore,
// /proc/acpi ...), which makes the kernel refuse a fresh proc in a new user namespace.
bool proc_is_masked() {
  auto info = read_file("/proc/self/mountinfo");
  if (!info) return false;
  std::istringstream lines(*info);
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream f(line);
    std::string id, parent, dev, root, point;
    f >> id >> parent >> dev >> root >> point;
    if (point.rfind("/proc/", 0) == 0 && point.rfind("/proc/sys/fs/binfmt_misc", 0) != 0)
      return true;
  }
  return false;
}

Status proc(const Op& op, const Target& t, bool pid_ns_new) {
  std::string step = describe(op);
  std::string target = t.at();
  if (mount("proc", target.c_str(), "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) == 0)
    return {};
  int e = errno;
  // Sharing the host's pid namespace from a user namespace: only a bind of the host's /proc works.
  if (e == EPERM && !pid_ns_new &&
      mount("/proc", target.c_str(), nullptr, MS_BIND | MS_REC, nullptr) == 0)
    return {};
  std::string why;
  if (e == EPERM && proc_is_masked())
    why =
        " (the outer container masks parts of its /proc, and the kernel then refuses a new one: "
        "run "
        "it with --security-opt unmask=ALL (podman; docker: --security-opt "
        "systempaths=unconfined) or --privileged, or share its pid namespace, whose /proc is bound "
        "instead (--share-pid); sbx doctor checks the rest)";
  else if (e == EPERM)
    why = " (is /proc masked by an outer container? sbx doctor)";
  return sys_error(step + why, e);
}

Status dev(const Op& op, const Target& t) {
  std::string step = describe(op);
  if (auto s = tmpfs(op, t, 0755); !s) return s;
  const std::string& target = t.real;  // a fresh lookup: the new tmpfs
  static const char* const kNodes[] = {"null", "zero", "full", "random", "urandom", "tty"};
  for (const char* n : kNodes) {
    std::string src = std::string("/dev/") + n, dst = target + "/" + n;
    int fd = open(dst.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0666);
    if (fd < 0) return sys_error(step + ": create " + dst);
    close(fd);
    // Bind the host's node: mknod is not allowed in a user namespace, a bind is.
    if (mount(src.c_str(), dst.c_str(), nullptr, MS_BIND, nullptr) != 0)
      return sys_error(step + ": bind " + src);
  }
  std::string pts = target + "/pts", shm = target + "/shm";
  if (mkdir(pts.c_str(), 0755) != 0 || mkdir(shm.c_str(), 01777) != 0)
    return sys_error(step + ": mkdir pts, shm");
  if (mount("devpts", pts.c_str(), "devpts", MS_NOSUID | MS_NOEXEC,
            "newinstance,ptmxmode=0666,mode=0620") != 0)
    return sys_error(step + ": mount devpts newinstance on " + op.dest + "/pts");
  if (chmod(shm.c_str(), 01777) != 0) return sys_error(step + ": chmod shm");
  static const char* const kLinks[][2] = {{"pts/ptmx", "ptmx"},
                                          {"/proc/self/fd", "fd"},
                                          {"/proc/self/fd/0", "stdin"},
                                          {"/proc/self/fd/1", "stdout"},
                                          {"/proc/self/fd/2", "stderr"}};
  for (const auto& l : kLinks) {
    std::string dst = target + "/" + l[1];
    if (symlink(l[0], dst.c_str()) != 0) return sys_error(step + ": symlink " + dst);
  }
  return {};
}

// A node made on a nodev mount (sbx's /dev tmpfs is one) does not open: it gets a bind mount of
// its own without nodev (allowed: the mount is this namespace's, its flags not locked).
Status usable_node(const std::string& node, const std::string& step) {
  struct statfs sf;
  if (statfs(node.c_str(), &sf) != 0) return sys_error(step + ": statfs");
  if (!(sf.f_flags & ST_NODEV)) return {};
  if (mount(node.c_str(), node.c_str(), nullptr, MS_BIND, nullptr) != 0)
    return sys_error(step + ": bind the node on itself (its file system is nodev)");
  MountAttr a{0, MOUNT_ATTR_NODEV, 0, 0};
  if (syscall(SYS_mount_setattr, AT_FDCWD, node.c_str(), 0, &a, sizeof a) == 0) return {};
  if (errno != ENOSYS) return sys_error(step + ": clear nodev on its bind");
  unsigned long keep =
      sf.f_flags & (MS_RDONLY | MS_NOSUID | MS_NOEXEC | MS_NOATIME | MS_NODIRATIME | MS_RELATIME);
  if (mount(nullptr, node.c_str(), nullptr, MS_REMOUNT | MS_BIND | keep, nullptr) != 0)
    return sys_error(step + ": clear nodev on its bind");
  return {};
}

// mknod, as root on the host may; in a user namespace (no CAP_MKNOD there) the host's own node at
// the same path is bound instead, as runc does. An entry already there that is this very node
// (sbx's /dev binds /dev/null, ...) is left as it is.
Status device_op(const Op& op, const Target& parent, const std::string& name) {
  std::string step = describe(op);
  auto node = parse_device_node(op.source);
  if (!node) return node.error().context(step);
  mode_t type = node->type == 'b' ? S_IFBLK : node->type == 'p' ? S_IFIFO : S_IFCHR;
  dev_t rdev = node->type == 'p' ? 0 : makedev(node->major, node->minor);
  mode_t perm = op.mode ? op.mode : 0666;
  std::string target = parent.real + "/" + name;
  auto is_node = [&](const struct stat& st) {
    return (st.st_mode & S_IFMT) == type && (type == S_IFIFO || st.st_rdev == rdev);
  };
  struct stat st;
  if (fstatat(parent.fd.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
    if (is_node(st)) return {};
    return {EEXIST, step + ": " + op.dest + " exists and is another file (refused)"};
  }
  if (mknodat(parent.fd.get(), name.c_str(), type | (perm & 07777), rdev) == 0) {
    // (the umask took bits off: the mode asked for, then the owner)
    if (fchmodat(parent.fd.get(), name.c_str(), perm & 07777, 0) != 0)
      return sys_error(step + ": chmod");
    if (fchownat(parent.fd.get(), name.c_str(), op.uid, op.gid, AT_SYMLINK_NOFOLLOW) != 0)
      return sys_error(step + ": chown " + std::to_string(op.uid) + ":" + std::to_string(op.gid));
    return type == S_IFIFO ? Status{} : usable_node(target, step);
  }
  int e = errno;
  if (e != EPERM) return sys_error(step + ": mknod", e);
  struct stat host;
  if (stat(op.dest.c_str(), &host) != 0 || !is_node(host))
    return Error{e, step + ": mknod: " + std::strerror(e) +
                        " (a user namespace may not make device nodes, and the host has no " +
                        op.source + " at " + op.dest + " to bind instead)"};
  Fd spot(openat(parent.fd.get(), name.c_str(),
                 O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644));
  if (!spot.ok()) return sys_error(step + ": create the mount point for the host's node");
  spot.reset();
  if (mount(op.dest.c_str(), target.c_str(), nullptr, MS_BIND, nullptr) != 0)
    return sys_error(step + ": bind the host's " + op.dest + " (mknod is not allowed here)");
  return {};
}

// A file of its own over `name` in `parent`, where the root cannot be written (the host's root,
// a read-only rootfs, a file bound read-only): the contents on a tmpfs that is mounted nowhere,
// its one file bound on the target (as docker's /etc/hosts is).
Status file_over(const Op& op, int parent, const std::string& name, const std::string& step) {
  Fd fs(static_cast<int>(syscall(SYS_fsopen, "tmpfs", 1 /* FSOPEN_CLOEXEC */)));
  if (!fs.ok()) return sys_error(step + ": fsopen tmpfs");
  if (syscall(SYS_fsconfig, fs.get(), 0 /* FSCONFIG_SET_FLAG */, "size", "1m", 0) != 0 &&
      syscall(SYS_fsconfig, fs.get(), 1 /* FSCONFIG_SET_STRING */, "size", "1m", 0) != 0)
    return sys_error(step + ": tmpfs size");
  if (syscall(SYS_fsconfig, fs.get(), 6 /* FSCONFIG_CMD_CREATE */, nullptr, nullptr, 0) != 0)
    return sys_error(step + ": tmpfs");
  Fd mnt(static_cast<int>(syscall(SYS_fsmount, fs.get(), 1 /* FSMOUNT_CLOEXEC */,
                                  MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC)));
  if (!mnt.ok()) return sys_error(step + ": fsmount tmpfs");
  {
    Fd f(openat(mnt.get(), "f", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, op.mode ? op.mode : 0644));
    if (!f.ok()) return sys_error(step + ": create");
    if (auto s = write_all(f.get(), op.source, step + ": write"); !s) return s;
  }
  Fd tree(static_cast<int>(
      syscall(SYS_open_tree, mnt.get(), "f", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC)));
  if (!tree.ok()) return sys_error(step + ": open_tree");
  if (syscall(SYS_move_mount, tree.get(), "", parent, name.c_str(), MOVE_MOUNT_F_EMPTY_PATH) != 0)
    return sys_error(step + ": bind over " + name);
  return {};
}

Status file_op(const Op& op, const std::string& target, int parent) {
  std::string step = describe(op);
  if (auto s = make_dirs(parent_of(target)); !s) return s.error().context(step);
  std::string name = target.substr(target.find_last_of('/') + 1);
  struct stat st;
  if (fstatat(parent, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode) &&
      faccessat(parent, name.c_str(), W_OK, AT_EACCESS | AT_SYMLINK_NOFOLLOW) != 0 &&
      (errno == EROFS || errno == EACCES || errno == EPERM))
    return file_over(op, parent, name, step);
  if (auto s = write_file(target, op.source, op.mode ? op.mode : 0644); !s) {
    if (s.error().err == EROFS || s.error().err == EACCES || s.error().err == EPERM)
      if (fstatat(parent, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode))
        return file_over(op, parent, name, step);
    return s.error().context(step);
  }
  return {};
}

}  // namespace

Status make_dirs(const std::string& path, unsigned mode) {
  if (path.empty() || path == "/") return {};
  struct stat st;
  if (stat(path.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) return {};
    return {ENOTDIR, "mkdir " + path + ": exists and is not a directory"};
  }
  if (auto s = make_dirs(parent_of(path), mode); !s) return s;
  if (mkdir(path.c_str(), mode) != 0 && errno != EEXIST) return sys_error("mkdir " + path);
  return {};
}

Status make_mounts_private() {
  if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0)
    return sys_error("make / recursively private");
  return {};
}

namespace {
// The ops whose destination is missing from the rootfs and that no earlier op mounts a
// directory above (a tmpfs /tmp makes /tmp/x creatable): the root needs a writable scratch
// layer to hold their mount points.
// `dest` in `root` as the sandbox will see it: the longest part that exists resolved there
// (symlinks as if root were "/": /data -> /etc makes /data/x /etc/x), the rest as given. "" when
// it leads nowhere sensible.
std::string resolved_dest(const std::string& root, const std::string& dest) {
  Fd rootfd(open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!rootfd.ok()) return dest;
  std::string real_root = fd_path(rootfd.get());
  // the longest existing prefix, by components
  std::string prefix = dest;
  std::string rest;
  while (!prefix.empty() && prefix != "/") {
    Fd fd(open_in_root(rootfd.get(), prefix.substr(1), 0));
    if (fd.ok()) {
      std::string real = fd_path(fd.get());
      if (real.compare(0, real_root.size(), real_root) != 0) return dest;
      std::string inside = real.substr(real_root.size());
      if (inside.empty()) inside = "/";
      return (inside == "/" ? "" : inside) + rest;
    }
    size_t slash = prefix.rfind('/');
    rest = prefix.substr(slash) + rest;
    prefix = prefix.substr(0, slash);
  }
  return rest.empty() ? dest : rest;
}

std::vector<const Op*> missing_mount_points(const Spec& spec) {
  std::vector<const Op*> out;
  for (size_t i = 0; i < spec.ops.size(); ++i) {
    // a mask or read-only path the root lacks is skipped by its op: no mount point for it (made,
    // /sys/firmware of a root without /sys contents cost every start a scratch overlay)
    if (spec.ops[i].kind == OpKind::Mask || spec.ops[i].kind == OpKind::ReadOnly) continue;
    // (under a symlinked directory: where it leads, as the op itself resolves it)
    const std::string dest = resolved_dest(spec.rootfs, spec.ops[i].dest);
    struct stat st;
    if (lstat((spec.rootfs + dest).c_str(), &st) == 0) continue;
    bool covered = false;
    for (size_t j = 0; j < i && !covered; ++j) {
      const std::string above = resolved_dest(spec.rootfs, spec.ops[j].dest);
      covered = dest.size() > above.size() && dest.compare(0, above.size(), above) == 0 &&
                dest[above.size()] == '/';
    }
    if (!covered) out.push_back(&spec.ops[i]);
  }
  return out;
}

// Mount points made in the scratch upper layer itself, before the overlay: through the overlay
// they would need a copy-up of directories owned by ids the sandbox's user namespace may not map.
Status precreate_mount_points(const std::vector<const Op*>& ops, const std::string& lower,
                              const std::string& upper) {
  for (const Op* op : ops) {
    std::string step = describe(*op);
    // where the op's destination leads in the root (a symlinked directory on the way followed)
    const std::string dest = resolved_dest(lower, op->dest);
    // Parents: same permissions as in the rootfs.
    for (size_t slash = dest.find('/', 1); slash != std::string::npos;
         slash = dest.find('/', slash + 1)) {
      std::string rel = dest.substr(0, slash);
      struct stat st;
      unsigned mode =
          lstat((lower + rel).c_str(), &st) == 0 && S_ISDIR(st.st_mode) ? st.st_mode & 07777 : 0755;
      if (mkdir((upper + rel).c_str(), mode) != 0 && errno != EEXIST)
        return sys_error(step + ": mkdir " + rel);
    }
    struct stat st;
    bool file =
        (op->kind == OpKind::Bind || op->kind == OpKind::RoBind || op->kind == OpKind::DevBind)
            ? stat(op->source.c_str(), &st) == 0 && !S_ISDIR(st.st_mode)
            : op->kind == OpKind::File;
    if (op->kind == OpKind::Symlink || op->kind == OpKind::Device)
      continue;  // made by the op itself, in its parent
    std::string target = upper + dest;
    if (file) {
      Fd fd(open(target.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644));
      if (!fd.ok()) return sys_error(step + ": create " + dest);
    } else if (mkdir(target.c_str(), 0755) != 0 && errno != EEXIST) {
      return sys_error(step + ": mkdir " + dest);
    }
  }
  return {};
}
}  // namespace

namespace {
// An image root: a scratch tmpfs on the stage holds the init layer (and the upper layer when it
// is ephemeral); the overlay goes on stage/root.
Result<std::string> image_root(const Spec& spec, const std::string& stage) {
  if (mount("sbx-image", stage.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755") != 0)
    return sys_error("scratch tmpfs for the image root on " + stage);
  std::string init = stage + "/init", root = stage + "/root";
  for (const auto& d : {init, init + "/etc", root})
    if (mkdir(d.c_str(), 0755) != 0) return sys_error("mkdir " + d);
  std::string host = spec.hostname.empty() ? "sbx" : spec.hostname;
  if (auto s = write_file(init + "/etc/hostname", host + "\n"); !s) return s.error();
  if (auto s = write_file(init + "/etc/hosts", "127.0.0.1 localhost " + host + "\n::1 localhost\n");
      !s)
    return s.error();
  if (auto s = write_file(init + "/etc/resolv.conf", "# sbx: no network beyond loopback\n"); !s)
    return s.error();
  std::string upper = spec.upper, work = spec.work;
  if (upper.empty()) {
    upper = stage + "/upper";
    work = stage + "/work";
    if (mkdir(upper.c_str(), 0755) != 0 || mkdir(work.c_str(), 0755) != 0)
      return sys_error("mkdir upper, work");
  }
  std::vector<std::string> lowers{init};
  lowers.insert(lowers.end(), spec.layers.begin(), spec.layers.end());
  if (auto s = mount_overlay(lowers, upper, work, root); !s) return s.error().context("image root");
  return root;
}
}  // namespace

Result<std::string> prepare_root(const Spec& spec, const std::string& stage) {
  if (!spec.layers.empty()) return image_root(spec, stage);
  const std::string& src = spec.rootfs.empty() ? std::string("/") : spec.rootfs;
  struct stat st;
  if (stat(src.c_str(), &st) != 0) return sys_error("rootfs " + src);
  if (!S_ISDIR(st.st_mode)) return Error{ENOTDIR, "rootfs " + src + ": not a directory"};
  std::vector<const Op*> missing;
  if (!spec.rootfs.empty() && spec.rootfs_readonly) missing = missing_mount_points(spec);
  if (!missing.empty()) {
    // sbx never writes into a read-only root: missing mount points go to a scratch overlay
    // upper layer on a tmpfs, which disappears with the sandbox.
    if (mount("sbx-scratch", stage.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755") != 0)
      return sys_error("scratch tmpfs for mount points on " + stage);
    std::string upper = stage + "/upper", work = stage + "/work", root = stage + "/root";
    for (const auto& d : {upper, work, root})
      if (mkdir(d.c_str(), 0755) != 0) return sys_error("mkdir " + d);
    if (auto s = precreate_mount_points(missing, src, upper); !s)
      return s.error().context("root with mount points");
    if (auto s = mount_overlay({src}, upper, work, root); !s)
      return s.error().context("root with mount points");
    return root;
  }
  std::string step = "bind root " + src + " on " + stage;
  if (mount(src.c_str(), stage.c_str(), nullptr, MS_BIND | MS_REC, nullptr) != 0)
    return sys_error(step);
  // The host's root is never writable from inside: read-only at once, recursively, so that no
  // later step can create anything on the host.
  if (spec.rootfs.empty())
    if (auto s = set_readonly(stage, true); !s) return s.error().context("host root");
  return stage;
}

namespace {
Status run_op_in(const Op& op, const std::string& stage, bool pid_ns_new, int tree) {
  std::string step = describe(op);
  // every destination resolved inside the new root (created there when missing)
  auto at = [&](bool directory, bool create) {
    return target_in_root(stage, op.dest, directory, create, step);
  };
  switch (op.kind) {
    case OpKind::Bind:
    case OpKind::RoBind:
    case OpKind::DevBind: {
      // (an idmapped copy was opened by the supervisor: the source's path may be out of this
      // process's reach, under a 0700 home)
      struct stat st;
      if (tree >= 0 ? fstat(tree, &st) != 0 : stat(op.source.c_str(), &st) != 0) {
        if (op.optional && errno == ENOENT) return {};
        return sys_error(step);
      }
      auto t = at(S_ISDIR(st.st_mode), true);
      if (!t) return t.error();
      return bind(op, *t, op.kind == OpKind::RoBind, op.kind == OpKind::DevBind, tree);
    }
    case OpKind::Overlay: {
      // (an idmapped lower was opened by the supervisor: its path may be out of this process's
      // reach, under a 0700 home)
      struct stat st;
      if (tree < 0 && stat(op.source.c_str(), &st) != 0)
        return sys_error(step + ": the lower directory");
      if (tree < 0 && !S_ISDIR(st.st_mode))
        return Error{ENOTDIR, step + ": the lower is not a directory"};
      auto t = at(true, true);
      if (!t && t.error().err == EACCES)
        return Error{EACCES, t.error().message +
                                 " (the sandbox's root cannot enter a directory on the way to " +
                                 op.dest + ": see it elsewhere, DIR:/work)"};
      if (!t) return t.error();
      // The lower (its idmapped copy when the sandbox's root is another id on the host) goes on
      // the target first, then the overlay over it: the lower stays beneath, out of reach.
      // Not recursive: the directory's submounts are not the workspace's.
      if (tree >= 0) {
        if (syscall(SYS_move_mount, tree, "", t->fd.get(), "",
                    MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) != 0)
          return sys_error(step + ": attach the idmapped lower");
      } else if (mount(op.source.c_str(), t->at().c_str(), nullptr, MS_BIND, nullptr) != 0) {
        return sys_error(step + ": bind the lower");
      }
      if (auto s = mount_overlay({t->real}, op.upper, op.work, t->real); !s)
        return s.error().context(step);
      return set_attr(t->real, MOUNT_ATTR_NODEV | MOUNT_ATTR_NOSUID, false,
                      step + ": set nodev,nosuid");
    }
    case OpKind::Tmpfs:
    case OpKind::Proc:
    case OpKind::Dev:
    case OpKind::Mqueue: {
      auto t = at(true, true);
      if (!t) return t.error();
      if (op.kind == OpKind::Tmpfs) return tmpfs(op, *t, 01777);
      if (op.kind == OpKind::Proc) return proc(op, *t, pid_ns_new);
      if (op.kind == OpKind::Dev) return dev(op, *t);
      if (mount("mqueue", t->at().c_str(), "mqueue", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) !=
          0)
        return sys_error(step);
      return {};
    }
    case OpKind::Mkdir: {
      auto t = at(true, true);
      if (!t) return t.error();
      if (op.mode && chmod(t->real.c_str(), op.mode) != 0) return sys_error(step + ": chmod");
      return {};
    }
    case OpKind::Device: {
      auto parent = target_in_root(stage, parent_of(op.dest), true, true, step);
      if (!parent) return parent.error();
      return device_op(op, *parent, op.dest.substr(op.dest.find_last_of('/') + 1));
    }
    case OpKind::Symlink:
    case OpKind::File: {
      // the parent resolved inside root; the entry itself made there without following links
      auto parent = target_in_root(stage, parent_of(op.dest), true, true, step);
      if (!parent) return parent.error();
      std::string target = parent->real + "/" + op.dest.substr(op.dest.find_last_of('/') + 1);
      if (op.kind == OpKind::File) return file_op(op, target, parent->fd.get());
      if (symlink(op.source.c_str(), target.c_str()) != 0) {
        int e = errno;  // (readlink below may change errno)
        char buf[4096];
        ssize_t n = readlink(target.c_str(), buf, sizeof buf);
        if (e == EEXIST && n >= 0 && op.source == std::string(buf, static_cast<size_t>(n)))
          return {};
        return sys_error(step, e);
      }
      return {};
    }
    case OpKind::RemountRo: {
      auto t = at(true, false);
      if (!t) return t.error();
      return set_attr(t->real, MOUNT_ATTR_RDONLY, true, step);
    }
    case OpKind::Mask:
    case OpKind::ReadOnly: {
      // (nothing to hide or protect where it is missing, or where the sandbox cannot reach it)
      auto t = at(true, false);
      if (!t)
        return errno == ENOENT || t.error().err == ENOENT || t.error().err == EINVAL ||
                       t.error().err == EACCES
                   ? Status{}
                   : Status{t.error()};
      const std::string& target = t->real;
      struct stat st;
      if (fstat(t->fd.get(), &st) != 0) return {};
      if (op.kind == OpKind::ReadOnly) {
        if (mount(t->at().c_str(), t->at().c_str(), nullptr, MS_BIND | MS_REC, nullptr) != 0)
          return sys_error(step);
        return set_attr(target, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV, true,
                        step);
      }
      if (S_ISDIR(st.st_mode)) {
        if (mount("sbx-masked", t->at().c_str(), "tmpfs",
                  MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=0,mode=0555") != 0)
          return sys_error(step);
      } else if (mount("/dev/null", t->at().c_str(), nullptr, MS_BIND, nullptr) != 0) {
        return sys_error(step);
      }
      return {};
    }
  }
  return {EINVAL, "unknown op"};
}
}  // namespace

Status run_op(const Op& op, const std::string& stage, bool pid_ns_new, int tree) {
  Status s = run_op_in(op, stage, pid_ns_new, tree);
  if (s) return s;
  // Paths in messages are the sandbox's ("/data"), not the stage's ("/run/sbx/stage/data").
  std::string msg = s.error().message;
  for (size_t at; (at = msg.find(stage)) != std::string::npos;) msg.erase(at, stage.size());
  return {s.error().err, msg};
}

Result<Fd> idmapped_tree(const Op& op, int userns) {
  std::string step = describe(op) + ": idmapped mount";
  unsigned rec = op.idmap_recursive ? AT_RECURSIVE : 0;
  Fd tree(static_cast<int>(syscall(SYS_open_tree, AT_FDCWD, op.source.c_str(),
                                   OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | rec)));
  if (!tree.ok()) {
    Error e = sys_error(step + ": open_tree");
    if (e.err == EPERM)
      e.message +=
          " (needs CAP_SYS_ADMIN where sbx runs: inside a container the outer one must grant it - "
          "podman run --cap-add SYS_ADMIN, or --privileged - or run sbx there as a user; sbx "
          "doctor)";
    return e;
  }
  MountAttr a{MOUNT_ATTR_IDMAP, 0, 0, static_cast<uint64_t>(userns)};
  if (syscall(SYS_mount_setattr, tree.get(), "", AT_EMPTY_PATH | rec, &a, sizeof a) != 0) {
    Error e = sys_error(step + ": mount_setattr");
    if (e.err == EINVAL)
      e.message += " (does the file system of " + op.source + " support idmapped mounts?)";
    return e;
  }
  return tree;
}

Status finish_root(const Spec& spec, const std::string& stage) {
  if ((!spec.rootfs.empty() || !spec.layers.empty()) && spec.rootfs_readonly)
    if (auto s = set_readonly(stage, false); !s) return s.error().context("read-only root");
  return {};
}

Status switch_root(const std::string& stage) {
  if (chdir(stage.c_str()) != 0) return sys_error("chdir " + stage);
  // pivot_root(".", "."): the old root ends up under the new one and is detached at once.
  if (syscall(SYS_pivot_root, ".", ".") == 0) {
    if (umount2(".", MNT_DETACH) != 0) return sys_error("detach old root");
    if (chdir("/") != 0) return sys_error("chdir /");
    return {};
  }
  int e = errno;
  struct statfs sf;
  bool ramfs_root = statfs("/", &sf) == 0 && (sf.f_type == RAMFS_MAGIC || sf.f_type == TMPFS_MAGIC);
  if (e != EINVAL || !ramfs_root) return sys_error("pivot_root " + stage, e);
  // The initial ramfs cannot be pivoted away from: move the new root over it and chroot.
  static const char kNote[] =
      "sbx: note: / is the initial ramfs, where pivot_root cannot work; using chroot\n";
  (void)!write(2, kNote, sizeof kNote - 1);
  if (mount(".", "/", nullptr, MS_MOVE, nullptr) != 0) return sys_error("move " + stage + " on /");
  if (chroot(".") != 0) return sys_error("chroot " + stage);
  if (chdir("/") != 0) return sys_error("chdir /");
  return {};
}

}  // namespace sbx::core
