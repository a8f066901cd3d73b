#define _GNU_SOURCE
/* sbx-probe: copied (bind-mounted) into test roots to report what a sandboxed process sees.
 *   fds          list this process's open fds (from /proc/self/fd), one per line
 *   orphans N    make N orphans that exit at once, then print the number of zombies left
 *                among this process's pid namespace after a short wait (the init must reap)
 *   sleep SECS   sleep (as a long-running payload)
 *   hold         print "ready" and sleep until killed
 *   shm-create K create a System V shared memory segment with key K, print "created"
 *   shm-exists K print "yes" when a segment with key K exists in this ipc namespace, else "no"
 *   hog MB       allocate and touch MB mebibytes, 1 MiB at a time, printing each step
 *   forks N      try to keep N children alive at once; print how many forks succeeded
 *   spin SECS    burn CPU for SECS seconds of wall time; print the CPU seconds used
 *   race-open GOOD BAD N  open a path N times while a thread flips it between GOOD and BAD;
 *                print how many opens read a file starting with G, with B, or failed
 *   connect IP PORT  a TCP connect: prints "connected" or the errno's name
 *   read PATH    open PATH read-only and copy it to stdout (or print the errno's name)
 *   mkdirs N     N mkdir(2) calls of one path: prints calls per second and how many failed
 *   count FILE   write an increasing counter to FILE every 10 ms, forever
 *   attacks      try each attack of attacks.h; one "NAME: allowed|blocked ERRNO" line each, then
 *                the capability sets, no_new_privs, seccomp mode, fds beyond 0-2 and the cwd
 *   kill PID     try to signal PID (0): "allowed" or "blocked ERRNO"
 *   ids          print "uid=N euid=N" (a setuid copy shows whether it elevated)
 *   open PATH    try to open PATH read-write: "allowed" or "blocked ERRNO"
 *   pid-as PID SECS  start a process with exactly pid PID (clone3 set_tid: root only) that sleeps
 *                SECS seconds; print its pid (a recycled pid, made on purpose)
 *   console SOCKET OUT [INPUT]  (on the host) an engine's OCI console socket: see console.h
 *   seccomp-agent SOCKET OUT    (on the host) an OCI seccomp agent: see seccomp_agent.h
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/shm.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "attacks.h"
#include "console.h"
#include "seccomp_agent.h"

static int count_zombies(void) {
  DIR* d = opendir("/proc");
  if (!d) return -1;
  struct dirent* e;
  int z = 0;
  while ((e = readdir(d))) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    char path[300], buf[512];
    snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
    FILE* f = fopen(path, "r");
    if (!f) continue;
    if (fgets(buf, sizeof buf, f)) {
      char* p = strrchr(buf, ')');
      if (p && p[1] == ' ' && p[2] == 'Z') z++;
    }
    fclose(f);
  }
  closedir(d);
  return z;
}

/* A thread flips the path buffer between GOOD and BAD while this one opens it N times: each open
   reads the file's first byte. Prints how many came from each ("good=N bad=M other=K"). */
static char race_buf[4096];
static const char *race_good, *race_bad;
static volatile int race_stop;
static void* race_flip(void* arg) {
  (void)arg;
  while (!race_stop) {
    strcpy(race_buf, race_bad);
    strcpy(race_buf, race_good);
  }
  return NULL;
}
static int race_open(const char* good, const char* bad, int n) {
  race_good = good;
  race_bad = bad;
  strcpy(race_buf, good);
  pthread_t t;
  pthread_create(&t, NULL, race_flip, NULL);
  int g = 0, b = 0, o = 0;
  for (int i = 0; i < n; i++) {
    int fd = open(race_buf, O_RDONLY);
    char c = 0;
    if (fd >= 0 && read(fd, &c, 1) == 1 && c == 'G')
      g++;
    else if (fd >= 0 && c == 'B')
      b++;
    else
      o++;
    if (fd >= 0) close(fd);
  }
  race_stop = 1;
  pthread_join(t, NULL);
  printf("good=%d bad=%d other=%d\n", g, b, o);
  return 0;
}

int main(int argc, char** argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: sbx-probe fds|orphans N|sleep SECS|hold\n");
    return 2;
  }
  if (!strcmp(argv[1], "attacks")) {
    attacks();
    return 0;
  }
  if (!strcmp(argv[1], "console") && argc > 3) return console_receiver(argv[2], argv[3], argv[4]);
  if (!strcmp(argv[1], "seccomp-agent") && argc > 3) return seccomp_agent(argv[2], argv[3]);
  if (!strcmp(argv[1], "i386-getpid")) {
    /* getpid through the i386 entry point (20 there): a second architecture's call */
    long r;
    __asm__ volatile("int $0x80" : "=a"(r) : "a"(20L) : "memory");
    printf("i386 getpid %s\n", r > 0 ? "ok" : strerror((int)-r));
    return 0;
  }
  if (!strcmp(argv[1], "ids")) {
    printf("uid=%d euid=%d\n", (int)getuid(), (int)geteuid());
    return 0;
  }
  if (!strcmp(argv[1], "open") && argc > 2) {
    report("open", open(argv[2], O_RDWR));
    return 0;
  }
  if (!strcmp(argv[1], "kill") && argc > 2) {
    report("kill", kill(atoi(argv[2]), 0));
    return 0;
  }
  if (!strcmp(argv[1], "fds")) {
    DIR* d = opendir("/proc/self/fd");
    if (!d) {
      perror("opendir /proc/self/fd");
      return 1;
    }
    int self = dirfd(d);
    struct dirent* e;
    while ((e = readdir(d))) {
      if (e->d_name[0] == '.') continue;
      if (atoi(e->d_name) == self) continue;
      char path[300], target[256];
      snprintf(path, sizeof path, "/proc/self/fd/%s", e->d_name);
      ssize_t n = readlink(path, target, sizeof target - 1);
      target[n > 0 ? n : 0] = 0;
      printf("%s %s\n", e->d_name, target);
    }
    closedir(d);
    return 0;
  }
  if (!strcmp(argv[1], "orphans") && argc > 2) {
    int n = atoi(argv[2]);
    for (int i = 0; i < n; i++) {
      pid_t p = fork();
      if (p == 0) {
        if (fork() == 0) {
          usleep(20000);
          _exit(0);
        } /* the grandchild becomes an orphan */
        _exit(0);
      }
      waitpid(p, NULL, 0);
    }
    struct timespec ts = {0, 300000000};
    nanosleep(&ts, NULL);
    printf("%d\n", count_zombies());
    return 0;
  }
  if (!strcmp(argv[1], "pid-as") && argc > 3) {
    pid_t want = (pid_t)atoi(argv[2]);
    struct clone_args {
      uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls, set_tid,
          set_tid_size;
    } ca;
    memset(&ca, 0, sizeof ca);
    ca.set_tid = (uint64_t)(uintptr_t)&want;
    ca.set_tid_size = 1;
    long r = syscall(435 /* clone3 */, &ca, sizeof ca);
    if (r < 0) {
      printf("failed %d\n", errno);
      return 1;
    }
    if (r == 0) {
      setsid();
      int null = open("/dev/null", O_RDWR);
      dup2(null, 0), dup2(null, 1), dup2(null, 2);
      sleep((unsigned)atoi(argv[3]));
      _exit(0);
    }
    printf("%ld\n", r);
    return 0;
  }
  if (!strcmp(argv[1], "sleep") && argc > 2) {
    sleep((unsigned)atoi(argv[2]));
    return 0;
  }
  if (!strcmp(argv[1], "hold")) {
    printf("ready\n");
    fflush(stdout);
    for (;;) pause();
  }
  if (!strcmp(argv[1], "shm-create") && argc > 2) {
    int id = shmget((key_t)strtol(argv[2], NULL, 0), 4096, IPC_CREAT | IPC_EXCL | 0600);
    if (id < 0) {
      perror("shmget");
      return 1;
    }
    printf("created\n");
    return 0;
  }
  if (!strcmp(argv[1], "shm-exists") && argc > 2) {
    int id = shmget((key_t)strtol(argv[2], NULL, 0), 0, 0);
    printf("%s\n", id >= 0 ? "yes" : "no");
    return 0;
  }
  if (!strcmp(argv[1], "hog") && argc > 2) {
    int mb = atoi(argv[2]);
    for (int i = 1; i <= mb; i++) {
      char* p = malloc(1 << 20);
      if (!p) {
        printf("malloc failed at %d\n", i);
        return 1;
      }
      memset(p, i, 1 << 20);
      printf("%d\n", i);
      fflush(stdout);
    }
    return 0;
  }
  if (!strcmp(argv[1], "forks") && argc > 2) {
    int n = atoi(argv[2]), ok = 0;
    for (int i = 0; i < n; i++) {
      pid_t p = fork();
      if (p == 0) {
        sleep(3);
        _exit(0);
      }
      if (p > 0) ok++;
    }
    printf("%d\n", ok);
    fflush(stdout);
    while (wait(NULL) > 0) {
    }
    return 0;
  }
  if (!strcmp(argv[1], "spin") && argc > 2) {
    double secs = atof(argv[2]);
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    volatile unsigned long x = 0;
    do {
      for (int i = 0; i < 100000; i++) x += (unsigned long)i;
      clock_gettime(CLOCK_MONOTONIC, &b);
    } while ((double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9 < secs);
    (void)x;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("%.3f\n", (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
                         (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6);
    return 0;
  }
  if (!strcmp(argv[1], "read") && argc > 2) {
    /* open(2) read-only and copy to stdout; prints the errno's name when it fails */
    int fd = open(argv[2], O_RDONLY);
    if (fd < 0) {
      printf("%s\n", strerrorname_np(errno));
      return 1;
    }
    char b[4096];
    ssize_t n;
    while ((n = read(fd, b, sizeof b)) > 0) fwrite(b, 1, (size_t)n, stdout);
    return 0;
  }
  if (!strcmp(argv[1], "mkdirs") && argc > 2) {
    /* N mkdir(2) calls of one path; prints the calls per second and how many failed */
    int n = atoi(argv[2]), failed = 0;
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (int i = 0; i < n; i++)
      if (mkdir("/tmp/mkdirs-probe", 0755) != 0) failed++;
    clock_gettime(CLOCK_MONOTONIC, &b);
    double secs = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
    printf("%.0f calls/s, %d failed\n", n / (secs > 0 ? secs : 1e-9), failed);
    return 0;
  }
  if (!strcmp(argv[1], "race-open") && argc > 4) return race_open(argv[2], argv[3], atoi(argv[4]));
  if (!strcmp(argv[1], "connect") && argc > 3) {
    /* connect(2) to IP:PORT (TCP); prints "connected" or the errno's name */
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)atoi(argv[3]));
    inet_pton(AF_INET, argv[2], &a.sin_addr);
    int s = socket(AF_INET, SOCK_STREAM, 0);
    if (s < 0 || connect(s, (struct sockaddr*)&a, sizeof a) != 0) {
      printf("%s\n", strerrorname_np(errno));
      return 1;
    }
    printf("connected\n");
    return 0;
  }
  if (!strcmp(argv[1], "count") && argc > 2) {
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", argv[2]);
    for (unsigned long i = 0;; i++) {
      FILE* f = fopen(tmp, "w"); /* written aside and renamed: a reader never sees it half done */
      if (f) {
        fprintf(f, "%lu\n", i);
        fclose(f);
        rename(tmp, argv[2]);
      }
      usleep(10000);
    }
  }
  fprintf(stderr, "sbx-probe: unknown command %s\n", argv[1]);
  return 2;
}
