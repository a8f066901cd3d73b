#include "core/fs/workspace.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <set>

#include "core/base/fd.h"

namespace sbx::core {

namespace {

std::string type_of(mode_t m) {
  if (S_ISREG(m)) return "file";
  if (S_ISDIR(m)) return "dir";
  if (S_ISLNK(m)) return "symlink";
  if (S_ISCHR(m) || S_ISBLK(m)) return "device";
  if (S_ISFIFO(m)) return "fifo";
  return "socket";
}

bool is_whiteout(const struct stat& st) {
  return S_ISCHR(st.st_mode) && st.st_rdev == 0;
}

// A path beneath `root` (a directory fd), never through a symlink, "..", or another mount's
// magic link: O_PATH unless `flags` says otherwise.
Fd open_beneath(int root, const std::string& rel, uint64_t flags) {
  struct open_how how;
  std::memset(&how, 0, sizeof how);
  how.flags = flags | O_CLOEXEC | O_NOFOLLOW;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
  return Fd(static_cast<int>(
      syscall(SYS_openat2, root, rel.empty() ? "." : rel.c_str(), &how, sizeof how)));
}

std::vector<std::string> names_in(int dirfd) {
  std::vector<std::string> out;
  int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return out;
  DIR* d = fdopendir(fd);
  if (!d) {
    close(fd);
    return out;
  }
  while (auto* e = readdir(d))
    if (std::strcmp(e->d_name, ".") && std::strcmp(e->d_name, "..")) out.emplace_back(e->d_name);
  closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

std::string link_target(int dirfd, const std::string& name) {
  char buf[4096];
  ssize_t n = readlinkat(dirfd, name.c_str(), buf, sizeof buf);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
}

bool opaque(int dirfd) {
  char v[4];
  for (const char* key : {"user.overlay.opaque", "trusted.overlay.opaque"}) {
    ssize_t n = fgetxattr(dirfd, key, v, sizeof v);
    if (n == 1 && v[0] == 'y') return true;
  }
  return false;
}

// Whether two regular files (names in two directories) hold the same bytes.
bool same_bytes(int da, const std::string& a, int db, const std::string& b, uint64_t size) {
  Fd fa(openat(da, a.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  Fd fb(openat(db, b.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (!fa.ok() || !fb.ok()) return false;
  char x[65536], y[65536];
  uint64_t left = size;
  while (left > 0) {
    size_t want = left < sizeof x ? static_cast<size_t>(left) : sizeof x;
    ssize_t n = read(fa.get(), x, want), m = read(fb.get(), y, want);
    if (n <= 0 || n != m || std::memcmp(x, y, static_cast<size_t>(n)) != 0) return false;
    left -= static_cast<uint64_t>(n);
  }
  return true;
}

void walk(int up, int low, const std::string& rel, bool hide_lower,
          std::vector<WorkspaceChange>& out) {
  auto names = names_in(up);
  std::set<std::string> in_upper(names.begin(), names.end());
  // below an opaque directory the lower's entries are hidden: those the upper lacks are gone
  if (hide_lower && low >= 0)
    for (const auto& n : names_in(low)) {
      if (in_upper.count(n)) continue;
      struct stat ls;
      if (fstatat(low, n.c_str(), &ls, AT_SYMLINK_NOFOLLOW) != 0) continue;
      WorkspaceChange c;
      c.kind = 'D';
      c.path = rel.empty() ? n : rel + "/" + n;
      c.type = type_of(ls.st_mode);
      c.old_mode = ls.st_mode & 07777;
      c.old_size = static_cast<uint64_t>(ls.st_size);
      out.push_back(std::move(c));
    }
  for (const auto& n : names) {
    std::string r = rel.empty() ? n : rel + "/" + n;
    struct stat us, ls;
    if (fstatat(up, n.c_str(), &us, AT_SYMLINK_NOFOLLOW) != 0) continue;
    bool below = low >= 0 && fstatat(low, n.c_str(), &ls, AT_SYMLINK_NOFOLLOW) == 0;
    WorkspaceChange c;
    c.path = r;
    c.type = type_of(us.st_mode);
    c.mode = us.st_mode & 07777;
    c.size = S_ISREG(us.st_mode) ? static_cast<uint64_t>(us.st_size) : 0;
    if (below) {
      c.old_mode = ls.st_mode & 07777;
      c.old_size = S_ISREG(ls.st_mode) ? static_cast<uint64_t>(ls.st_size) : 0;
    }
    if (is_whiteout(us)) {
      if (!below) continue;  // made and removed again during the run
      c.kind = 'D';
      c.type = type_of(ls.st_mode);
      c.mode = 0;
      c.size = 0;
      out.push_back(std::move(c));
      continue;
    }
    bool same_type = below && (us.st_mode & S_IFMT) == (ls.st_mode & S_IFMT);
    if (!below) {
      c.kind = 'A';
    } else if (!same_type) {
      c.kind = 'M';
      c.old_type = type_of(ls.st_mode);
    } else if (S_ISREG(us.st_mode)) {
      bool same =
          us.st_size == ls.st_size && same_bytes(up, n, low, n, static_cast<uint64_t>(us.st_size));
      c.kind = !same ? 'M' : c.mode != c.old_mode ? 'C' : 0;
    } else if (S_ISLNK(us.st_mode)) {
      c.kind = link_target(up, n) != link_target(low, n) ? 'M' : 0;
    } else if (S_ISDIR(us.st_mode)) {
      c.kind = c.mode != c.old_mode ? 'C' : 0;
    } else {
      c.kind = us.st_rdev != ls.st_rdev || c.mode != c.old_mode ? 'M' : 0;
    }
    if (S_ISLNK(us.st_mode)) c.target = link_target(up, n);
    if (c.kind) out.push_back(c);
    if (S_ISDIR(us.st_mode)) {
      Fd sub(openat(up, n.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (!sub.ok()) continue;
      Fd lsub;
      if (same_type)
        lsub.reset(openat(low, n.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      walk(sub.get(), lsub.get(), r, hide_lower || opaque(sub.get()), out);
    }
  }
}

std::string parent_of(const std::string& rel) {
  size_t s = rel.rfind('/');
  return s == std::string::npos ? "" : rel.substr(0, s);
}
std::string base_of(const std::string& rel) {
  size_t s = rel.rfind('/');
  return s == std::string::npos ? rel : rel.substr(s + 1);
}

// Removes `name` in `dirfd` and, for a directory, everything in it; nothing is followed.
Status remove_at(int dirfd, const std::string& name, const std::string& what) {
  struct stat st;
  if (fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0)
    return errno == ENOENT ? Status{} : sys_error("remove " + what);
  if (S_ISDIR(st.st_mode)) {
    Fd d(openat(dirfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!d.ok()) return sys_error("remove " + what);
    for (const auto& n : names_in(d.get()))
      if (auto s = remove_at(d.get(), n, what + "/" + n); !s) return s;
    if (unlinkat(dirfd, name.c_str(), AT_REMOVEDIR) != 0) return sys_error("remove " + what);
    return {};
  }
  if (unlinkat(dirfd, name.c_str(), 0) != 0) return sys_error("remove " + what);
  return {};
}

std::string temp_name() {
  unsigned char r[6] = {};
  (void)!getrandom(r, sizeof r, 0);
  static const char hex[] = "0123456789abcdef";
  std::string s = ".sbx-promote-";
  for (unsigned char c : r) {
    s += hex[c >> 4];
    s += hex[c & 15];
  }
  return s;
}

Status copy_fd(int from, int to, const std::string& what) {
  char buf[65536];
  for (;;) {
    ssize_t n = read(from, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return sys_error("read " + what + " in the workspace");
    if (n == 0) return {};
    for (ssize_t off = 0; off < n;) {
      ssize_t w = write(to, buf + off, static_cast<size_t>(n - off));
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) return sys_error("write " + what);
      off += w;
    }
  }
}

// Makes the entry `c` describes (from `up`, the upper's root fd) as `tmp` in `pfd`, owned by
// uid:gid; setuid and setgid dropped. Directories are made in place (named `name`).
Status make_entry(int up, int pfd, const WorkspaceChange& c, const std::string& tmp, uid_t uid,
                  gid_t gid) {
  const mode_t mode = c.mode & 01777;
  if (c.type == "file") {
    Fd src = open_beneath(up, c.path, O_RDONLY);
    if (!src.ok()) return sys_error("open " + c.path + " in the workspace");
    Fd dst(openat(pfd, tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!dst.ok()) return sys_error("create a file beside " + c.path);
    if (auto s = copy_fd(src.get(), dst.get(), c.path); !s) return s;
    if (fchown(dst.get(), uid, gid) != 0 && errno != EPERM) return sys_error("chown " + c.path);
    if (fchmod(dst.get(), mode) != 0) return sys_error("chmod " + c.path);
    return {};
  }
  if (c.type == "symlink") {
    std::string link;
    {
      Fd parent = open_beneath(up, parent_of(c.path), O_PATH | O_DIRECTORY);
      if (!parent.ok()) return sys_error("open " + c.path + " in the workspace");
      link = link_target(parent.get(), base_of(c.path));
    }
    if (link.empty()) return Error{EIO, "read the symlink " + c.path + " in the workspace"};
    if (symlinkat(link.c_str(), pfd, tmp.c_str()) != 0) return sys_error("symlink " + c.path);
    (void)fchownat(pfd, tmp.c_str(), uid, gid, AT_SYMLINK_NOFOLLOW);
    return {};
  }
  if (c.type == "dir") {
    if (mkdirat(pfd, tmp.c_str(), 0700) != 0) return sys_error("mkdir " + c.path);
    Fd d(openat(pfd, tmp.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!d.ok()) return sys_error("open " + c.path);
    if (fchown(d.get(), uid, gid) != 0 && errno != EPERM) return sys_error("chown " + c.path);
    if (fchmod(d.get(), mode) != 0) return sys_error("chmod " + c.path);
    return {};
  }
  return Error{EPERM, c.path + ": a " + c.type + " is not promoted"};
}

// The host directory a change lands in, made (with the upper's modes, owned like the workspace's
// root) where the run added it and it is not there yet.
Result<Fd> host_parent(int host, int up, const std::string& rel, bool create) {
  Fd p = open_beneath(host, rel, O_PATH | O_DIRECTORY);
  if (p.ok() || rel.empty() || errno != ENOENT || !create) {
    if (!p.ok())
      return sys_error("open " + (rel.empty() ? std::string(".") : rel) +
                       " on the host (a symlink or a file on the way is never followed)");
    return p;
  }
  auto above = host_parent(host, up, parent_of(rel), true);
  if (!above) return above.error();
  struct stat us, hs;
  Fd in_upper = open_beneath(up, rel, O_PATH | O_DIRECTORY);
  mode_t mode = in_upper.ok() && fstat(in_upper.get(), &us) == 0 ? us.st_mode & 01777 : 0755;
  if (mkdirat(above->get(), base_of(rel).c_str(), 0700) != 0 && errno != EEXIST)
    return sys_error("mkdir " + rel + " on the host");
  Fd d(openat(above->get(), base_of(rel).c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!d.ok()) return sys_error("open " + rel + " on the host");
  if (fstat(above->get(), &hs) == 0) (void)!fchown(d.get(), hs.st_uid, hs.st_gid);
  (void)fchmod(d.get(), mode);
  return open_beneath(host, rel, O_PATH | O_DIRECTORY);
}

int64_t ctime_ns(const struct stat& st) {
  return static_cast<int64_t>(st.st_ctim.tv_sec) * 1000000000 + st.st_ctim.tv_nsec;
}

}  // namespace

int64_t coarse_now_ns() {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME_COARSE, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

int64_t workspace_start_mark() {
  return coarse_now_ns();
}

void wait_past_tick(int64_t mark) {
  // Files written in this tick of the coarse clock (ctimes come from it) share its value: once it
  // has moved on, every later change has a ctime past the mark.
  struct timespec nap = {0, 200000};
  for (int i = 0; i < 500 && coarse_now_ns() == mark; ++i) nanosleep(&nap, nullptr);
}

Result<std::vector<WorkspaceChange>> workspace_changes(const std::string& upper,
                                                       const std::string& lower) {
  Fd up(open(upper.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!up.ok()) return sys_error("workspace: open its upper directory " + upper);
  Fd low(open(lower.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!low.ok()) return sys_error("workspace: open the host directory " + lower);
  std::vector<WorkspaceChange> out;
  walk(up.get(), low.get(), "", opaque(up.get()), out);
  std::sort(out.begin(), out.end(),
            [](const WorkspaceChange& a, const WorkspaceChange& b) { return a.path < b.path; });
  return out;
}

Result<std::vector<PromoteOutcome>> promote_changes(const std::string& upper,
                                                    const std::string& host,
                                                    const std::vector<WorkspaceChange>& chosen,
                                                    int64_t started_ns) {
  Fd up(open(upper.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!up.ok()) return sys_error("promote: open the workspace's upper directory " + upper);
  Fd root(open(host.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!root.ok()) return sys_error("promote: open the host directory " + host);
  std::vector<WorkspaceChange> todo = chosen;
  std::sort(todo.begin(), todo.end(),
            [](const WorkspaceChange& a, const WorkspaceChange& b) { return a.path < b.path; });
  // Everything is checked before anything is written.
  std::vector<std::string> refused;
  for (const auto& c : todo) {
    if (c.path.empty() || c.path[0] == '/' || c.path.find("..") != std::string::npos) {
      refused.push_back(c.path + ": not a path in the workspace");
      continue;
    }
    if (c.kind != 'D' && c.type != "file" && c.type != "dir" && c.type != "symlink") {
      refused.push_back(c.path + ": a " + c.type + " is never promoted");
      continue;
    }
    Fd p = open_beneath(root.get(), parent_of(c.path), O_PATH | O_DIRECTORY);
    if (!p.ok()) {
      // a parent the run added is made on the way; anything else on the way is refused
      if (errno == ENOENT && c.kind == 'A') continue;
      refused.push_back(
          c.path + ": " + std::strerror(errno) +
          " on the way to it on the host (a symlink or a file there is never followed)");
      continue;
    }
    struct stat hs;
    bool there = fstatat(p.get(), base_of(c.path).c_str(), &hs, AT_SYMLINK_NOFOLLOW) == 0;
    if (c.kind == 'A' && there)
      refused.push_back(c.path + ": made on the host since the run started");
    else if (c.kind != 'A' && !there)
      refused.push_back(c.path + ": removed from the host since the run started");
    else if (c.kind != 'A' && ctime_ns(hs) > started_ns)
      refused.push_back(c.path + ": changed on the host since the run started");
  }
  if (!refused.empty()) {
    std::string msg = "promote: nothing applied: ";
    for (size_t i = 0; i < refused.size(); ++i) msg += (i ? "; " : "") + refused[i];
    return Error{EEXIST, msg + " (sbx diff shows the changes; promote the others by path)"};
  }
  std::vector<PromoteOutcome> out;
  for (const auto& c : todo) {
    PromoteOutcome o{c.path, false, ""};
    auto p = host_parent(root.get(), up.get(), parent_of(c.path), c.kind != 'D');
    Status s = p ? Status{} : Status(p.error());
    std::string name = base_of(c.path);
    struct stat hs, ps;
    bool there = s && fstatat(p->get(), name.c_str(), &hs, AT_SYMLINK_NOFOLLOW) == 0;
    if (s && c.kind == 'D') {
      s = remove_at(p->get(), name, c.path);
    } else if (s && c.kind == 'C') {
      if (c.type != "symlink") {
        Fd f(openat(
            p->get(), name.c_str(),
            O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | (c.type == "dir" ? O_DIRECTORY : 0)));
        if (!f.ok() || fchmod(f.get(), c.mode & 01777) != 0) s = sys_error("chmod " + c.path);
      }
    } else if (s) {
      // new: owned like the directory it lands in; replaced: like what it replaces
      uid_t uid = 0;
      gid_t gid = 0;
      if (there) {
        uid = hs.st_uid;
        gid = hs.st_gid;
      } else if (fstat(p->get(), &ps) == 0) {
        uid = ps.st_uid;
        gid = ps.st_gid;
      }
      bool replace_dir = there && S_ISDIR(hs.st_mode);
      if (c.type == "dir" && there && !replace_dir) s = remove_at(p->get(), name, c.path);
      if (s && c.type == "dir" && !replace_dir) {
        s = make_entry(up.get(), p->get(), c, name, uid, gid);
      } else if (s && c.type == "dir") {
        Fd f(openat(p->get(), name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (!f.ok() || fchmod(f.get(), c.mode & 01777) != 0) s = sys_error("chmod " + c.path);
      } else if (s) {
        std::string tmp = temp_name();
        s = make_entry(up.get(), p->get(), c, tmp, uid, gid);
        if (s && replace_dir) s = remove_at(p->get(), name, c.path);
        if (s && renameat(p->get(), tmp.c_str(), p->get(), name.c_str()) != 0)
          s = sys_error("rename into " + c.path);
        if (!s) (void)unlinkat(p->get(), tmp.c_str(), 0);
      }
    }
    o.applied = static_cast<bool>(s);
    if (!s) o.why = s.error().message;
    out.push_back(std::move(o));
  }
  return out;
}

}  // namespace sbx::core
