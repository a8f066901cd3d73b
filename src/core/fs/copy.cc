#include "core/fs/copy.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/fsuid.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

#include "core/base/fd.h"
#include "core/base/io.h"

namespace sbx::core {

namespace {

struct Owner {
  uid_t uid = static_cast<uid_t>(-1);
  gid_t gid = static_cast<gid_t>(-1);
  bool keep_special = false;  // setuid, setgid kept (copy in)
  bool make_as = false;       // entries made with these as fsuid/fsgid (copy in)
};

// `rel` inside the directory `root`, never leaving it
int open_in(int root, const std::string& rel, uint64_t flags) {
  struct open_how how {};
  how.flags = flags | O_CLOEXEC;
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  std::string p = rel.empty() ? "." : rel;
  return static_cast<int>(syscall(SYS_openat2, root, p.c_str(), &how, sizeof how));
}

// Made as the owner (its fsuid, fsgid): a file system of the sandbox's user namespace (its /tmp)
// refuses an owner it does not map (EOVERFLOW), as the host's root is there.
template <typename F>
auto as_owner(const Owner& own, F make) {
  if (!own.make_as) return make();
  uid_t old_uid = static_cast<uid_t>(setfsuid(own.uid));
  gid_t old_gid = static_cast<gid_t>(setfsgid(own.gid));
  auto r = make();
  int e = errno;
  setfsgid(old_gid);
  setfsuid(old_uid);
  errno = e;
  return r;
}

std::string base_name(const std::string& p) {
  std::string s = p;
  while (s.size() > 1 && s.back() == '/') s.pop_back();
  size_t slash = s.rfind('/');
  return slash == std::string::npos ? s : s.substr(slash + 1);
}

std::string parent_name(const std::string& p) {
  std::string s = p;
  while (s.size() > 1 && s.back() == '/') s.pop_back();
  size_t slash = s.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : s.substr(0, slash);
}

Status copy_data(int in, int out, const std::string& what) {
  char buf[65536];
  for (;;) {
    ssize_t n = read(in, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return sys_error("read " + what);
    if (n == 0) return {};
    if (auto s = write_all(out, std::string_view(buf, static_cast<size_t>(n)), "write " + what); !s)
      return s;
  }
}

// One entry (and what is under it): sdir/sname -> ddir/dname.
Status copy_entry(int sdir, const std::string& sname, int ddir, const std::string& dname,
                  const Owner& own, const std::string& what, CopyResult& r, int depth) {
  if (depth > 256) return Error{ELOOP, what + ": nested deeper than 256"};
  struct stat st;
  if (fstatat(sdir, sname.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return sys_error(what);
  mode_t mode = st.st_mode & (own.keep_special ? 07777 : 01777);
  if (S_ISREG(st.st_mode)) {
    // (non-blocking, and checked again once open: swapped for a fifo after the fstatat, it
    // would hang the copy)
    Fd in(openat(sdir, sname.c_str(), O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK | O_CLOEXEC));
    if (!in.ok()) return sys_error("open " + what);
    struct stat now;
    if (fstat(in.get(), &now) != 0 || !S_ISREG(now.st_mode))
      return Error{EINVAL, what + ": changed while it was copied (no longer a file)"};
    Fd out(as_owner(own, [&] {
      return openat(ddir, dname.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC,
                    0600);
    }));
    if (!out.ok())
      return errno == ELOOP ? Error{ELOOP, what + ": the destination is a symbolic link (refused)"}
                            : sys_error("create " + what);
    if (auto s = copy_data(in.get(), out.get(), what); !s) return s;
    if (own.uid != static_cast<uid_t>(-1) && fchown(out.get(), own.uid, own.gid) != 0)
      return sys_error("chown " + what);
    if (fchmod(out.get(), mode) != 0) return sys_error("chmod " + what);
    ++r.files;
    return {};
  }
  if (S_ISLNK(st.st_mode)) {
    std::vector<char> buf(static_cast<size_t>(st.st_size) + 2);
    ssize_t n = readlinkat(sdir, sname.c_str(), buf.data(), buf.size() - 1);
    if (n < 0) return sys_error("readlink " + what);
    buf[static_cast<size_t>(n)] = 0;
    auto link = [&] {
      return as_owner(own, [&] { return symlinkat(buf.data(), ddir, dname.c_str()); });
    };
    if (link() != 0) {
      if (errno != EEXIST) return sys_error("symlink " + what);
      // an existing entry of the same name: replaced only when it is a link too
      struct stat old;
      if (fstatat(ddir, dname.c_str(), &old, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISLNK(old.st_mode))
        return Error{EEXIST, what + ": exists and is not a link"};
      if (unlinkat(ddir, dname.c_str(), 0) != 0 || link() != 0) return sys_error("symlink " + what);
    }
    if (own.uid != static_cast<uid_t>(-1))
      (void)fchownat(ddir, dname.c_str(), own.uid, own.gid, AT_SYMLINK_NOFOLLOW);
    ++r.links;
    return {};
  }
  if (!S_ISDIR(st.st_mode)) {
    ++r.skipped;  // a device node, fifo or socket
    return {};
  }
  if (as_owner(own, [&] { return mkdirat(ddir, dname.c_str(), 0700); }) != 0 && errno != EEXIST)
    return sys_error("mkdir " + what);
  Fd out(openat(ddir, dname.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!out.ok())
    return errno == ELOOP || errno == ENOTDIR
               ? Error{ENOTDIR, what + ": the destination is not a directory (refused)"}
               : sys_error("open " + what);
  Fd in(openat(sdir, sname.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!in.ok()) return sys_error("open " + what);
  std::vector<std::string> names;
  {
    int listing = dup(in.get());
    DIR* d = listing >= 0 ? fdopendir(listing) : nullptr;
    if (!d) {
      if (listing >= 0) close(listing);
      return sys_error("list " + what);
    }
    while (auto* e = readdir(d))
      if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
        names.emplace_back(e->d_name);
    closedir(d);
  }
  for (const auto& n : names)
    if (auto s = copy_entry(in.get(), n, out.get(), n, own, what + "/" + n, r, depth + 1); !s)
      return s;
  if (own.uid != static_cast<uid_t>(-1) && fchown(out.get(), own.uid, own.gid) != 0)
    return sys_error("chown " + what);
  if (fchmod(out.get(), mode) != 0) return sys_error("chmod " + what);
  ++r.dirs;
  return {};
}

// (src dir fd, entry name) -> (dest dir fd, entry name), with docker cp's rule for DEST: an
// existing directory receives the source's last name.
struct Place {
  Fd dir;
  std::string name;
};

Result<Place> destination(int root, const std::string& dest, const std::string& src_name,
                          bool in_root) {
  auto open_dir = [&](const std::string& p) -> int {
    return in_root ? open_in(root, p, O_RDONLY | O_DIRECTORY)
                   : open(p.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  };
  Fd whole(open_dir(dest));
  if (whole.ok()) return Place{std::move(whole), src_name};
  if (errno != ENOENT && errno != ENOTDIR) return sys_error("open " + dest);
  Fd parent(open_dir(parent_name(dest)));
  if (!parent.ok()) return sys_error("open " + parent_name(dest));
  return Place{std::move(parent), base_name(dest)};
}

Result<std::pair<uid_t, gid_t>> sandbox_root_ids(pid_t pid) {
  auto first = [](const std::string& path) -> long long {
    std::ifstream f(path);
    long long inside, outside, count;
    while (f >> inside >> outside >> count)
      if (inside == 0) return outside;
    return -1;
  };
  std::string base = "/proc/" + std::to_string(pid);
  long long u = first(base + "/uid_map"), g = first(base + "/gid_map");
  if (u < 0 || g < 0)
    return Error{EINVAL, "sandbox " + std::to_string(pid) + ": no root in its id maps"};
  return std::make_pair(static_cast<uid_t>(u), static_cast<gid_t>(g));
}

}  // namespace

Result<CopyResult> copy_out(pid_t pid, const std::string& path, const std::string& dest) {
  std::string what = "copy " + path + " out of the sandbox";
  Fd root(
      open(("/proc/" + std::to_string(pid) + "/root").c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root.ok()) return sys_error(what + ": its root");
  Fd sparent(open_in(root.get(), parent_name(path), O_PATH | O_DIRECTORY));
  if (!sparent.ok()) return sys_error(what + ": " + parent_name(path));
  std::string sname = base_name(path);
  if (sname == "/" || sname == "." || sname == "..") sname = ".";
  auto to = destination(-1, dest, sname == "." ? base_name(dest) : sname, false);
  if (!to) return to.error().context(what);
  Owner own;  // the caller's, without setuid or setgid
  own.uid = getuid();
  own.gid = getgid();
  CopyResult r;
  if (auto s = copy_entry(sparent.get(), sname, to->dir.get(), to->name, own, path, r, 0); !s)
    return s.error().context(what);
  return r;
}

Result<CopyResult> copy_in(const std::string& src, pid_t pid, const std::string& path) {
  std::string what = "copy " + src + " into the sandbox";
  Fd sparent(open(parent_name(src).c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!sparent.ok()) return sys_error(what + ": " + parent_name(src));
  Fd root(
      open(("/proc/" + std::to_string(pid) + "/root").c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root.ok()) return sys_error(what + ": its root");
  auto to = destination(root.get(), path, base_name(src), true);
  if (!to) return to.error().context(what);
  Owner own;
  own.keep_special = own.make_as = true;
  auto ids = sandbox_root_ids(pid);
  if (!ids) return ids.error().context(what);
  own.uid = ids->first;
  own.gid = ids->second;
  CopyResult r;
  if (auto s = copy_entry(sparent.get(), base_name(src), to->dir.get(), to->name, own, src, r, 0);
      !s)
    return s.error().context(what);
  return r;
}

}  // namespace sbx::core
