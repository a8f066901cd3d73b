#include "core/base/units.h"

#include <cctype>
#include <charconv>
#include <cmath>
#include <cstring>
#include <string>

namespace sbx::core {

namespace {
// Splits "1.5G" into 1.5 and "G"; false if there is no number.
bool split_number(std::string_view text, double& number, std::string& suffix) {
  size_t i = 0;
  if (i < text.size() && (text[i] == '-' || text[i] == '+')) ++i;
  size_t digits = 0;
  while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.')) {
    ++i;
    ++digits;
  }
  if (digits == 0) return false;
  std::string num(text.substr(0, i));
  char* end = nullptr;
  number = std::strtod(num.c_str(), &end);
  if (end != num.c_str() + num.size()) return false;
  for (char c : text.substr(i))
    suffix += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return true;
}
}  // namespace

Result<uint64_t> parse_size(std::string_view text) {
  double n = 0;
  std::string suffix;
  std::string shown(text);
  if (!split_number(text, n, suffix) || n < 0)
    return user_error("bad size '" + shown + "' (expected e.g. 4096, 512K, 64M, 1.5G)");
  double mult = 1;
  if (suffix.empty() || suffix == "b")
    mult = 1;
  else if (suffix == "k" || suffix == "kb" || suffix == "kib")
    mult = 1024.0;
  else if (suffix == "m" || suffix == "mb" || suffix == "mib")
    mult = 1024.0 * 1024;
  else if (suffix == "g" || suffix == "gb" || suffix == "gib")
    mult = 1024.0 * 1024 * 1024;
  else if (suffix == "t" || suffix == "tb" || suffix == "tib")
    mult = 1024.0 * 1024 * 1024 * 1024;
  else
    return user_error("bad size '" + shown + "': unknown unit '" + suffix + "' (use K, M, G or T)");
  double bytes = std::floor(n * mult);
  if (bytes > 1.8e19) return user_error("bad size '" + shown + "': too large");
  return static_cast<uint64_t>(bytes);
}

Result<int64_t> parse_seconds(std::string_view text) {
  double n = 0;
  std::string suffix;
  std::string shown(text);
  if (!split_number(text, n, suffix))
    return user_error("bad duration '" + shown + "' (expected e.g. 3600, 90s, 30m, 2h, 1d)");
  double mult = 1;
  if (suffix.empty() || suffix == "s")
    mult = 1;
  else if (suffix == "m")
    mult = 60;
  else if (suffix == "h")
    mult = 3600;
  else if (suffix == "d")
    mult = 86400;
  else
    return user_error("bad duration '" + shown + "': unknown unit '" + suffix +
                      "' (use s, m, h or d)");
  double secs = n * mult;
  if (!(std::fabs(secs) < 9.2e18)) return user_error("bad duration '" + shown + "': too large");
  return static_cast<int64_t>(std::llround(secs));
}

Result<uint64_t> parse_uint(std::string_view text, uint64_t max, const std::string& what) {
  uint64_t v = 0;
  const char* end = text.data() + text.size();
  auto r = std::from_chars(text.data(), end, v);
  if (text.empty() || r.ec != std::errc() || r.ptr != end || v > max)
    return user_error(what + " '" + std::string(text) + "': not a whole number of at most " +
                      std::to_string(max));
  return v;
}

Result<int> parse_errno(const std::string& text) {
  for (int e = 1; e < 4096; ++e)
    if (const char* n = strerrorname_np(e); n && text == n) return e;
  auto n = parse_uint(text, 4095, "errno");
  if (!n || *n == 0)
    return user_error("errno '" + text + "': not a name such as EACCES or a number 1..4095");
  return static_cast<int>(*n);
}

}  // namespace sbx::core
