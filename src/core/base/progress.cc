#include "core/base/progress.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>

namespace sbx::core {

Progress::Progress(std::string step)
    : step_(std::move(step)),
      tty_(isatty(2) && !std::getenv("SBX_QUIET")),
      start_(std::chrono::steady_clock::now()),
      last_(start_) {}

Progress::~Progress() {
  if (shown_) draw(true);
}

void Progress::add(uint64_t bytes) {
  bytes_ += bytes;
  if (!tty_) return;
  auto now = std::chrono::steady_clock::now();
  // nothing for work that ends within half a second; then ten updates a second
  if (now - start_ < std::chrono::milliseconds(500) || now - last_ < std::chrono::milliseconds(100))
    return;
  last_ = now;
  draw(false);
}

void Progress::draw(bool final) {
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  double mb = static_cast<double>(bytes_) / (1 << 20);
  std::fprintf(stderr, "\r\033[K%s: %.1f MB%s%.1f MB/s%s", step_.c_str(), mb,
               final ? " done, " : ", ", secs > 0 ? mb / secs : 0.0, final ? "\n" : "");
  std::fflush(stderr);
  shown_ = true;
}

}  // namespace sbx::core
