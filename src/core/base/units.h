// Numbers a person types or a file holds: sizes ("64M", "1.5G", "4096"), time offsets ("3600",
// "2h", "-30m") and plain whole numbers (pids, ids, errno values), all without exceptions.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

#include "core/base/result.h"

namespace sbx::core {

// Bytes from "64M" / "64MiB" / "64m" / "1.5G" / "512k" / "4096" (binary multiples, as docker).
Result<uint64_t> parse_size(std::string_view text);
// Seconds from "3600" / "90s" / "30m" / "2h" / "1d", with an optional leading '-'.
Result<int64_t> parse_seconds(std::string_view text);
// Decimal digits only (no sign, no space), at most `max`; else an EINVAL error naming `what` and
// the text: "errno '99999999999': not a whole number of at most 4095".
Result<uint64_t> parse_uint(std::string_view text, uint64_t max, const std::string& what);
// An errno by its name ("EACCES", any the C library names) or number ("13"), 1..4095.
Result<int> parse_errno(const std::string& text);

}  // namespace sbx::core
