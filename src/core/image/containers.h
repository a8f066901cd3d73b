// The directories of containers and sandboxes in the image store:
//   <store>/containers/<pid>-<n>  a container that lives as long as the sbx process that made it
//   <store>/named/NAME            a container kept by name (`--name` with an image), reused later
//   <store>/sandboxes/NAME        a long-running sandbox (`run -d`; see sandbox/detach.h)
// A container directory holds upper/ and work/ (its overlay's), `layers` (the diff ids it stands
// on, so that prune keeps them) and, when named, `image` (the id it was made from).
#pragma once
#include <string>
#include <vector>

#include "core/base/fd.h"
#include "core/base/result.h"
#include "core/image/image.h"

namespace sbx::core {

struct ContainerDirs {
  std::string dir, upper, work;
  std::string image;  // a named container's image id
};

// A new container directory for this process, owned so that root in the sandbox can write its
// upper layer; `layers` are recorded.
Result<ContainerDirs> make_container_dirs(const ImageStore& store,
                                          const std::vector<std::string>& layers);

// <store>/workspaces/NAME with upper/ and work/ owned by the sandbox's root (refused when it
// exists): a workspace's overlay (core/fs/workspace.h).
Result<std::string> make_workspace_dirs(const ImageStore& store, const std::string& name,
                                        const std::string& lower);

// Letters, digits, _ . - (not first), at most 64: the names of named containers.
bool valid_container_name(const std::string& name);

// <store>/named/NAME: made on first use (then `image`, an id, is required), reused after (a
// given `image` must be the one it was made from).
Result<ContainerDirs> named_container(const ImageStore& store, const std::string& name,
                                      const std::string& image);

// What a container directory records: the layers it stands on, the image a named one was made
// from ("" when none).
std::vector<std::string> container_layers(const std::string& dir);
std::string container_image(const std::string& dir);

// An error unless `dir` is a container or sandbox directory of the store (under containers/,
// named/ or sandboxes/, no ".."): nothing else of the store, or outside it, is ever removed.
Status check_removable(const ImageStore& store, const std::string& dir);
// Removes such a directory with all it holds (checked first).
Status remove_container_dir(const ImageStore& store, const std::string& dir);

// Named entries (named containers, `run -d` sandboxes) are claimed atomically: a draft directory
// <store>/<kind>/.new-<pid>-<n> (0700) is filled while its creator holds a lock on it, then
// published under its name with one rename that never replaces (EEXIST: the name is in use).
// The lock passes to whoever keeps the fd open (the supervisor of a detached sandbox).
struct Draft {
  std::string path;
  Fd lock;
};
Result<Draft> draft_dir(const ImageStore& store, const std::string& kind);
// Renames `draft` to `dest` unless `dest` exists ("DEST: name in use", EEXIST); the draft is
// removed when it cannot be published.
Status publish_dir(const std::string& draft, const std::string& dest);

// True while a process holds the lock of directory `path` (its creator, or the process that the
// lock was passed to); false for a directory nobody holds, or one that is gone.
bool dir_in_use(const std::string& path);

}  // namespace sbx::core
