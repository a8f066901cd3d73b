// User namespace id maps: the defaults sbx picks and writing them for a child (by the parent).
#pragma once
#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "core/base/fd.h"
#include "core/base/result.h"
#include "core/sandbox/spec.h"

namespace sbx::core {

// Root inside maps to this unprivileged uid/gid outside when sbx runs as root (65536 ids, so
// --uid 1000 works inside). It owns nothing on the host.
constexpr uint32_t kRootMapBase = 2100000000;
constexpr uint32_t kRootMapCount = 65536;

// Defaults for the caller: root gets kRootMapBase.., anyone else a single-id map 0 -> own id.
std::vector<IdMapEntry> default_uid_map(uid_t caller);
std::vector<IdMapEntry> default_gid_map(gid_t caller, uid_t caller_uid);
// Rootless: ids 1..65535 inside from the caller's /etc/subuid and /etc/subgid ranges, when both
// exist and newuidmap/newgidmap are installed (write_id_maps then uses them).
std::optional<IdMapEntry> subordinate_range(const std::string& file, uint32_t id,
                                            const std::string& name);
void add_subordinate_ranges(std::vector<IdMapEntry>& uid_map, std::vector<IdMapEntry>& gid_map);

// "0 2100000000 65536\n..." as /proc/PID/uid_map wants it.
std::string format_id_map(const std::vector<IdMapEntry>& map);
// Parses "0:1000:1" or "0 1000 1" (inside, outside, count).
Result<IdMapEntry> parse_id_map_entry(const std::string& text);

// The map of the user namespace `pid` is in: `file` is "uid_map" or "gid_map" (/proc/PID/FILE,
// each line read by parse_id_map_entry).
Result<std::vector<IdMapEntry>> read_id_map(pid_t pid, const char* file);

// Writes setgroups (deny), uid_map and gid_map of `pid` (0 = self).
Status write_id_maps(pid_t pid, const std::vector<IdMapEntry>& uid_map,
                     const std::vector<IdMapEntry>& gid_map, bool deny_setgroups);

// A user namespace with these maps, as an fd (what an idmapped mount takes): made by a child
// cloned into it that waits while its maps are written and its namespace opened, then ends.
Result<Fd> userns_with_maps(const std::vector<IdMapEntry>& uid_map,
                            const std::vector<IdMapEntry>& gid_map);

// Where sbx keeps runtime files: /run/sbx for root, else $XDG_RUNTIME_DIR/sbx or /tmp/sbx-UID.
std::string runtime_dir();
// runtime_dir(), created when missing and checked: a directory of the caller's own that nobody else
// can write (see trust.h); the error names the path and the fix.
Status checked_runtime_dir();

}  // namespace sbx::core
