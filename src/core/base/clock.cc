#include "core/base/clock.h"

#include <time.h>

#include <cerrno>
#include <cmath>

namespace sbx::core {

void sleep_for(double seconds) {
  if (!(seconds > 0)) return;
  constexpr double kForever = 1e9;  // about 31 years: far enough, and still a time_t
  double whole = std::floor(std::fmin(seconds, kForever));
  struct timespec until;
  clock_gettime(CLOCK_MONOTONIC, &until);
  until.tv_sec += static_cast<time_t>(whole);
  until.tv_nsec += static_cast<long>((std::fmin(seconds, kForever) - whole) * 1e9);
  if (until.tv_nsec >= 1000000000L) {
    until.tv_sec += 1;
    until.tv_nsec -= 1000000000L;
  }
  // an absolute deadline: resuming after EINTR does not stretch the sleep
  while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until, nullptr) == EINTR) {
  }
}

double monotonic_seconds() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

}  // namespace sbx::core
