#include "core/base/trace.h"

#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <vector>

namespace sbx::core::trace {

namespace {
struct Mark {
  const char* phase;
  char detail[40];
  int pid;
  long long ns;
};
constexpr int kMarks = 200;
struct Page {
  int count;          // marks taken (atomically: the child and the supervisor write at once)
  long long exec_ns;  // the monotonic time of exec, estimated (main's time minus its cpu time)
  Mark marks[kMarks];
};
Page* page = nullptr;

long long now_ns() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<long long>(ts.tv_sec) * 1000000000LL + ts.tv_nsec;
}
}  // namespace

void start() {
  if (page) return;
  void* p = mmap(nullptr, sizeof(Page), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return;
  page = static_cast<Page*>(p);
  long long t = now_ns();
  // the cpu time this process has had since exec (/proc/self/schedstat: ns on a cpu)
  long long ran = 0;
  if (FILE* f = std::fopen("/proc/self/schedstat", "r")) {
    if (std::fscanf(f, "%lld", &ran) != 1) ran = 0;
    std::fclose(f);
  }
  page->exec_ns = t - ran;
  mark("main");
}

bool on() {
  return page != nullptr;
}

void mark(const char* phase, const char* detail) {
  if (!page) return;
  int i = __atomic_fetch_add(&page->count, 1, __ATOMIC_RELAXED);
  if (i >= kMarks) return;
  Mark& m = page->marks[i];
  m.phase = phase;
  m.detail[0] = 0;
  if (detail) {
    std::strncpy(m.detail, detail, sizeof m.detail - 1);
    m.detail[sizeof m.detail - 1] = 0;
  }
  m.pid = static_cast<int>(getpid());
  m.ns = now_ns();
}

std::string report() {
  if (!page) return "";
  int n = std::min(__atomic_load_n(&page->count, __ATOMIC_RELAXED), kMarks);
  std::vector<Mark> ms(page->marks, page->marks + n);
  std::stable_sort(ms.begin(), ms.end(), [](const Mark& a, const Mark& b) { return a.ns < b.ns; });
  std::string out =
      "sbx: start-up trace (ms since exec, +ms the phase took, pid: in its own namespace)\n";
  long long prev = page->exec_ns;
  char line[160];
  for (const auto& m : ms) {
    std::snprintf(line, sizeof line, "  %8.3f  %+8.3f  %6d  %s%s%s\n",
                  static_cast<double>(m.ns - page->exec_ns) / 1e6,
                  static_cast<double>(m.ns - prev) / 1e6, m.pid,
                  std::strcmp(m.phase, "main") == 0
                      ? "main (the cpu time before it, since the fork that made the process)"
                      : m.phase,
                  m.detail[0] ? " " : "", m.detail);
    out += line;
    prev = m.ns;
  }
  if (__atomic_load_n(&page->count, __ATOMIC_RELAXED) > kMarks)
    out += "  (more phases than kept)\n";
  return out;
}

}  // namespace sbx::core::trace
