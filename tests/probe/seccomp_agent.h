/* sbx-probe seccomp-agent SOCKET OUT: an OCI seccomp agent (linux.seccomp.listenerPath), run on the
 * host. Listens on the unix socket SOCKET and returns once it does; a child of its own then takes
 * one connection, receives the runtime's message and its descriptor (the filter's listener),
 * writes "state=DATA fds=N" to OUT, and answers every notified call with success without doing it
 * (SECCOMP_USER_NOTIF: error 0, value 0), writing "call nr=N pid=P" for each, until no process has
 * the filter any more; then "END" (or "TIMEOUT" after 30 s). */
#include <linux/seccomp.h>
#include <sys/ioctl.h>

static int seccomp_agent(const char* path, const char* out_path) {
  int l = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_un addr;
  memset(&addr, 0, sizeof addr);
  addr.sun_family = AF_UNIX;
  snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path);
  unlink(path);
  if (l < 0 || bind(l, (struct sockaddr*)&addr, sizeof addr) != 0 || listen(l, 1) != 0) {
    perror("seccomp agent socket");
    return 1;
  }
  pid_t child = fork();
  if (child < 0) return 1;
  if (child > 0) return 0; /* listening: the caller goes on */
  int null = open("/dev/null", O_RDWR);
  dup2(null, 0), dup2(null, 1), dup2(null, 2);
  FILE* out = fopen(out_path, "w");
  if (!out) _exit(1);
  setvbuf(out, NULL, _IONBF, 0);
  struct pollfd pl = {l, POLLIN, 0};
  if (poll(&pl, 1, 30000) != 1) {
    fprintf(out, "no connection\nTIMEOUT\n");
    _exit(1);
  }
  int c = accept4(l, NULL, NULL, SOCK_CLOEXEC);
  static char data[65536];
  union {
    struct cmsghdr align;
    char buf[CMSG_SPACE(4 * sizeof(int))];
  } control;
  struct iovec iov = {data, sizeof data - 1};
  struct msghdr msg;
  memset(&msg, 0, sizeof msg);
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control.buf;
  msg.msg_controllen = sizeof control.buf;
  ssize_t n = c < 0 ? -1 : recvmsg(c, &msg, MSG_CMSG_CLOEXEC);
  data[n > 0 ? n : 0] = 0;
  int fds = 0, listener = -1;
  for (struct cmsghdr* h = CMSG_FIRSTHDR(&msg); h; h = CMSG_NXTHDR(&msg, h))
    if (h->cmsg_level == SOL_SOCKET && h->cmsg_type == SCM_RIGHTS) {
      int k = (int)((h->cmsg_len - CMSG_LEN(0)) / sizeof(int));
      if (k > 0 && listener < 0) memcpy(&listener, CMSG_DATA(h), sizeof listener);
      fds += k;
    }
  fprintf(out, "state=%s fds=%d\n", data, fds);
  if (listener < 0) _exit(1);
  for (;;) {
    struct pollfd pn = {listener, POLLIN, 0};
    if (poll(&pn, 1, 30000) != 1) {
      fprintf(out, "TIMEOUT\n");
      _exit(1);
    }
    if (!(pn.revents & POLLIN)) break; /* POLLHUP: every process with the filter is gone */
    struct seccomp_notif req;
    memset(&req, 0, sizeof req);
    if (ioctl(listener, SECCOMP_IOCTL_NOTIF_RECV, &req) != 0) continue; /* the caller went away */
    fprintf(out, "call nr=%d pid=%d\n", req.data.nr, (int)req.pid);
    struct seccomp_notif_resp resp;
    memset(&resp, 0, sizeof resp);
    resp.id = req.id;
    (void)ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, &resp);
  }
  fprintf(out, "END\n");
  _exit(0);
}
