// Signal names as people write them ("TERM", "SIGTERM", "term", "15") and as sbx prints them,
// from glibc's own table (sigabbrev_np, sigdescr_np): no hand-written list to fall behind.
#pragma once
#include <string>
#include <string_view>

#include "core/base/result.h"

namespace sbx::core {

// 15 -> "TERM", 35 -> "RTMIN+1"; "" for a number that is no signal.
std::string signal_name(int sig);
// 15 -> "Terminated"; "" for a number that is no signal.
std::string signal_description(int sig);
// "TERM", "SIGTERM", "term", "15", "RTMIN+2" -> the number (0, "check only", included); an error
// naming the word otherwise.
Result<int> signal_number(std::string_view name);

}  // namespace sbx::core
