/* sbx-probe console SOCKET OUT [INPUT]: an engine's end of an OCI console socket, run on the host.
 * Listens on the unix socket SOCKET and returns once it does (so a runtime started after it finds
 * it); a child of its own then takes one connection, receives one message, writes
 * "name=DATA fds=N" to OUT (the message's data and how many SCM_RIGHTS fds came with it), types
 * INPUT and a newline into the terminal, and appends all the terminal shows to OUT until every
 * holder of its other side is gone; then "\nEND\n" (or "\nTIMEOUT\n" after 30 s). */
#include "receive.h"

static int console_receiver(const char* path, const char* out_path, const char* input) {
  int l;
  FILE* out;
  int listening = listen_then_fork(path, out_path, &l, &out);
  if (listening >= 0) return listening; /* listening (or not): the caller goes on */
  char data[4096];
  int fds, master;
  receive_one(l, out, data, sizeof data, &master, &fds);
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
