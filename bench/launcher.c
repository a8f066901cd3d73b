/* bench/launcher.c: the floor a hand-written launcher reaches on this machine, for bench/all.sh.
 * As root: clone3 into new mnt, pid, uts, ipc, cgroup and net namespaces; in the child / made
 * private, ROOT bound on itself, /proc mounted in it, pivot_root, the old root detached, execve
 * of the command; the parent waits and returns its status. No user namespace, no /dev, no
 * hardening, no error messages beyond the failing step: only what every sandbox needs.
 *   launcher ROOT CMD [ARG...] */
#define _GNU_SOURCE
#include <linux/sched.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static void die(const char* step) {
  perror(step);
  _exit(125);
}

int main(int argc, char** argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: launcher ROOT CMD [ARG...]\n");
    return 2;
  }
  struct clone_args args;
  memset(&args, 0, sizeof args);
  args.flags =
      CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWCGROUP | CLONE_NEWNET;
  args.exit_signal = SIGCHLD;
  long pid = syscall(SYS_clone3, &args, sizeof args);
  if (pid < 0) die("clone3");
  if (pid == 0) {
    const char* root = argv[1];
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) die("make / private");
    if (mount(root, root, NULL, MS_BIND | MS_REC, NULL) != 0) die("bind the root");
    if (chdir(root) != 0) die("chdir");
    if (mount("proc", "proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) != 0) die("proc");
    if (syscall(SYS_pivot_root, ".", ".") != 0) die("pivot_root");
    if (umount2(".", MNT_DETACH) != 0) die("detach the old root");
    if (chdir("/") != 0) die("chdir /");
    execv(argv[2], argv + 2);
    die("execve");
  }
  int st = 0;
  while (waitpid((pid_t)pid, &st, 0) < 0) {
  }
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}
