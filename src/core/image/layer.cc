#include "core/image/layer.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <memory>
#include <vector>

#include "core/base/fd.h"
#include "core/base/handle.h"
#include "core/base/progress.h"
#include "core/image/archive.h"

namespace sbx::core {

namespace {

// libarchive's message for the last error, or a generic one (it can be NULL: a corrupt header).
std::string archive_error(const ArchiveApi* a, struct archive* ar) {
  const char* m = a->archive_error_string(ar);
  return m ? m : "unrecognised or corrupt data";
}

constexpr const char* kOpaqueXattr = "user.overlay.opaque";
constexpr const char* kOpaqueXattrTrusted = "trusted.overlay.opaque";

std::vector<std::string> split(const std::string& p) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i <= p.size()) {
    size_t j = p.find('/', i);
    if (j == std::string::npos) j = p.size();
    if (j > i) out.push_back(p.substr(i, j - i));
    i = j + 1;
  }
  return out;
}

// Opens (creating missing directories) the parent of `rel` under `root`, never following a
// symlink: O_NOFOLLOW on every component.
Result<Fd> open_parent(int root, const std::string& rel, std::string& leaf, bool create,
                       uint32_t shift = 0) {
  auto parts = split(rel);
  if (parts.empty()) return Error{EINVAL, "empty path"};
  leaf = parts.back();
  parts.pop_back();
  Fd cur(fcntl(root, F_DUPFD_CLOEXEC, 3));
  for (const auto& c : parts) {
    int fd = openat(cur.get(), c.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT && create) {
      if (mkdirat(cur.get(), c.c_str(), 0755) != 0 && errno != EEXIST)
        return sys_error("mkdir " + c);
      // a directory the archive only implies belongs to root inside
      if (geteuid() == 0) (void)fchownat(cur.get(), c.c_str(), shift, shift, AT_SYMLINK_NOFOLLOW);
      fd = openat(cur.get(), c.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    }
    if (fd < 0) {
      if (errno == ELOOP || errno == ENOTDIR)
        return Error{ELOOP, "a parent directory is a symbolic link or a file"};
      return sys_error("open " + c);
    }
    cur.reset(fd);
  }
  return cur;
}

struct ReadArchive {
  const ArchiveApi* a;
  struct archive* ar;
  ~ReadArchive() {
    if (ar) a->archive_read_free(ar);
  }
};

Status spool_uncompressed(const ArchiveApi* a, int fd, const std::string& spool, LayerInfo& info,
                          const std::string& what) {
  ReadArchive r{a, a->archive_read_new()};
  a->archive_read_support_filter_all(r.ar);
  a->archive_read_support_format_raw(r.ar);
  if (a->archive_read_open_fd(r.ar, fd, 1 << 16) != ARCHIVE_OK)
    return Error{EINVAL, what + ": cannot read: " + archive_error(a, r.ar)};
  struct archive_entry* e;
  if (a->archive_read_next_header(r.ar, &e) != ARCHIVE_OK)
    return Error{EINVAL, what + ": empty or unreadable: " + archive_error(a, r.ar)};
  Fd out(open(spool.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (!out.ok()) return sys_error(what + ": spool " + spool);
  Sha256 h;
  if (!h.ok())
    return Error{ENOSYS, what + ": sha256: cannot load libcrypto.so.3 (apt-get install libssl3)"};
  Progress progress(what);
  char buf[1 << 16];
  la_ssize_t n;
  while ((n = a->archive_read_data(r.ar, buf, sizeof buf)) > 0) {
    progress.add(static_cast<uint64_t>(n));
    h.update(buf, static_cast<size_t>(n));
    info.tar_size += static_cast<uint64_t>(n);
    if (write(out.get(), buf, static_cast<size_t>(n)) != n)
      return sys_error(what + ": write spool");
  }
  if (n < 0) return Error{EINVAL, what + ": truncated or corrupt: " + archive_error(a, r.ar)};
  info.diff_id = "sha256:" + h.hex();
  return {};
}

Status write_entry_data(const ArchiveApi* a, struct archive* ar, int fd, const std::string& what) {
  char buf[1 << 16];
  la_ssize_t n;
  while ((n = a->archive_read_data(ar, buf, sizeof buf)) > 0) {
    // a full disk shows first as a short write (errno untouched), then as -1 ENOSPC
    for (la_ssize_t done = 0; done < n;) {
      ssize_t w = write(fd, buf + done, static_cast<size_t>(n - done));
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) return sys_error(what + ": write");
      if (w == 0) return sys_error(what + ": write", ENOSPC);
      done += w;
    }
  }
  if (n < 0) return Error{EINVAL, what + ": truncated or corrupt: " + archive_error(a, ar)};
  return {};
}

// libarchive pulls the tar through this: every byte it reads is hashed once (when hashing).
struct Source {
  int fd;
  Sha256* hash;
  Progress* progress = nullptr;
  uint64_t bytes = 0;
  char buf[1 << 17];
};

la_ssize_t source_read(struct archive*, void* data, const void** out) {
  auto* s = static_cast<Source*>(data);
  ssize_t n;
  do n = read(s->fd, s->buf, sizeof s->buf);
  while (n < 0 && errno == EINTR);
  if (n > 0) {
    if (s->hash) s->hash->update(s->buf, static_cast<size_t>(n));
    s->bytes += static_cast<uint64_t>(n);
    if (s->progress) s->progress->add(static_cast<uint64_t>(n));
  }
  *out = s->buf;
  return n;
}

Status extract(const ArchiveApi* a, int in_fd, Sha256* hash, int root, const std::string& what,
               LayerInfo& info, uint32_t shift) {
  Progress progress(what);
  auto src = std::make_unique<Source>();
  src->fd = in_fd;
  src->hash = hash;
  src->progress = &progress;
  ReadArchive r{a, a->archive_read_new()};
  a->archive_read_support_format_tar(r.ar);
  if (a->archive_read_open(r.ar, src.get(), nullptr, source_read, nullptr) != ARCHIVE_OK)
    return Error{EINVAL, what + ": not a tar archive: " + archive_error(a, r.ar)};
  const bool as_root = geteuid() == 0;
  std::set<std::string> seen;
  struct archive_entry* e;
  int rc;
  while ((rc = a->archive_read_next_header(r.ar, &e)) == ARCHIVE_OK || rc == ARCHIVE_WARN) {
    const char* raw = a->archive_entry_pathname(e);
    std::string name = raw ? raw : "";
    std::string where = what + ": entry '" + name + "'";
    if (auto why = check_entry_path(name); !why.empty()) return Error{EPERM, where + ": " + why};
    std::string rel = normalize_entry_path(name);
    if (rel.empty()) continue;  // "./" itself
    if (!seen.insert(rel).second) return Error{EEXIST, where + ": appears twice in the layer"};
    ++info.entries;
    mode_t type = a->archive_entry_filetype(e);
    mode_t perm = a->archive_entry_perm(e);
    if ((perm & (S_ISUID | S_ISGID)) && !as_root)
      return Error{EPERM, where + ": setuid/setgid bits refused when importing without root"};
    std::string leaf;
    auto parent = open_parent(root, rel, leaf, true, shift);
    if (!parent) return parent.error().context(where);
    int pfd = parent->get();
    // OCI whiteouts become what overlayfs understands.
    if (leaf == ".wh..wh..opq") {
      std::string dir = rel.substr(0, rel.size() - leaf.size());
      Fd d(dir.empty() ? fcntl(root, F_DUPFD_CLOEXEC, 3) : fcntl(pfd, F_DUPFD_CLOEXEC, 3));
      if (fsetxattr(d.get(), kOpaqueXattr, "y", 1, 0) != 0)
        return sys_error(where + ": mark opaque");
      if (as_root) (void)fsetxattr(d.get(), kOpaqueXattrTrusted, "y", 1, 0);
      continue;
    }
    if (leaf.rfind(".wh.", 0) == 0) {
      std::string hidden = leaf.substr(4);
      if (hidden.empty()) return Error{EPERM, where + ": empty whiteout name"};
      if (mknodat(pfd, hidden.c_str(), S_IFCHR | 0, makedev(0, 0)) != 0)
        return sys_error(where + ": whiteout for " + hidden +
                         (errno == EPERM ? " (needs root: CAP_MKNOD)" : ""));
      if (as_root) (void)fchownat(pfd, hidden.c_str(), shift, shift, AT_SYMLINK_NOFOLLOW);
      continue;
    }
    int r2 = 0;
    if (const char* hl = a->archive_entry_hardlink(e); hl && *hl) {
      if (auto why = check_entry_path(hl); !why.empty())
        return Error{EPERM, where + ": hard link target " + why};
      std::string tleaf;
      auto tparent = open_parent(root, normalize_entry_path(hl), tleaf, false);
      if (!tparent)
        return Error{EPERM,
                     where + ": hard link to '" + hl + "' outside the layer or not yet in it"};
      if (linkat(tparent->get(), tleaf.c_str(), pfd, leaf.c_str(), 0) != 0)
        return sys_error(where + ": hard link to " + std::string(hl));
      continue;
    }
    switch (type) {
      case AE_IFDIR:
        r2 = mkdirat(pfd, leaf.c_str(), 0700);
        if (r2 != 0 && errno == EEXIST) {
          struct stat st;
          if (fstatat(pfd, leaf.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode))
            r2 = 0;
        }
        break;
      case AE_IFREG: {
        Fd f(openat(pfd, leaf.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
        if (!f.ok()) return sys_error(where);
        if (auto s = write_entry_data(a, r.ar, f.get(), where); !s) return s;
        break;
      }
      case AE_IFLNK: {
        const char* target = a->archive_entry_symlink(e);
        std::string t = target ? target : "";
        if (t.empty()) return Error{EPERM, where + ": symbolic link without a target"};
        if (symlink_escapes(rel, t))
          return Error{EPERM, where + ": symbolic link to '" + t + "' points outside the layer"};
        r2 = symlinkat(t.c_str(), pfd, leaf.c_str());
        break;
      }
      case AE_IFIFO:
        r2 = mkfifoat(pfd, leaf.c_str(), 0600);
        break;
      case AE_IFCHR:
      case AE_IFBLK:
        return Error{EPERM, where + ": device node refused"};
      default:
        return Error{EPERM, where + ": unsupported entry type"};
    }
    if (r2 != 0) return sys_error(where);
    if (as_root)
      (void)fchownat(pfd, leaf.c_str(), static_cast<uid_t>(a->archive_entry_uid(e) + shift),
                     static_cast<gid_t>(a->archive_entry_gid(e) + shift), AT_SYMLINK_NOFOLLOW);
    if (type != AE_IFLNK && fchmodat(pfd, leaf.c_str(), perm, 0) != 0)
      return sys_error(where + ": chmod");
    struct timespec ts[2] = {{a->archive_entry_mtime(e), 0}, {a->archive_entry_mtime(e), 0}};
    (void)utimensat(pfd, leaf.c_str(), ts, AT_SYMLINK_NOFOLLOW);
  }
  if (rc != ARCHIVE_EOF)
    return Error{EINVAL, what + ": truncated or corrupt: " + archive_error(a, r.ar)};
  if (hash) {  // the digest covers the whole stream, padding after the end marker too
    const void* ignored;
    while (source_read(nullptr, src.get(), &ignored) > 0) {
    }
    info.tar_size = src->bytes;
  }
  return {};
}

// gzip, bzip2, xz, zstd, lz4 by their magic numbers: anything else is read as a plain tar.
bool compressed(int fd) {
  unsigned char m[6] = {0};
  off_t at = lseek(fd, 0, SEEK_CUR);
  if (at < 0 || pread(fd, m, sizeof m, at) < 4) return true;  // a pipe: let libarchive decide
  return (m[0] == 0x1f && m[1] == 0x8b) || (m[0] == 'B' && m[1] == 'Z' && m[2] == 'h') ||
         (m[0] == 0xfd && m[1] == '7' && m[2] == 'z' && m[3] == 'X') ||
         (m[0] == 0x28 && m[1] == 0xb5 && m[2] == 0x2f && m[3] == 0xfd) ||
         (m[0] == 0x04 && m[1] == 0x22 && m[2] == 0x4d && m[3] == 0x18);
}

}  // namespace

std::string check_entry_path(const std::string& name) {
  if (name.empty()) return "empty name";
  if (name[0] == '/') return "absolute path";
  for (const auto& c : split(name))
    if (c == "..") return "path escapes the layer ('..')";
  return "";
}

std::string normalize_entry_path(const std::string& name) {
  std::string out;
  for (const auto& c : split(name)) {
    if (c == ".") continue;
    if (!out.empty()) out += '/';
    out += c;
  }
  return out;
}

bool symlink_escapes(const std::string& link_path, const std::string& target) {
  if (!target.empty() && target[0] == '/') return false;  // resolved inside the container's root
  auto parts = split(link_path);
  int depth = static_cast<int>(parts.size()) - 1;  // the directory holding the link
  for (const auto& c : split(target)) {
    if (c == ".") continue;
    depth += c == ".." ? -1 : 1;
    if (depth < 0) return true;
  }
  return false;
}

Result<LayerInfo> import_layer(int fd, const std::string& dest, const std::string& spool,
                               const std::string& what, uint32_t id_shift) {
  auto api = archive_api();
  if (!api) return api.error();
  LayerInfo info;
  struct Cleanup {
    std::string spool, dest;
    bool keep = false;
    ~Cleanup() {
      unlink(spool.c_str());
      std::error_code ec;
      if (!keep) std::filesystem::remove_all(dest, ec);
    }
  } cleanup{spool, dest};
  // A plain tar is hashed while it is extracted (one pass); a compressed one is first
  // decompressed to a spool file whose bytes give the digest.
  Fd in;
  Sha256 hash;
  bool one_pass = !compressed(fd);
  if (one_pass) {
    if (!hash.ok())
      return Error{ENOSYS, what + ": sha256: cannot load libcrypto.so.3 (apt-get install libssl3)"};
  } else {
    if (auto s = spool_uncompressed(*api, fd, spool, info, what); !s) return s.error();
    in.reset(open(spool.c_str(), O_RDONLY | O_CLOEXEC));
    if (!in.ok()) return sys_error(what + ": open spool");
  }
  if (mkdir(dest.c_str(), 0755) != 0) return sys_error(what + ": create " + dest);
  Fd root(open(dest.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!root.ok()) return sys_error(what + ": open " + dest);
  if (auto s = extract(*api, one_pass ? fd : in.get(), one_pass ? &hash : nullptr, root.get(), what,
                       info, id_shift);
      !s)
    return s.error();
  if (one_pass) info.diff_id = "sha256:" + hash.hex();
  if (geteuid() == 0 && id_shift) (void)fchown(root.get(), id_shift, id_shift);
  cleanup.keep = true;
  return info;
}

namespace {

struct Writer {
  const ArchiveApi* a;
  struct archive* ar;
  Sha256 hash;
  int out;
  LayerInfo info;
  uint32_t shift;
  int mirror = -1;  // the copy's root directory, or -1
  Progress* progress = nullptr;
};

la_ssize_t write_cb(struct archive*, void* data, const void* buf, size_t n) {
  auto* w = static_cast<Writer*>(data);
  w->hash.update(buf, n);
  w->info.tar_size += n;
  if (w->progress) w->progress->add(n);
  size_t off = 0;
  while (w->out >= 0 && off < n) {
    ssize_t k = write(w->out, static_cast<const char*>(buf) + off, n - off);
    if (k < 0) return -1;
    off += static_cast<size_t>(k);
  }
  return static_cast<la_ssize_t>(n);
}

Status add_entry(Writer& w, const std::string& rel, const struct stat& st, const std::string& full,
                 const std::string& link_target, mode_t type_override = 0) {
  const ArchiveApi* a = w.a;
  struct archive_entry* e = a->archive_entry_new();
  a->archive_entry_set_pathname(e, rel.c_str());
  a->archive_entry_set_filetype(e, type_override ? type_override : (st.st_mode & S_IFMT));
  a->archive_entry_set_perm(e, st.st_mode & 07777);
  a->archive_entry_set_uid(e, w.shift && st.st_uid >= w.shift ? st.st_uid - w.shift : st.st_uid);
  a->archive_entry_set_gid(e, w.shift && st.st_gid >= w.shift ? st.st_gid - w.shift : st.st_gid);
  a->archive_entry_set_mtime(e, st.st_mtim.tv_sec, 0);
  bool regular = S_ISREG(st.st_mode) && !type_override;
  a->archive_entry_set_size(e, regular ? st.st_size : 0);
  if (S_ISLNK(st.st_mode)) a->archive_entry_set_symlink(e, link_target.c_str());
  int rc = a->archive_write_header(w.ar, e);
  a->archive_entry_free(e);
  if (rc != ARCHIVE_OK) return Error{EIO, "write " + rel + ": " + archive_error(a, w.ar)};
  if (regular) {
    Fd f(open(full.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    if (!f.ok()) return sys_error("read " + full);
    Fd copy;
    if (w.mirror >= 0) {
      copy.reset(openat(w.mirror, rel.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                        0600));
      if (!copy.ok()) return sys_error("copy " + rel);
    }
    char buf[1 << 17];
    ssize_t n;
    while ((n = read(f.get(), buf, sizeof buf)) > 0) {
      if (a->archive_write_data(w.ar, buf, static_cast<size_t>(n)) < 0)
        return Error{EIO, "write " + rel + ": " + archive_error(a, w.ar)};
      if (copy.ok() && write(copy.get(), buf, static_cast<size_t>(n)) != n)
        return sys_error("copy " + rel);
    }
  }
  return {};
}

// The same entry in the mirror tree (the overlay form: whiteouts stay 0:0 devices).
Status mirror_entry(const Writer& w, const std::string& rel, const struct stat& st,
                    const std::string& target) {
  if (w.mirror < 0) return {};
  int r = 0;
  if (S_ISDIR(st.st_mode))
    r = mkdirat(w.mirror, rel.c_str(), 0700);
  else if (S_ISLNK(st.st_mode))
    r = symlinkat(target.c_str(), w.mirror, rel.c_str());
  else if (S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0))
    r = mknodat(w.mirror, rel.c_str(), S_IFCHR, st.st_rdev);
  else if (S_ISFIFO(st.st_mode))
    r = mkfifoat(w.mirror, rel.c_str(), 0600);
  if (r != 0) return sys_error("copy " + rel);
  return {};
}

Status mirror_attrs(const Writer& w, const std::string& rel, const struct stat& st, bool opaque) {
  if (w.mirror < 0) return {};
  if (geteuid() == 0)
    (void)fchownat(w.mirror, rel.c_str(), st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW);
  if (!S_ISLNK(st.st_mode) && fchmodat(w.mirror, rel.c_str(), st.st_mode & 07777, 0) != 0)
    return sys_error("copy " + rel + ": chmod");
  if (opaque) {
    Fd d(openat(w.mirror, rel.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!d.ok() || fsetxattr(d.get(), kOpaqueXattr, "y", 1, 0) != 0)
      return sys_error("copy " + rel + ": opaque");
    if (geteuid() == 0) (void)fsetxattr(d.get(), kOpaqueXattrTrusted, "y", 1, 0);
  }
  struct timespec ts[2] = {st.st_atim, st.st_mtim};
  (void)utimensat(w.mirror, rel.c_str(), ts, AT_SYMLINK_NOFOLLOW);
  return {};
}

bool is_opaque(const std::string& path) {
  char v[4];
  ssize_t n = lgetxattr(path.c_str(), kOpaqueXattr, v, sizeof v);
  if (n <= 0) n = lgetxattr(path.c_str(), kOpaqueXattrTrusted, v, sizeof v);
  return n == 1 && v[0] == 'y';
}

Status walk(Writer& w, const std::string& base, const std::string& rel,
            const std::set<std::string>& exclude) {
  std::string dir = rel.empty() ? base : base + "/" + rel;
  std::vector<std::string> names;
  if (Dir d{opendir(dir.c_str())}) {
    while (auto* ent = readdir(d.get()))
      if (std::strcmp(ent->d_name, ".") && std::strcmp(ent->d_name, ".."))
        names.emplace_back(ent->d_name);
  } else {
    return sys_error("read directory " + dir);
  }
  std::sort(names.begin(), names.end());  // the same tree gives the same tar, the same digest
  for (const auto& n : names) {
    std::string r = rel.empty() ? n : rel + "/" + n;
    if (exclude.count(r)) continue;
    std::string full = base + "/" + r;
    struct stat st;
    if (lstat(full.c_str(), &st) != 0) return sys_error("stat " + full);
    if (S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0)) {
      std::string wh = (rel.empty() ? "" : rel + "/") + ".wh." + n;
      struct stat empty = st;
      empty.st_mode = S_IFREG | 0644;
      if (auto s = add_entry(w, wh, empty, full, "", AE_IFREG); !s) return s;
      if (auto s = mirror_entry(w, r, st, ""); !s) return s;
      if (auto s = mirror_attrs(w, r, st, false); !s) return s;
      continue;
    }
    std::string target;
    if (S_ISLNK(st.st_mode)) {
      char buf[4096];
      ssize_t k = readlink(full.c_str(), buf, sizeof buf);
      if (k < 0) return sys_error("readlink " + full);
      target.assign(buf, static_cast<size_t>(k));
    }
    if (S_ISSOCK(st.st_mode)) continue;  // sockets do not belong in images
    if (auto s = mirror_entry(w, r, st, target); !s) return s;
    if (auto s = add_entry(w, r, st, full, target); !s) return s;
    if (S_ISDIR(st.st_mode)) {
      bool opaque = is_opaque(full);
      if (opaque) {
        struct stat empty = st;
        empty.st_mode = S_IFREG | 0644;
        if (auto s = add_entry(w, r + "/.wh..wh..opq", empty, full, "", AE_IFREG); !s) return s;
      }
      if (auto s = walk(w, base, r, exclude); !s) return s;
      if (auto s = mirror_attrs(w, r, st, opaque); !s)
        return s;  // after the children: keeps the mtime
    } else {
      if (auto s = mirror_attrs(w, r, st, false); !s) return s;
    }
  }
  return {};
}

}  // namespace

Result<LayerInfo> export_layer(const std::string& dir, int out_fd,
                               const std::set<std::string>& exclude, uint32_t id_shift,
                               const std::string& mirror) {
  auto api = archive_api();
  if (!api) return api.error();
  Fd mirror_fd;
  if (!mirror.empty()) {
    if (mkdir(mirror.c_str(), 0755) != 0) return sys_error("create " + mirror);
    mirror_fd.reset(open(mirror.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!mirror_fd.ok()) return sys_error("open " + mirror);
    if (geteuid() == 0 && id_shift) (void)fchown(mirror_fd.get(), id_shift, id_shift);
  }
  Progress progress(mirror.empty() ? "export " + dir : "commit " + dir);
  Writer w{*api, (*api)->archive_write_new(), {}, out_fd, {}, id_shift, mirror_fd.get(), &progress};
  if (!w.hash.ok()) {
    w.a->archive_write_free(w.ar);
    return Error{ENOSYS, "sha256: cannot load libcrypto.so.3 (apt-get install libssl3)"};
  }
  w.a->archive_write_set_format_pax_restricted(w.ar);
  w.a->archive_write_set_bytes_in_last_block(w.ar, 1);
  Status s;
  if (w.a->archive_write_open(w.ar, &w, nullptr, write_cb, nullptr) != ARCHIVE_OK)
    s = Error{EIO, std::string("write layer: ") + archive_error(w.a, w.ar)};
  else
    s = walk(w, dir, "", exclude);
  w.a->archive_write_close(w.ar);
  w.a->archive_write_free(w.ar);
  if (!s) return s.error();
  w.info.diff_id = "sha256:" + w.hash.hex();
  return w.info;
}

}  // namespace sbx::core
