// Image layers as tar streams: import (checked, extracted without following any symlink, OCI
// whiteouts turned into overlay whiteouts) and export (overlay whiteouts turned back into OCI
// whiteout files). Nothing is ever written outside the destination directory.
#pragma once
#include <set>
#include <string>

#include "core/base/result.h"

namespace sbx::core {

struct LayerInfo {
  std::string diff_id;  // "sha256:<hex>" of the uncompressed tar
  uint64_t tar_size = 0;
  size_t entries = 0;
};

// Why an entry name is refused ("" when it is fine): absolute, "..", empty.
std::string check_entry_path(const std::string& name);
// Lexically normalised ("./a//b/" -> "a/b"); "" for the root.
std::string normalize_entry_path(const std::string& name);
// True when a symlink at `link_path` (normalised) with `target` points above the layer's root.
bool symlink_escapes(const std::string& link_path, const std::string& target);

// Reads a tar (plain, gzip, zstd, xz: whatever libarchive knows) from `fd` and extracts it into
// `dest`, which must not exist yet; `spool` is a scratch file path beside it. `what` names the
// layer in errors. Hostile input (traversal, escaping links, device nodes, duplicates, setuid
// when not root, truncation) is refused with its own message and `dest` is removed.
// `id_shift` is added to every owner (root-run sandboxes map 0 inside to kRootMapBase outside, so
// a layer they run must be owned by the shifted ids to be usable inside).
Result<LayerInfo> import_layer(int fd, const std::string& dest, const std::string& spool,
                               const std::string& what, uint32_t id_shift = 0);

// Writes `dir` (a layer, or an overlay upper directory) as an uncompressed tar to `out_fd`:
// overlay whiteouts (0:0 character devices) become ".wh.NAME", opaque directories get
// ".wh..wh..opq"; paths in `exclude` (normalised) are left out. Returns its diff id.
// Owners at or above `id_shift` are written back unshifted. `out_fd` < 0 only computes the
// digest; a `mirror` directory (made, must not exist) receives a copy of the tree as the store
// keeps layers, in the same pass (commit: one read of the data, one write).
Result<LayerInfo> export_layer(const std::string& dir, int out_fd,
                               const std::set<std::string>& exclude, uint32_t id_shift = 0,
                               const std::string& mirror = "");

}  // namespace sbx::core
