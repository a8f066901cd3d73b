#include "idmap.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <sstream>

#include "fd.h"

namespace sbx::core {

std::vector<IdMapEntry> default_uid_map(uid_t caller) {
  if (caller == 0) return {{0, kRootMapBase, kRootMapCount}};
  return {{0, caller, 1}};
}

std::vector<IdMapEntry> default_gid_map(gid_t caller, uid_t caller_uid) {
  if (caller_uid == 0) return {{0, kRootMapBase, kRootMapCount}};
  return {{0, caller, 1}};
}

std::string format_id_map(const std::vector<IdMapEntry>& map) {
  std::string out;
  for (const auto& e : map)
    out += std::to_string(e.inside) + " " + std::to_string(e.outside) + " " + std::to_string(e.count) + "\n";
  return out;
}

Result<IdMapEntry> parse_id_map_entry(const std::string& text) {
  std::string t = text;
  for (char& c : t)
    if (c == ':') c = ' ';
  std::istringstream in(t);
  long long a = -1, b = -1, c = 1;
  in >> a >> b;
  if (!(in >> c)) c = 1;
  std::string rest;
  if (a < 0 || b < 0 || c < 1 || a > 4294967294LL || b > 4294967294LL || c > 4294967295LL || (in >> rest))
    return user_error("bad id map '" + text + "' (expected INSIDE:OUTSIDE[:COUNT], e.g. 0:1000:1)");
  return IdMapEntry{static_cast<uint32_t>(a), static_cast<uint32_t>(b), static_cast<uint32_t>(c)};
}

namespace {
Status write_proc(const std::string& path, const std::string& data, const std::string& what) {
  Fd fd(open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd.ok()) return sys_error("write " + what + ": open " + path);
  if (write(fd.get(), data.data(), data.size()) != static_cast<ssize_t>(data.size())) {
    int e = errno;
    std::string hint = e == EPERM ? " (is the outside id range mapped to the caller, or newuidmap needed?)" : "";
    return sys_error("write " + what + " '" + data.substr(0, data.find('\n')) + "'" + hint, e);
  }
  return {};
}
}  // namespace

Status write_id_maps(pid_t pid, const std::vector<IdMapEntry>& uid_map,
                     const std::vector<IdMapEntry>& gid_map, bool deny_setgroups) {
  std::string base = pid == 0 ? "/proc/self/" : "/proc/" + std::to_string(pid) + "/";
  if (deny_setgroups)
    if (auto s = write_proc(base + "setgroups", "deny", "setgroups"); !s) return s;
  if (auto s = write_proc(base + "uid_map", format_id_map(uid_map), "uid map"); !s) return s;
  if (auto s = write_proc(base + "gid_map", format_id_map(gid_map), "gid map"); !s) return s;
  return {};
}

std::string runtime_dir() {
  uid_t uid = getuid();
  if (uid == 0) return "/run/sbx";
  if (const char* x = std::getenv("XDG_RUNTIME_DIR"); x && *x == '/') return std::string(x) + "/sbx";
  return "/tmp/sbx-" + std::to_string(uid);
}

}  // namespace sbx::core
