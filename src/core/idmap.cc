#include "idmap.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <vector>

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
  auto bad = [&] { return user_error("bad id map '" + text + "' (expected INSIDE:OUTSIDE[:COUNT], e.g. 0:1000:1)"); };
  std::vector<std::string> parts;
  std::string cur;
  for (char c : text) {
    if (c == ':' || c == ' ') {
      if (!cur.empty()) parts.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (!cur.empty()) parts.push_back(cur);
  if (parts.size() < 2 || parts.size() > 3) return bad();
  uint64_t v[3] = {0, 0, 1};
  for (size_t i = 0; i < parts.size(); ++i) {
    const std::string& p = parts[i];
    if (p.size() > 10 || p.find_first_not_of("0123456789") != std::string::npos) return bad();
    v[i] = std::stoull(p);
  }
  if (v[0] > 4294967294ULL || v[1] > 4294967294ULL || v[2] < 1 || v[2] > 4294967295ULL) return bad();
  return IdMapEntry{static_cast<uint32_t>(v[0]), static_cast<uint32_t>(v[1]), static_cast<uint32_t>(v[2])};
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
