#include "core/sandbox/idmap.h"

#include <fcntl.h>
#include <pwd.h>
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <sstream>
#include <vector>

#include "core/base/fault.h"
#include "core/base/fd.h"
#include "core/base/io.h"
#include "core/base/program.h"
#include "core/base/trust.h"
#include "core/base/units.h"
#include "core/sandbox/ns.h"

namespace sbx::core {

std::vector<IdMapEntry> default_uid_map(uid_t caller) {
  if (caller == 0) return {{0, kRootMapBase, kRootMapCount}};
  return {{0, caller, 1}};
}

std::vector<IdMapEntry> default_gid_map(gid_t caller, uid_t caller_uid) {
  if (caller_uid == 0) return {{0, kRootMapBase, kRootMapCount}};
  return {{0, caller, 1}};
}

std::optional<IdMapEntry> subordinate_range(const std::string& file, uint32_t id,
                                            const std::string& name) {
  auto text = read_file(file);
  std::istringstream in(text ? *text : "");
  std::string line;
  while (std::getline(in, line)) {
    auto a = line.find(':'), b = line.find(':', a == std::string::npos ? a : a + 1);
    if (a == std::string::npos || b == std::string::npos) continue;
    std::string who = line.substr(0, a);
    if (who != name && who != std::to_string(id)) continue;
    // a line that is not NAME:START:COUNT with whole numbers is skipped, as newuidmap does
    auto start = parse_uint(std::string_view(line).substr(a + 1, b - a - 1), 4294967294ULL,
                            file + ": start");
    auto count = parse_uint(std::string_view(line).substr(b + 1), UINT64_MAX, file + ": count");
    if (!start || !count || *count == 0) continue;
    return IdMapEntry{1, static_cast<uint32_t>(*start),
                      static_cast<uint32_t>(std::min<uint64_t>(*count, kRootMapCount - 1))};
  }
  return std::nullopt;
}

bool id_map_helpers() {
  return access("/usr/bin/newuidmap", X_OK) == 0 && access("/usr/bin/newgidmap", X_OK) == 0;
}

void add_subordinate_ranges(std::vector<IdMapEntry>& uid_map, std::vector<IdMapEntry>& gid_map) {
  uid_t uid = getuid();
  if (uid == 0 || !id_map_helpers()) return;
  std::string name;
  if (struct passwd* pw = getpwuid(uid)) name = pw->pw_name;
  auto u = subordinate_range("/etc/subuid", uid, name);
  auto g = subordinate_range("/etc/subgid", uid, name);
  if (!u || !g) return;  // both or neither: a half-mapped sandbox only confuses
  uid_map.push_back(*u);
  gid_map.push_back(*g);
}

std::string format_id_map(const std::vector<IdMapEntry>& map) {
  std::string out;
  for (const auto& e : map)
    out += std::to_string(e.inside) + " " + std::to_string(e.outside) + " " +
           std::to_string(e.count) + "\n";
  return out;
}

Result<IdMapEntry> parse_id_map_entry(const std::string& text) {
  auto bad = [&] {
    return user_error("bad id map '" + text + "' (expected INSIDE:OUTSIDE[:COUNT], e.g. 0:1000:1)");
  };
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
    auto n = parse_uint(parts[i], i < 2 ? 4294967294ULL : 4294967295ULL, "id map");
    if (!n) return bad();
    v[i] = *n;
  }
  if (v[2] < 1) return bad();
  return IdMapEntry{static_cast<uint32_t>(v[0]), static_cast<uint32_t>(v[1]),
                    static_cast<uint32_t>(v[2])};
}

namespace {
Status write_proc(const std::string& path, const std::string& data, const std::string& what) {
  auto s = write_control(path, data);
  if (s) return s;
  std::string hint = s.error().err == EPERM
                         ? " (is the outside id range mapped to the caller, or newuidmap needed?)"
                         : "";
  return s.error().context(what + " '" + data.substr(0, data.find('\n')) + "'" + hint);
}
}  // namespace

namespace {
// newuidmap/newgidmap (setuid, from the uidmap package) write ranges /etc/subuid grants us.
Status run_map_helper(const char* helper, pid_t pid, const std::vector<IdMapEntry>& map) {
  std::vector<std::string> args = {helper, std::to_string(pid)};
  for (const auto& e : map) {
    args.push_back(std::to_string(e.inside));
    args.push_back(std::to_string(e.outside));
    args.push_back(std::to_string(e.count));
  }
  auto end = run_program(args);
  if (!end) return end.error();
  if (!end->ok())
    return Error{EPERM, std::string(helper) + " " + args[1] + " " +
                            format_id_map(map).substr(0, 40) + "... failed (status " +
                            std::to_string(end->status()) + "): check /etc/subuid and /etc/subgid"};
  return {};
}

bool needs_helper(const std::vector<IdMapEntry>& map, uint32_t own) {
  if (getuid() == 0) return false;
  return map.size() > 1 || (map.size() == 1 && (map[0].outside != own || map[0].count != 1));
}
}  // namespace

Result<std::vector<IdMapEntry>> read_id_map(pid_t pid, const char* file) {
  std::string path = "/proc/" + std::to_string(pid) + "/" + file;
  auto text = read_file(path);
  if (!text) return text.error();
  std::vector<IdMapEntry> map;
  size_t at = 0;
  while (at < text->size()) {
    size_t nl = text->find('\n', at);
    std::string line = text->substr(at, nl == std::string::npos ? std::string::npos : nl - at);
    at = nl == std::string::npos ? text->size() : nl + 1;
    if (line.find_first_not_of(' ') == std::string::npos) continue;
    auto e = parse_id_map_entry(line);
    if (!e) return e.error().context(path);
    map.push_back(*e);
  }
  return map;
}

Status write_id_maps(pid_t pid, const std::vector<IdMapEntry>& uid_map,
                     const std::vector<IdMapEntry>& gid_map, bool deny_setgroups) {
  std::string base = pid == 0 ? "/proc/self/" : "/proc/" + std::to_string(pid) + "/";
  if (pid != 0 && (needs_helper(uid_map, getuid()) || needs_helper(gid_map, getgid()))) {
    // setgroups first: newgidmap refuses to open groups up, and sbx never wants that anyway
    if (deny_setgroups)
      if (auto s = write_proc(base + "setgroups", "deny", "setgroups"); !s) return s;
    if (auto s = run_map_helper("/usr/bin/newuidmap", pid, uid_map); !s)
      return s.error().context("uid map");
    if (auto s = run_map_helper("/usr/bin/newgidmap", pid, gid_map); !s)
      return s.error().context("gid map");
    return {};
  }
  if (deny_setgroups)
    if (auto s = write_proc(base + "setgroups", "deny", "setgroups"); !s) return s;
  if (auto s = write_proc(base + "uid_map", format_id_map(uid_map), "uid map"); !s) return s;
  if (auto s = write_proc(base + "gid_map", format_id_map(gid_map), "gid map"); !s) return s;
  return {};
}

std::string runtime_dir() {
  uid_t uid = getuid();
  if (uid == 0) return "/run/sbx";
  if (const char* x = std::getenv("XDG_RUNTIME_DIR"); x && *x == '/')
    return std::string(x) + "/sbx";
  return "/tmp/sbx-" + std::to_string(uid);
}

Status checked_runtime_dir() {
  // root's children (root only in their user namespace) must reach the stage: 0755; a user's own
  // children are that user outside: 0700.
  if (int e = fault("spawn.runtime-dir"))
    return fault_error("spawn.runtime-dir", "runtime directory " + runtime_dir(), e);
  auto d = trusted_dir(runtime_dir(), getuid() == 0 ? 0755 : 0700, "runtime directory");
  if (!d) return d.error();
  return {};
}

Result<Fd> userns_with_maps(const std::vector<IdMapEntry>& uid_map,
                            const std::vector<IdMapEntry>& gid_map) {
  int p[2];
  if (pipe2(p, O_CLOEXEC) != 0) return sys_error("id map namespace: pipe");
  Fd wait_end(p[0]), go_end(p[1]);
  auto cl = clone_process(CLONE_NEWUSER, false);
  if (!cl) return cl.error().context("id map namespace");
  if (cl->pid == 0) {
    close(p[1]);  // (our copy: the read ends when the parent closes its own)
    char c;
    (void)!read(p[0], &c, 1);  // EOF: the parent is done with us
    _exit(0);
  }
  auto reap = [&]() {
    go_end.reset();
    while (waitpid(cl->pid, nullptr, 0) < 0 && errno == EINTR) {
    }
  };
  if (auto s = write_id_maps(cl->pid, uid_map, gid_map, false); !s) {
    reap();
    return s.error().context("id map namespace");
  }
  Fd ns(open(("/proc/" + std::to_string(cl->pid) + "/ns/user").c_str(), O_RDONLY | O_CLOEXEC));
  Error e = ns.ok() ? Error{} : sys_error("id map namespace: open it");
  reap();
  if (!ns.ok()) return e;
  return ns;
}

}  // namespace sbx::core
