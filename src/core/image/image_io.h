// Images in the formats other tools write and read: a `docker save` tarball and an OCI image
// layout (a directory, or a tar of one, as `podman save --format oci-archive` and
// `skopeo copy ... oci-archive:` write), gzip or not.
#pragma once
#include <string>
#include <vector>

#include "core/image/image.h"

namespace sbx::core {

// Imports every image in `path` (file or directory). Blob digests and layer diff ids are
// verified; `name` tags images whose archive gives no usable name ("" = "imported").
Result<std::vector<Image>> import_images(const ImageStore& store, const std::string& path,
                                         const std::string& name);

// Writes image `ref` to `out_path` as "oci-archive" (OCI layout in a tar) or "docker-archive".
Status export_image(const ImageStore& store, const std::string& ref, const std::string& out_path,
                    const std::string& format);

}  // namespace sbx::core
