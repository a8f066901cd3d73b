#include "core/base/trust.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>

#include "core/fs/mount.h"

namespace sbx::core {

namespace {

std::string octal(unsigned mode) {
  char buf[8];
  snprintf(buf, sizeof buf, "%04o", mode & 07777);
  return buf;
}

}  // namespace

Result<Fd> trusted_dir(const std::string& path, unsigned mode, const std::string& what) {
  std::string step = what + " " + path;
  if (path.empty() || path[0] != '/') return user_error(step + ": not an absolute path");
  if (auto s = make_dirs(parent_of(path), 0755); !s) return s.error().context(step);
  bool made = mkdir(path.c_str(), mode) == 0;
  if (!made && errno != EEXIST) return sys_error("create " + step);
  Fd fd(open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd.ok()) {
    if (errno == ELOOP || errno == ENOTDIR)
      return Error{
          EPERM,
          step +
              ": is a symlink or not a directory; sbx keeps its files only in a directory of "
              "its own: remove it (rm " +
              path + ") and run again"};
    return sys_error("open " + step);
  }
  struct stat st;
  if (fstat(fd.get(), &st) != 0) return sys_error("stat " + step);
  if (made && fchmod(fd.get(), mode) != 0)
    return sys_error("chmod " + step);  // the umask may have cut it
  uid_t me = geteuid();
  if (st.st_uid != me)
    return Error{
        EPERM,
        step + ": owned by uid " + std::to_string(st.st_uid) + ", not by you (uid " +
            std::to_string(me) +
            "): another user may have made it to plant files there; remove it (rm -rf " + path +
            ")" +
            (what == "runtime directory" ? " or set XDG_RUNTIME_DIR to a directory of yours" : "")};
  if (!made && (st.st_mode & 022))
    return Error{EPERM, step + ": mode " + octal(st.st_mode) +
                            " lets other users write into it, so its contents "
                            "cannot be trusted; remove it (rm -rf " +
                            path + ") and run again"};
  return fd;
}

Result<Fd> open_trusted_file(const std::string& path) {
  Fd fd(open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK));
  if (!fd.ok()) return sys_error("open " + path);
  struct stat st;
  if (fstat(fd.get(), &st) != 0) return sys_error("stat " + path);
  if (!S_ISREG(st.st_mode)) return Error{EPERM, path + ": not a regular file"};
  if (st.st_uid != geteuid())
    return Error{EPERM, path + ": owned by uid " + std::to_string(st.st_uid) + ", not by you"};
  if (st.st_mode & 022)
    return Error{EPERM, path + ": mode " + octal(st.st_mode) + " lets other users write it"};
  return fd;
}

}  // namespace sbx::core
