#include "core/base/schema.h"

#include <cstdio>
#include <cstdlib>

namespace sbx::core::schema {

std::string type_name(const Json& j) {
  switch (j.type()) {
    case Json::value_t::null:
      return "nothing";
    case Json::value_t::boolean:
      return j.get<bool>() ? "true" : "false";
    case Json::value_t::string:
      return "a string";
    case Json::value_t::array:
      return "a list";
    case Json::value_t::object:
      return "a table";
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned:
    case Json::value_t::number_float:
      return "a number";
    default:
      return "a value of another kind";
  }
}

std::string number_text(double d) {
  char text[40];
  snprintf(text, sizeof text, "%.15g", d);
  if (std::strtod(text, nullptr) != d) snprintf(text, sizeof text, "%.17g", d);
  return text;
}

namespace {
std::string whole_text(long double v) {
  char text[48];
  snprintf(text, sizeof text, "%.0Lf", v);
  return text;
}
}  // namespace

Status decode_whole(const Json& j, long double lo, long double hi, const char* what,
                    const std::string& path, long double& out) {
  std::string shown;
  if (j.is_number_unsigned()) {
    out = static_cast<long double>(j.get<uint64_t>());
    shown = std::to_string(j.get<uint64_t>());
  } else if (j.is_number_integer()) {
    out = static_cast<long double>(j.get<int64_t>());
    shown = std::to_string(j.get<int64_t>());
  } else if (j.is_number_float()) {
    double d = j.get<double>();
    shown = number_text(d);
    // long double holds every 64-bit integer exactly: the range test is exact, so the cast after
    // it is defined (1e35 or 2^64 are errors, not wrapped values)
    if (!std::isfinite(d) || d != std::floor(d))
      out = lo - 1;
    else
      out = static_cast<long double>(d);
  } else {
    return bad(path, std::string("expected ") + (what ? what : "a whole number") + ", got " +
                         type_name(j));
  }
  if (out < lo || out > hi)
    return bad(path, shown + " is not " + (what ? what : "a whole number") + " in " +
                         whole_text(lo) + ".." + whole_text(hi));
  return {};
}

std::string key_list(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

}  // namespace sbx::core::schema
