// overlayfs mounts: a stack of read-only lower directories with an optional writable upper.
#pragma once
#include <string>
#include <vector>

#include "core/base/result.h"

namespace sbx::core {

// Mounts an overlay on `target`. Lower layers are given top first. Uses the new mount API, one
// fsconfig call per layer ("lowerdir+", kernel >= 6.8), so no path needs escaping; older kernels
// get a single escaped "lowerdir" string. An empty upper makes a read-only overlay.
Status mount_overlay(const std::vector<std::string>& lowers, const std::string& upper,
                     const std::string& work, const std::string& target);

// Escapes a path for an overlay lowerdir/upperdir option value (':' ',' '\' get a backslash).
std::string escape_overlay_path(const std::string& path);

}  // namespace sbx::core
