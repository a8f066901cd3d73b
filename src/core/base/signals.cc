#include "core/base/signals.h"

#include <signal.h>
#include <string.h>

#include <cctype>

namespace sbx::core {

namespace {

// The number in `text` if it is all digits and at most `max`, else -1.
int small_number(std::string_view text, int max) {
  if (text.empty() || text.size() > 3) return -1;
  int n = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return -1;
    n = n * 10 + (c - '0');
  }
  return n <= max ? n : -1;
}

}  // namespace

std::string signal_name(int sig) {
  if (sig >= SIGRTMIN && sig <= SIGRTMAX) {
    // glibc names only the classic signals; the real-time ones are counted from either end
    if (sig == SIGRTMIN) return "RTMIN";
    if (sig == SIGRTMAX) return "RTMAX";
    return "RTMIN+" + std::to_string(sig - SIGRTMIN);
  }
  const char* abbrev = sig > 0 ? sigabbrev_np(sig) : nullptr;
  return abbrev ? abbrev : "";
}

std::string signal_description(int sig) {
  const char* descr = sig > 0 ? sigdescr_np(sig) : nullptr;
  if (descr) return descr;
  if (sig >= SIGRTMIN && sig <= SIGRTMAX)
    return "Real-time signal " + std::to_string(sig - SIGRTMIN);
  return "";
}

Result<int> signal_number(std::string_view name) {
  auto unknown = [&] {
    return Error{EINVAL, "unknown signal '" + std::string(name) +
                             "' (e.g. TERM, KILL, INT, HUP or a number)"};
  };
  if (int n = small_number(name, SIGRTMAX); n >= 0) return n;
  std::string up;
  for (char c : name) up += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (up.rfind("SIG", 0) == 0) up.erase(0, 3);
  if (up.empty()) return unknown();
  for (int s = 1; s < SIGRTMIN; ++s)
    if (const char* abbrev = sigabbrev_np(s); abbrev && up == abbrev) return s;
  int range = SIGRTMAX - SIGRTMIN;
  if (up == "RTMIN") return SIGRTMIN;
  if (up == "RTMAX") return SIGRTMAX;
  if (up.rfind("RTMIN+", 0) == 0)
    if (int k = small_number(std::string_view(up).substr(6), range); k >= 0) return SIGRTMIN + k;
  if (up.rfind("RTMAX-", 0) == 0)
    if (int k = small_number(std::string_view(up).substr(6), range); k >= 0) return SIGRTMAX - k;
  return unknown();
}

}  // namespace sbx::core
