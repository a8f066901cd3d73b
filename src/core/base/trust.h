// Directories and files sbx trusts: its own, and nobody else's. A runtime, state or cache directory
// is created by its owner with a private mode and checked on every use (a real directory, not a
// symlink, owned by the caller, writable by nobody else); a cached artefact is only read from such
// a directory through a descriptor whose owner and mode were checked.
#pragma once
#include <string>

#include "core/base/fd.h"
#include "core/base/result.h"

namespace sbx::core {

// Creates `path` with `mode` when missing (parents 0755), then checks it. `what` names it in errors
// ("runtime directory"); the error names the path, its owner and mode, and the fix. Returns the
// directory's descriptor (the very directory checked) for callers that tighten it further.
Result<Fd> trusted_dir(const std::string& path, unsigned mode, const std::string& what);

// Opens a file under a trusted directory for reading: a regular file (never through a symlink)
// owned by the caller and writable by nobody else; otherwise an error (EPERM) naming why.
Result<Fd> open_trusted_file(const std::string& path);

}  // namespace sbx::core
