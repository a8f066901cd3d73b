#include "core/base/file.h"

#include <fcntl.h>
#include <unistd.h>

#include "core/base/fd.h"

namespace sbx::core {

Result<std::string> read_file(const std::string& path, size_t limit) {
  Fd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.ok()) return sys_error("read " + path);
  std::string out;
  char buf[65536];
  for (;;) {
    ssize_t n = read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return sys_error("read " + path);
    if (n == 0) return out;
    out.append(buf, static_cast<size_t>(n));
    if (out.size() > limit)
      return Error{EFBIG, "read " + path + ": larger than " + std::to_string(limit) + " bytes"};
  }
}

}  // namespace sbx::core
