/* The listening end the host-side probe commands share (console, seccomp-agent): listen on a unix
 * socket, return to the caller once listening (a runtime started after us finds it), and in a
 * child of our own take one connection and its one message with the descriptors it carries. */
#pragma once
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>

/* Listens on PATH; in the parent returns 0 (listening) or 1, in the child -1 with *out open on
 * OUT_PATH (unbuffered), stdio on /dev/null, and *l the listening socket. */
static int listen_then_fork(const char* path, const char* out_path, int* l, FILE** out) {
  *l = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_un addr;
  memset(&addr, 0, sizeof addr);
  addr.sun_family = AF_UNIX;
  snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path);
  unlink(path);
  if (*l < 0 || bind(*l, (struct sockaddr*)&addr, sizeof addr) != 0 || listen(*l, 1) != 0) {
    perror(path);
    return 1;
  }
  pid_t child = fork();
  if (child < 0) return 1;
  if (child > 0) return 0;
  int null = open("/dev/null", O_RDWR); /* never the caller's pipes: it would wait for us */
  dup2(null, 0), dup2(null, 1), dup2(null, 2);
  *out = fopen(out_path, "w");
  if (!*out) _exit(1);
  setvbuf(*out, NULL, _IONBF, 0);
  return -1;
}

/* One connection within 30 s, one message into DATA (NUL-terminated): the first descriptor it
 * carries in *fd (-1 if none) and how many came in *fds. Writes "no connection\nTIMEOUT" to OUT
 * and exits when none comes. */
static void receive_one(int l, FILE* out, char* data, size_t cap, int* fd, int* fds) {
  struct pollfd pl = {l, POLLIN, 0};
  if (poll(&pl, 1, 30000) != 1) {
    fprintf(out, "no connection\nTIMEOUT\n");
    _exit(1);
  }
  int c = accept4(l, NULL, NULL, SOCK_CLOEXEC);
  union {
    struct cmsghdr align;
    char buf[CMSG_SPACE(4 * sizeof(int))];
  } control;
  struct iovec iov = {data, cap - 1};
  struct msghdr msg;
  memset(&msg, 0, sizeof msg);
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control.buf;
  msg.msg_controllen = sizeof control.buf;
  ssize_t n = c < 0 ? -1 : recvmsg(c, &msg, MSG_CMSG_CLOEXEC);
  data[n > 0 ? n : 0] = 0;
  *fds = 0, *fd = -1;
  for (struct cmsghdr* h = CMSG_FIRSTHDR(&msg); h; h = CMSG_NXTHDR(&msg, h))
    if (h->cmsg_level == SOL_SOCKET && h->cmsg_type == SCM_RIGHTS) {
      int k = (int)((h->cmsg_len - CMSG_LEN(0)) / sizeof(int));
      if (k > 0 && *fd < 0) memcpy(fd, CMSG_DATA(h), sizeof *fd);
      *fds += k;
    }
}
