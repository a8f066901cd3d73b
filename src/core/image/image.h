// The local image store: content-addressed layers unpacked once under <state>/layers/<hex>,
// image manifests under <state>/images/<id>.json (layers bottom first, config, tags).
#pragma once
#include <set>
#include <string>
#include <vector>

#include "core/base/fd.h"
#include "core/base/result.h"
#include "core/image/layer.h"

namespace sbx::core {

struct ImageConfig {
  std::vector<std::string> env, cmd, entrypoint;
  std::string workdir, user;
};

struct Image {
  std::string id;                   // "sha256:<hex>" of the manifest (layers + config)
  std::vector<std::string> layers;  // diff ids, bottom first
  ImageConfig config;
  std::vector<std::string> tags;  // "name:tag"
  std::string created;            // RFC 3339
};

// The state directory: $SBX_STATE, else /var/lib/sbx for root, else ~/.local/share/sbx.
std::string default_state_dir();
// Overrides the state directory for this process ("" restores the default).
void set_state_dir(const std::string& dir);

class ImageStore {
 public:
  explicit ImageStore(std::string root = default_state_dir());
  const std::string& root() const { return root_; }
  // Owner shift of layers on disk (root runs sandboxes with 0 inside = kRootMapBase outside).
  uint32_t id_shift() const;

  Status init() const;
  std::string layer_dir(const std::string& diff_id) const;
  bool has_layer(const std::string& diff_id) const;
  // A layer from a tar stream (any compression); kept once per diff id.
  Result<LayerInfo> add_layer(int fd, const std::string& what) const;
  // A layer from a directory tree (an overlay upper: whiteouts translated), `exclude` left out.
  Result<LayerInfo> add_layer_from_dir(const std::string& dir,
                                       const std::set<std::string>& exclude) const;

  // Records an image; `tag` (optional) moves to it from any other image.
  Result<Image> put(const std::vector<std::string>& layers, const ImageConfig& config,
                    const std::string& tag) const;
  // By "name:tag" ("name" means "name:latest") or by id / unique id prefix.
  Result<Image> get(const std::string& ref) const;
  // Every image record that reads; the others (not JSON, a field of the wrong type) are left out,
  // and named in `unreadable` when given.
  std::vector<Image> list(std::vector<Error>* unreadable = nullptr) const;
  Status tag(const std::string& ref, const std::string& tag) const;
  // Untags `ref`; the image itself goes when it has no tag left (or when `ref` is its id).
  Status remove(const std::string& ref) const;
  // Deletes untagged images (not those a named container uses), then layers no image or
  // container uses; returns the layers' diff ids. Refused while an image record is unreadable
  // (the layers it names cannot be known).
  // all: tagged images too, when no container (named or running) stands on them; until: only
  // images created at least that many seconds ago (podman's --filter until=). It waits for the
  // imports in progress (import_guard) and holds new ones off until it is done.
  struct PruneOptions {
    bool all = false;
    long long until = -1;
  };
  Result<std::vector<std::string>> prune(const PruneOptions& opts) const;
  Result<std::vector<std::string>> prune() const { return prune(PruneOptions{}); }
  // Held (shared) by an import, a commit or from_dir from its first layer to its manifest: a
  // layer stored before its manifest is written is in use, and prune waits for it.
  Fd import_guard() const;
  // Container directories and scratch files of sbx processes that are gone (killed): removed.
  std::vector<std::string> collect_stale() const;

 private:
  Status save(const Image& img) const;
  std::string root_;
};

// "busybox" -> "busybox:latest"; error for empty or bad characters.
Result<std::string> normalize_tag(const std::string& tag);

}  // namespace sbx::core

namespace sbx::core {

// What a container's upper layer changed against its lower layers (top first): 'A' added,
// 'M' modified, 'D' deleted (a whiteout); paths without a leading '/'. Sorted by path.
struct Change {
  char kind;
  std::string path;
};
std::vector<Change> upper_changes(const std::string& upper, const std::vector<std::string>& lowers);

// The files of the init layer: in the container, never in a commit.
const std::set<std::string>& init_layer_paths();

}  // namespace sbx::core
