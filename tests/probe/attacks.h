/* The attacks of `sbx-probe attacks`: each tries one thing a sandboxed process should not be able
 * to do and prints "NAME: allowed" or "NAME: blocked ERRNO". Included by probe.c only. */
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/io_uring.h>
#include <linux/kcmp.h>
#include <linux/perf_event.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <termios.h>

#ifndef AF_ALG
#define AF_ALG 38
#endif
#ifndef AF_VSOCK
#define AF_VSOCK 40
#endif

static void report(const char* name, long rc) {
  if (rc >= 0)
    printf("%s: allowed\n", name);
  else
    printf("%s: blocked %s\n", name, strerrorname_np(errno) ? strerrorname_np(errno) : "?");
}

/* A forked child runs fn; its exit code 0 means the call succeeded, else the errno. */
static void in_child(const char* name, long (*fn)(void)) {
  fflush(stdout);
  pid_t p = fork();
  if (p == 0) {
    long rc = fn();
    _exit(rc >= 0 ? 0 : (errno ? errno : 255));
  }
  int st = 0;
  waitpid(p, &st, 0);
  if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
    printf("%s: allowed\n", name);
  else if (WIFEXITED(st))
    printf("%s: blocked %s\n", name,
           strerrorname_np(WEXITSTATUS(st)) ? strerrorname_np(WEXITSTATUS(st)) : "?");
  else
    printf("%s: blocked signal %d\n", name, WTERMSIG(st));
}

static long a_unshare_user(void) {
  return unshare(CLONE_NEWUSER);
}
static long a_unshare_mnt(void) {
  return unshare(CLONE_NEWNS);
}
static long a_unshare_net(void) {
  return unshare(CLONE_NEWNET);
}
static long clone_flags(unsigned long flags) {
  long r = syscall(SYS_clone, flags | SIGCHLD, 0, 0, 0, 0);
  if (r == 0) _exit(0);
  if (r > 0) waitpid((pid_t)r, 0, 0);
  return r;
}
static long a_clone_user(void) {
  return clone_flags(CLONE_NEWUSER);
}
static long a_clone_pid(void) {
  return clone_flags(CLONE_NEWPID);
}
static long a_clone3(void) {
  struct {
    unsigned long long flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls;
  } args = {0};
  args.flags = CLONE_NEWUSER;
  args.exit_signal = SIGCHLD;
  long r = syscall(SYS_clone3, &args, sizeof args);
  if (r == 0) _exit(0);
  if (r > 0) waitpid((pid_t)r, 0, 0);
  return r;
}
static long a_setns(void) {
  int fd = open("/proc/self/ns/uts", O_RDONLY);
  return setns(fd, CLONE_NEWUTS);
}
static long a_mount(void) {
  return mount("probe", "/tmp", "tmpfs", 0, 0);
}
static long a_mount_cgroup(void) {
  return mount("cgroup2", "/tmp", "cgroup2", 0, 0);
}
static long a_pivot_root(void) {
  return syscall(SYS_pivot_root, "/", "/");
}
static long a_keyctl(void) {
  return syscall(SYS_keyctl, 0 /* KEYCTL_GET_KEYRING_ID */, -3 /* session */, 0);
}
static long a_add_key(void) {
  return syscall(SYS_add_key, "user", "probe", "x", 1, -3);
}
static long a_request_key(void) {
  return syscall(SYS_request_key, "user", "probe", 0, 0);
}
static long a_bpf(void) {
  union bpf_attr attr;
  memset(&attr, 0, sizeof attr);
  attr.map_type = BPF_MAP_TYPE_ARRAY;
  attr.key_size = 4;
  attr.value_size = 4;
  attr.max_entries = 1;
  return syscall(SYS_bpf, BPF_MAP_CREATE, &attr, sizeof attr);
}
static long a_userfaultfd(void) {
  return syscall(SYS_userfaultfd, 0);
}
static long a_perf(void) {
  struct perf_event_attr pe;
  memset(&pe, 0, sizeof pe);
  pe.type = PERF_TYPE_SOFTWARE;
  pe.size = sizeof pe;
  pe.config = PERF_COUNT_SW_CPU_CLOCK;
  pe.exclude_kernel = 1;
  pe.exclude_hv = 1;
  return syscall(SYS_perf_event_open, &pe, 0, -1, -1, 0);
}
static long a_io_uring(void) {
  struct io_uring_params p;
  memset(&p, 0, sizeof p);
  return syscall(SYS_io_uring_setup, 1, &p);
}
static long a_kexec(void) {
  return syscall(SYS_kexec_load, 0, 0, 0, 0);
}
static long a_init_module(void) {
  return syscall(SYS_init_module, "", 0, "");
}
static long a_finit_module(void) {
  return syscall(SYS_finit_module, 0, "", 0);
}
static long a_open_by_handle(void) {
  struct {
    unsigned int bytes;
    int type;
    unsigned char h[128];
  } fh = {128, 0, {0}};
  return syscall(SYS_open_by_handle_at, AT_FDCWD, &fh, O_RDONLY);
}
static long a_name_to_handle(void) {
  struct {
    unsigned int bytes;
    int type;
    unsigned char h[128];
  } fh = {128, 0, {0}};
  int mount_id;
  return syscall(SYS_name_to_handle_at, AT_FDCWD, "/", &fh, &mount_id, 0);
}
static long a_personality(void) {
  return syscall(SYS_personality, ADDR_NO_RANDOMIZE);
}
static long a_af_alg(void) {
  return socket(AF_ALG, SOCK_SEQPACKET, 0);
}
static long a_af_vsock(void) {
  return socket(AF_VSOCK, SOCK_STREAM, 0);
}
static long a_i386_unshare(void) {
  long r;
  /* the i386 entry point: unshare is 310 there */
  __asm__ volatile("int $0x80" : "=a"(r) : "a"(310L), "b"((long)CLONE_NEWUSER) : "memory");
  if (r < 0) {
    errno = (int)-r;
    return -1;
  }
  return r;
}
static long a_i386_keyctl(void) {
  long r;
  __asm__ volatile("int $0x80" : "=a"(r) : "a"(288L), "b"(0L), "c"(-3L), "d"(0L) : "memory");
  if (r < 0) {
    errno = (int)-r;
    return -1;
  }
  return r;
}
static long a_x32_unshare(void) {
  return syscall(0x40000000 | SYS_unshare, CLONE_NEWUSER);
}
static long a_ptrace(void) {
  return ptrace(PTRACE_TRACEME, 0, 0, 0);
}
static long a_process_vm(void) {
  char a = 'x', b;
  struct iovec l = {&b, 1}, r = {&a, 1};
  return syscall(SYS_process_vm_readv, getpid(), &l, 1, &r, 1, 0);
}
static long a_kcmp(void) {
  return syscall(SYS_kcmp, getpid(), getpid(), KCMP_FILE, 0, 0);
}
static long a_get_mempolicy(void) {
  int mode;
  return syscall(SYS_get_mempolicy, &mode, 0, 0, 0, 0);
}
static long a_sethostname(void) {
  return sethostname("probe", 5);
}
static long a_mknod(void) {
  return mknod("/tmp/probe-null", S_IFCHR | 0666, makedev(1, 3));
}
static long a_sysrq(void) {
  return open("/proc/sysrq-trigger", O_WRONLY);
}
/* its own network namespace's sysctl: writable by root inside unless /proc/sys is read-only */
static long a_proc_sys(void) {
  return open("/proc/sys/net/ipv4/ip_forward", O_WRONLY);
}
/* a masked file reads as empty (it is /dev/null) or cannot be opened */
static long masked_read(const char* path) {
  int fd = open(path, O_RDONLY);
  if (fd < 0) return -1;
  char buf[64];
  long n = read(fd, buf, sizeof buf);
  if (n <= 0) {
    errno = ENODATA;
    return -1;
  }
  return 0;
}
static long a_timer_list(void) {
  return masked_read("/proc/timer_list");
}
static long a_sched_debug(void) {
  return masked_read("/proc/sched_debug");
}
/* TIOCSTI on a terminal of our own (controlling tty), plain and with high bits set */
static long tiocsti(unsigned long extra) {
  int m = posix_openpt(O_RDWR | O_NOCTTY);
  if (m < 0 || grantpt(m) || unlockpt(m)) return -1;
  int s = open(ptsname(m), O_RDWR);
  if (s < 0 || setsid() < 0 || ioctl(s, TIOCSCTTY, 0) < 0) return -1;
  char c = 'x';
  return syscall(SYS_ioctl, s, (unsigned long)TIOCSTI | extra, &c);
}
static long a_tiocsti(void) {
  return tiocsti(0);
}
static long a_tiocsti_hi(void) {
  return tiocsti(1UL << 32);
}

static void attacks(void) {
  static const struct {
    const char* name;
    long (*fn)(void);
  } list[] = {
      {"unshare-user", a_unshare_user},
      {"unshare-mnt", a_unshare_mnt},
      {"unshare-net", a_unshare_net},
      {"clone-newuser", a_clone_user},
      {"clone-newpid", a_clone_pid},
      {"clone3-newuser", a_clone3},
      {"setns", a_setns},
      {"mount-tmpfs", a_mount},
      {"mount-cgroup2", a_mount_cgroup},
      {"pivot_root", a_pivot_root},
      {"keyctl", a_keyctl},
      {"add_key", a_add_key},
      {"request_key", a_request_key},
      {"bpf", a_bpf},
      {"userfaultfd", a_userfaultfd},
      {"perf_event_open", a_perf},
      {"io_uring_setup", a_io_uring},
      {"kexec_load", a_kexec},
      {"init_module", a_init_module},
      {"finit_module", a_finit_module},
      {"open_by_handle_at", a_open_by_handle},
      {"name_to_handle_at", a_name_to_handle},
      {"personality", a_personality},
      {"socket-af_alg", a_af_alg},
      {"socket-af_vsock", a_af_vsock},
      {"i386-unshare", a_i386_unshare},
      {"i386-keyctl", a_i386_keyctl},
      {"x32-unshare", a_x32_unshare},
      {"ptrace", a_ptrace},
      {"process_vm_readv", a_process_vm},
      {"kcmp", a_kcmp},
      {"get_mempolicy", a_get_mempolicy},
      {"sethostname", a_sethostname},
      {"mknod", a_mknod},
      {"sysrq-write", a_sysrq},
      {"proc-sys-write", a_proc_sys},
      {"read-timer_list", a_timer_list},
      {"read-sched_debug", a_sched_debug},
      {"tiocsti", a_tiocsti},
      {"tiocsti-high-bits", a_tiocsti_hi},
  };
  for (size_t i = 0; i < sizeof list / sizeof list[0]; ++i) in_child(list[i].name, list[i].fn);
  /* state, not calls */
  FILE* f = fopen("/proc/self/status", "r");
  char line[256];
  while (f && fgets(line, sizeof line, f))
    if (!strncmp(line, "CapEff:", 7) || !strncmp(line, "CapBnd:", 7) ||
        !strncmp(line, "NoNewPrivs:", 11) || !strncmp(line, "Seccomp:", 8))
      printf("%s", line);
  if (f) fclose(f);
  int fds = 0;
  DIR* d = opendir("/proc/self/fd");
  struct dirent* e;
  while (d && (e = readdir(d)))
    if (e->d_name[0] != '.' && atoi(e->d_name) > 2 && atoi(e->d_name) != dirfd(d)) fds++;
  if (d) closedir(d);
  printf("extra-fds: %d\n", fds);
  char cwd[4096];
  printf("cwd: %s\n", getcwd(cwd, sizeof cwd) ? cwd : "?");
}
