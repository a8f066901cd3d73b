/* sbx-probe console SOCKET OUT [INPUT]: an engine's end of an OCI console socket, run on the host.
 * Listens on the unix socket SOCKET and returns once it does (so a runtime started after it finds
 * it); a child of its own then takes one connection, receives one message, writes
 * "name=DATA fds=N" to OUT (the message's data and how many SCM_RIGHTS fds came with it), types
 * INPUT and a newline into the terminal, and appends all the terminal shows to OUT until every
 * holder of its other side is gone; then "\nEND\n" (or "\nTIMEOUT\n" after 30 s). */
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>

static int console_receiver(const char* path, const char* out_path, const char* input) {
  int l = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_un addr;
  memset(&addr, 0, sizeof addr);
  addr.sun_family = AF_UNIX;
  snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path);
  unlink(path);
  if (l < 0 || bind(l, (struct sockaddr*)&addr, sizeof addr) != 0 || listen(l, 1) != 0) {
    perror("console socket");
    return 1;
  }
  pid_t child = fork();
  if (child < 0) return 1;
  if (child > 0) return 0;              /* listening: the caller goes on */
  int null = open("/dev/null", O_RDWR); /* never the caller's pipes: it would wait for us */
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
  char data[4096];
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
  int fds = 0, master = -1;
  for (struct cmsghdr* h = CMSG_FIRSTHDR(&msg); h; h = CMSG_NXTHDR(&msg, h))
    if (h->cmsg_level == SOL_SOCKET && h->cmsg_type == SCM_RIGHTS) {
      int k = (int)((h->cmsg_len - CMSG_LEN(0)) / sizeof(int));
      if (k > 0 && master < 0) memcpy(&master, CMSG_DATA(h), sizeof master);
      fds += k;
    }
  fprintf(out, "name=%s fds=%d\n", data, fds);
  if (master < 0) _exit(1);
  if (input) {
    (void)!write(master, input, strlen(input));
    (void)!write(master, "\n", 1);
  }
  char buf[4096];
  for (;;) {
    struct pollfd pm = {master, POLLIN, 0};
    if (poll(&pm, 1, 30000) != 1) {
      fprintf(out, "\nTIMEOUT\n");
      _exit(1);
    }
    ssize_t r = read(master, buf, sizeof buf);
    if (r <= 0) break; /* EIO: the terminal's other side is closed everywhere */
    fwrite(buf, 1, (size_t)r, out);
  }
  fprintf(out, "\nEND\n");
  _exit(0);
}
