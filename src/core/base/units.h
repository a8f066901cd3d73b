// Units a person types: sizes ("64M", "1.5G", "4096") and time offsets ("3600", "2h", "-30m").
#pragma once
#include <cstdint>
#include <string_view>

#include "core/base/result.h"

namespace sbx::core {

// Bytes from "64M" / "64MiB" / "64m" / "1.5G" / "512k" / "4096" (binary multiples, as docker).
Result<uint64_t> parse_size(std::string_view text);
// Seconds from "3600" / "90s" / "30m" / "2h" / "1d", with an optional leading '-'.
Result<int64_t> parse_seconds(std::string_view text);

}  // namespace sbx::core
