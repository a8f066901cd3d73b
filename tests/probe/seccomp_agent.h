/* sbx-probe seccomp-agent SOCKET OUT: an OCI seccomp agent (linux.seccomp.listenerPath), run on the
 * host. Listens on the unix socket SOCKET and returns once it does; a child of its own then takes
 * one connection, receives the runtime's message and its descriptor (the filter's listener),
 * writes "state=DATA fds=N" to OUT, and answers every notified call with success without doing it
 * (SECCOMP_USER_NOTIF: error 0, value 0), writing "call nr=N pid=P" for each, until no process has
 * the filter any more; then "END" (or "TIMEOUT" after 30 s). */
#include <linux/seccomp.h>
#include <sys/ioctl.h>

#include "receive.h"

static int seccomp_agent(const char* path, const char* out_path) {
  int l;
  FILE* out;
  int listening = listen_then_fork(path, out_path, &l, &out);
  if (listening >= 0) return listening; /* listening (or not): the caller goes on */
  static char data[65536];
  int fds, listener;
  receive_one(l, out, data, sizeof data, &listener, &fds);
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
