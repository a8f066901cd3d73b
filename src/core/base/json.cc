#include "core/base/json.h"

namespace sbx::core {

namespace {
// The value as an error shows it: JSON text, cut short.
std::string shown(const Json& v) {
  std::string t = json_text(v);
  return t.size() > 40 ? t.substr(0, 37) + "..." : t;
}
Error wrong(const std::string& what, const char* key, const Json& v, const char* expected) {
  return user_error(what + ": '" + key + "' is " + shown(v) + ", expected " + expected);
}
}  // namespace

Result<Json> parse_json(std::string_view text, const std::string& what) {
  Json j = Json::parse(text.begin(), text.end(), nullptr, false);
  if (j.is_discarded()) return user_error(what + ": not valid JSON");
  return j;
}

std::string json_text(const Json& j, int indent) {
  return j.dump(indent, ' ', false, Json::error_handler_t::replace);
}

const Json* json_field(const Json& j, const char* key) {
  if (!j.is_object()) return nullptr;
  auto it = j.find(key);
  return it == j.end() ? nullptr : &*it;
}

Result<std::string> json_string(const Json& j, const char* key, const std::string& what) {
  const Json* v = json_field(j, key);
  if (!v) return std::string();
  if (!v->is_string()) return wrong(what, key, *v, "a string");
  return v->get_ref<const std::string&>();
}

Result<std::vector<std::string>> json_strings(const Json& j, const char* key,
                                              const std::string& what) {
  std::vector<std::string> out;
  const Json* v = json_field(j, key);
  if (!v) return out;
  if (!v->is_array()) return wrong(what, key, *v, "a list of strings");
  for (const auto& x : *v) {
    if (!x.is_string()) return wrong(what, key, *v, "a list of strings");
    out.push_back(x.get_ref<const std::string&>());
  }
  return out;
}

}  // namespace sbx::core
