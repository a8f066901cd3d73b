#include "core/security/notify.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <linux/seccomp.h>
#include <netinet/in.h>
#include <sched.h>
#include <seccomp.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "core/base/io.h"
#include "core/sandbox/idmap.h"

namespace sbx::core {

namespace {
// The kernel's structure sizes (they may grow): a buffer at least as large as this kernel's.
size_t notif_size() {
  static const size_t size = [] {
    struct seccomp_notif_sizes s {};
    size_t n = sizeof(struct seccomp_notif);
    if (syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &s) == 0 && s.seccomp_notif > n)
      n = s.seccomp_notif;
    return n;
  }();
  return size;
}

Status respond(int fd, uint64_t id, int64_t val, int err, uint32_t flags) {
  struct seccomp_notif_resp r {};
  r.id = id;
  r.val = val;
  r.error = err ? -err : 0;
  r.flags = flags;
  if (ioctl(fd, SECCOMP_IOCTL_NOTIF_SEND, &r) != 0)
    return sys_error("answer seccomp notification " + std::to_string(id));
  return {};
}
}  // namespace

// (not in Debian 12's kernel headers: linux/seccomp.h of 6.6)
#ifndef SECCOMP_IOCTL_NOTIF_SET_FLAGS
#define SECCOMP_IOCTL_NOTIF_SET_FLAGS SECCOMP_IOW(4, __u64)
#endif
#ifndef SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP
#define SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP (1UL << 0)
#endif

SeccompListener::SeccompListener(Fd fd) : fd_(std::move(fd)) {
  (void)ioctl(fd_.get(), SECCOMP_IOCTL_NOTIF_SET_FLAGS, SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP);
}

Result<SeccompCall> SeccompListener::receive() const {
  std::vector<unsigned char> buf(notif_size(), 0);
  int r;
  do r = ioctl(fd_.get(), SECCOMP_IOCTL_NOTIF_RECV, buf.data());
  while (r != 0 && errno == EINTR);
  if (r != 0) return sys_error("receive a seccomp notification");
  struct seccomp_notif n;
  std::memcpy(&n, buf.data(), sizeof n);
  SeccompCall c;
  c.id = n.id;
  c.pid = static_cast<pid_t>(n.pid);
  c.nr = n.data.nr;
  c.arch = n.data.arch;
  for (int i = 0; i < 6; ++i) c.args[static_cast<size_t>(i)] = n.data.args[i];
  if (char* name = seccomp_syscall_resolve_num_arch(n.data.arch, n.data.nr)) {
    c.name = name;
    std::free(name);
  }
  return c;
}

bool SeccompListener::valid(uint64_t id) const {
  return ioctl(fd_.get(), SECCOMP_IOCTL_NOTIF_ID_VALID, &id) == 0;
}

Status SeccompListener::allow(uint64_t id) const {
  return respond(fd_.get(), id, 0, 0, SECCOMP_USER_NOTIF_FLAG_CONTINUE);
}
Status SeccompListener::deny(uint64_t id, int err) const {
  if (err <= 0 || err > 4095)
    return user_error("deny: errno " + std::to_string(err) + " is not 1..4095");
  return respond(fd_.get(), id, 0, err, 0);
}
Status SeccompListener::give(uint64_t id, int64_t value) const {
  return respond(fd_.get(), id, value, 0, 0);
}

Status SeccompListener::give_fd(uint64_t id, int fd, bool cloexec) const {
  struct seccomp_notif_addfd a {};
  a.id = id;
  a.flags = SECCOMP_ADDFD_FLAG_SEND;  // installed and answered with its number in one step
  a.srcfd = static_cast<uint32_t>(fd);
  a.newfd_flags = cloexec ? O_CLOEXEC : 0;
  if (ioctl(fd_.get(), SECCOMP_IOCTL_NOTIF_ADDFD, &a) < 0)
    return sys_error("give an fd to the caller of seccomp notification " + std::to_string(id));
  return {};
}

Result<std::string> SeccompListener::read_bytes(const SeccompCall& c, uint64_t addr,
                                                size_t len) const {
  if (len > (1u << 20)) return user_error("read the caller's memory: at most 1 MiB");
  std::string out(len, '\0');
  struct iovec local {
    out.data(), len
  };
  struct iovec remote {
    reinterpret_cast<void*>(static_cast<uintptr_t>(addr)), len
  };
  ssize_t n = len ? process_vm_readv(c.pid, &local, 1, &remote, 1, 0) : 0;
  if (n < 0) return sys_error("read the memory of pid " + std::to_string(c.pid));
  out.resize(static_cast<size_t>(n));
  // the pid may have gone and been reused between the notification and the read
  if (!valid(c.id))
    return Error{ENOENT, "read the memory of pid " + std::to_string(c.pid) +
                             ": the call is no longer waiting (the caller went away)"};
  return out;
}

Result<std::string> SeccompListener::read_string(const SeccompCall& c, uint64_t addr,
                                                 size_t max) const {
  if (addr == 0) return Error{EFAULT, "read a string of pid " + std::to_string(c.pid) + ": NULL"};
  std::string out;
  const size_t page = 4096;
  while (out.size() < max) {
    // up to the end of the page: the next one may not be mapped
    uint64_t at = addr + out.size();
    size_t chunk = std::min(page - static_cast<size_t>(at % page), max - out.size());
    std::string part(chunk, '\0');
    struct iovec local {
      part.data(), chunk
    };
    struct iovec remote {
      reinterpret_cast<void*>(static_cast<uintptr_t>(at)), chunk
    };
    ssize_t n = process_vm_readv(c.pid, &local, 1, &remote, 1, 0);
    if (n <= 0) return sys_error("read a string of pid " + std::to_string(c.pid));
    part.resize(static_cast<size_t>(n));
    size_t nul = part.find('\0');
    if (nul != std::string::npos) {
      out += part.substr(0, nul);
      if (!valid(c.id))
        return Error{ENOENT, "read a string of pid " + std::to_string(c.pid) +
                                 ": the call is no longer waiting (the caller went away)"};
      return out;
    }
    out += part;
  }
  return Error{ENAMETOOLONG, "read a string of pid " + std::to_string(c.pid) + ": longer than " +
                                 std::to_string(max)};
}

Status allow_next_call(int listener_fd) {
  std::vector<unsigned char> buf(notif_size(), 0);
  if (ioctl(listener_fd, SECCOMP_IOCTL_NOTIF_RECV, buf.data()) != 0)
    return sys_error("receive a seccomp notification");
  struct seccomp_notif n;
  std::memcpy(&n, buf.data(), sizeof n);
  return respond(listener_fd, n.id, 0, 0, SECCOMP_USER_NOTIF_FLAG_CONTINUE);
}

Result<bool> SeccompListener::runs(const SeccompCall& c, const std::string& path) const {
  struct stat exe, file;
  std::string link = "/proc/" + std::to_string(c.pid) + "/exe";
  if (stat(link.c_str(), &exe) != 0)
    return sys_error("the program of pid " + std::to_string(c.pid));
  auto fd = open_for_caller(c.pid, path, O_PATH, 0);
  if (!fd) return fd.error();
  if (fstat(fd->get(), &file) != 0) return sys_error("stat " + path);
  if (!valid(c.id))
    return Error{ENOENT, "the program of pid " + std::to_string(c.pid) +
                             ": the call is no longer waiting (the caller went away)"};
  return exe.st_dev == file.st_dev && exe.st_ino == file.st_ino;
}

std::string describe_sockaddr(const std::string& b) {
  if (b.size() < sizeof(sa_family_t)) return "(no address)";
  sa_family_t fam;
  std::memcpy(&fam, b.data(), sizeof fam);
  char text[INET6_ADDRSTRLEN] = "";
  if (fam == AF_INET && b.size() >= sizeof(sockaddr_in)) {
    sockaddr_in a;
    std::memcpy(&a, b.data(), sizeof a);
    inet_ntop(AF_INET, &a.sin_addr, text, sizeof text);
    return std::string("inet ") + text + ":" + std::to_string(ntohs(a.sin_port));
  }
  if (fam == AF_INET6 && b.size() >= sizeof(sockaddr_in6)) {
    sockaddr_in6 a;
    std::memcpy(&a, b.data(), sizeof a);
    inet_ntop(AF_INET6, &a.sin6_addr, text, sizeof text);
    return std::string("inet6 [") + text + "]:" + std::to_string(ntohs(a.sin6_port));
  }
  if (fam == AF_UNIX) {
    std::string path = b.substr(offsetof(sockaddr_un, sun_path));
    if (!path.empty() && path[0] == '\0') return "unix @" + path.substr(1);
    return "unix " + path.substr(0, path.find('\0'));
  }
  return "family " + std::to_string(fam);
}

namespace {
bool same_user_ns(pid_t pid) {
  struct stat a, b;
  std::string theirs = "/proc/" + std::to_string(pid) + "/ns/user";
  return stat("/proc/self/ns/user", &a) == 0 && stat(theirs.c_str(), &b) == 0 &&
         a.st_ino == b.st_ino && a.st_dev == b.st_dev;
}

// The caller's filesystem id ("Uid:" or "Gid:" of /proc/PID/status, as the host sees it) as its
// own user namespace numbers it.
Result<uint32_t> inside_id(pid_t pid, const char* key, const char* map_file) {
  auto status = read_file("/proc/" + std::to_string(pid) + "/status");
  if (!status) return status.error();
  size_t at = status->find(std::string("\n") + key);
  if (at == std::string::npos) return Error{EINVAL, std::string("no ") + key + " in its status"};
  unsigned long r = 0, e = 0, sv = 0, fs = 0;
  if (std::sscanf(status->c_str() + at + 1 + std::strlen(key), "%lu %lu %lu %lu", &r, &e, &sv,
                  &fs) != 4)
    return Error{EINVAL, std::string("unreadable ") + key + " in its status"};
  auto map = read_id_map(pid, map_file);
  if (!map) return map.error();
  for (const auto& m : *map)
    if (fs >= m.outside && fs - m.outside < m.count)
      return m.inside + static_cast<uint32_t>(fs - m.outside);
  return Error{EOVERFLOW, "its id " + std::to_string(fs) + " has no mapping"};
}

// A file the caller creates is the caller's: made by a helper that joins the caller's user
// namespace with its ids (host root is not mapped there: the kernel would refuse with EOVERFLOW).
Result<Fd> create_as_caller(pid_t pid, int dir, const std::string& path, const open_how& how) {
  auto uid = inside_id(pid, "Uid:", "uid_map");
  if (!uid) return uid.error().context("create " + path + " as pid " + std::to_string(pid));
  auto gid = inside_id(pid, "Gid:", "gid_map");
  if (!gid) return gid.error().context("create " + path + " as pid " + std::to_string(pid));
  Fd ns(open(("/proc/" + std::to_string(pid) + "/ns/user").c_str(), O_RDONLY | O_CLOEXEC));
  if (!ns.ok()) return sys_error("create " + path + ": its user namespace");
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0)
    return sys_error("create " + path + ": socketpair");
  Fd mine(sv[0]), theirs(sv[1]);
  fflush(nullptr);  // nothing buffered is written twice (by both processes)
  pid_t child = fork();
  if (child < 0) return sys_error("create " + path + ": fork");
  if (child == 0) {
    int err = 0;
    if (setns(ns.get(), CLONE_NEWUSER) != 0 || setresgid(*gid, *gid, *gid) != 0 ||
        setresuid(*uid, *uid, *uid) != 0)
      err = errno;
    long fd = err ? -1 : syscall(SYS_openat2, dir, path.c_str(), &how, sizeof how);
    if (fd < 0 && !err) err = errno;
    if (err) {
      (void)!write(theirs.get(), &err, sizeof err);
      _exit(1);
    }
    _exit(send_with_fd(theirs.get(), "F", static_cast<int>(fd)) ? 0 : 1);
  }
  theirs.reset();
  char buf[sizeof(int)] = {};
  int got = -1;
  ssize_t n = recv_with_fd(mine.get(), buf, sizeof buf, &got);
  while (waitpid(child, nullptr, 0) < 0 && errno == EINTR) {
  }
  if (n == 1 && got >= 0) return Fd(got);
  if (got >= 0) close(got);
  int err = EIO;
  if (n == static_cast<ssize_t>(sizeof err)) std::memcpy(&err, buf, sizeof err);
  return sys_error("create " + path + " as pid " + std::to_string(pid), err);
}
}  // namespace

Result<Fd> open_for_caller(pid_t pid, const std::string& path, int flags, mode_t mode) {
  if (path.empty()) return Error{ENOENT, "open for pid " + std::to_string(pid) + ": empty path"};
  std::string base = "/proc/" + std::to_string(pid) + (path[0] == '/' ? "/root" : "/cwd");
  Fd dir(open(base.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!dir.ok()) return sys_error("open for pid " + std::to_string(pid) + ": its " + base);
  struct open_how how {};
  how.flags = static_cast<uint64_t>(flags) | O_CLOEXEC;
  how.mode = (flags & (O_CREAT | O_TMPFILE)) ? mode : 0;
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  Fd fd;
  if ((flags & (O_CREAT | O_TMPFILE)) && !same_user_ns(pid)) {
    auto made = create_as_caller(pid, dir.get(), path, how);
    if (!made) return made.error();
    fd = std::move(*made);
  } else {
    fd.reset(static_cast<int>(syscall(SYS_openat2, dir.get(), path.c_str(), &how, sizeof how)));
    if (!fd.ok()) return sys_error("open " + path + " for pid " + std::to_string(pid));
  }
  struct stat st;
  if (fstat(fd.get(), &st) != 0) return sys_error("open " + path + ": fstat");
  if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))
    return Error{EACCES, "open " + path + " for pid " + std::to_string(pid) +
                             ": not a regular file or directory (a broker gives only those)"};
  return fd;
}

}  // namespace sbx::core
