// Mount steps run by the sandbox child in its own mount namespace: make everything private,
// build the new root under a stage directory, walk the setup ops, switch root.
#pragma once
#include <string>

#include "core/base/fd.h"
#include "core/base/result.h"
#include "core/sandbox/spec.h"

namespace sbx::core {

// MS_REC|MS_PRIVATE on "/": the first mount call in every new mount namespace.
Status make_mounts_private();

// Puts the root (rootfs dir, or the host's "/" read-only) at `stage`; returns the directory
// the new root is at (the stage, or a scratch overlay under it when mount points are missing).
Result<std::string> prepare_root(const Spec& spec, const std::string& stage);
// Runs one op with its destination under `stage`. `pid_ns_new` lets proc fall back to a bind.
// `tree`: a bind's idmapped copy of its source (idmapped_tree), attached instead of a bind.
Status run_op(const Op& op, const std::string& stage, bool pid_ns_new, int tree = -1);
// A detached copy of a bind's source (open_tree), idmapped to the user namespace `userns`
// (op.uid_map / gid_map): made by the supervisor in the host's namespaces, where it may.
Result<Fd> idmapped_tree(const Op& op, int userns);
// Makes the stage's top mount read-only (sub-mounts such as /tmp keep their own flags).
Status finish_root(const Spec& spec, const std::string& stage);
// pivot_root into `stage` and detach the old root; chroot on the initial ramfs (said on stderr).
Status switch_root(const std::string& stage);

// mkdir -p, each component with `mode`.
Status make_dirs(const std::string& path, unsigned mode = 0755);
// "/a/b/c" -> "/a/b"; "/a" and "a" -> "/".
std::string parent_of(const std::string& path);

}  // namespace sbx::core
