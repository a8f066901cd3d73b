// JSON from files, images and other programs, read and written without exceptions: nlohmann's
// throwing calls (parse, get<>, value(), at(), const operator[], dump() of bytes that are not
// UTF-8) stay out of the core, and a wrong field is an error naming the document, key and value.
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "core/base/result.h"

namespace sbx::core {

using Json = nlohmann::json;

// The document in `text`, or EINVAL "WHAT: not valid JSON".
Result<Json> parse_json(std::string_view text, const std::string& what);
// Serialised (indent -1: one line); bytes that are not UTF-8 become U+FFFD.
std::string json_text(const Json& j, int indent = -1);
// j[key] when j is an object that has it, else nullptr.
const Json* json_field(const Json& j, const char* key);
// A string field: "" when absent, EINVAL "WHAT: 'KEY' is VALUE, expected a string" otherwise.
Result<std::string> json_string(const Json& j, const char* key, const std::string& what);
// A list of strings: {} when absent; an error when it is not a list or an element is no string.
Result<std::vector<std::string>> json_strings(const Json& j, const char* key,
                                              const std::string& what);

}  // namespace sbx::core
