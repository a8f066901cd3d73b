// Reading a small file whole (records, state files, kernel files): the one helper for it.
#pragma once
#include <cstddef>
#include <string>

#include "core/base/result.h"

namespace sbx::core {

// The bytes of `path`; "read PATH: CAUSE" when it cannot be read, EFBIG past `limit` bytes.
Result<std::string> read_file(const std::string& path, size_t limit = 16 << 20);

}  // namespace sbx::core
