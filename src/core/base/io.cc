#include "core/base/io.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>

#include "core/base/fd.h"

namespace sbx::core {

Status write_all(int fd, std::string_view text, const std::string& what) {
  size_t off = 0;
  while (off < text.size()) {
    ssize_t n = ::write(fd, text.data() + off, text.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return sys_error(what);
    off += static_cast<size_t>(n);
  }
  return {};
}

Result<std::string> read_fd(int fd, const std::string& what, size_t limit) {
  std::string out;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return sys_error(what);
    if (n == 0) return out;
    if (out.size() + static_cast<size_t>(n) > limit)
      return Error{EFBIG, what + ": larger than expected"};
    out.append(buf, static_cast<size_t>(n));
  }
}

Result<std::string> read_file(const std::string& path, int flags, size_t limit) {
  Fd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC | flags));
  if (!fd.ok()) return sys_error("read " + path);
  return read_fd(fd.get(), "read " + path, limit);
}

Status write_file(const std::string& path, std::string_view text, mode_t mode) {
  Fd fd(open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode));
  if (!fd.ok()) return sys_error("write " + path);
  if (auto s = write_all(fd.get(), text, "write " + path); !s) return s;
  if (fchmod(fd.get(), mode) != 0) return sys_error("write " + path + ": chmod");
  return {};
}

Status write_file_atomic(const std::string& path, std::string_view text, mode_t mode) {
  std::string tmp = path + ".tmp-" + std::to_string(getpid());
  Status s = write_file(tmp, text, mode);
  if (!s)
    s = sys_error("write " + path, s.error().err);  // named as the caller knows it
  else if (rename(tmp.c_str(), path.c_str()) != 0)
    s = sys_error("write " + path + ": rename " + tmp);
  if (!s) unlink(tmp.c_str());
  return s;
}

Status write_control(const std::string& path, std::string_view text) {
  Fd fd(open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd.ok()) return sys_error("write " + path);
  ssize_t n;
  do n = ::write(fd.get(), text.data(), text.size());
  while (n < 0 && errno == EINTR);
  if (n < 0) return sys_error("write " + path);
  if (static_cast<size_t>(n) != text.size())
    return Error{EIO, "write " + path + ": only part of the text was taken"};
  return {};
}

bool send_with_fd(int sock, std::string_view data, int fd, uint64_t tag) {
  struct iovec iov {
    const_cast<char*>(data.data()), data.size()
  };
  alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  struct msghdr msg {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  struct cmsghdr* c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  std::memcpy(CMSG_DATA(c), &fd, sizeof fd);
  ssize_t n;
  do n = syscall(SYS_sendmsg, sock, &msg, MSG_NOSIGNAL, tag);
  while (n < 0 && errno == EINTR);
  return n == static_cast<ssize_t>(data.size());
}

ssize_t recv_with_fd(int sock, char* buf, size_t len, int* fd) {
  *fd = -1;
  struct iovec iov {
    buf, len
  };
  alignas(struct cmsghdr) char control[CMSG_SPACE(sizeof(int))];
  struct msghdr msg {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  ssize_t n;
  do n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
  while (n < 0 && errno == EINTR);
  struct cmsghdr* c = n > 0 ? CMSG_FIRSTHDR(&msg) : nullptr;
  if (c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
    std::memcpy(fd, CMSG_DATA(c), sizeof *fd);
  return n;
}

}  // namespace sbx::core
