// Image metadata: the input is an OCI index.json (first byte even) or a docker manifest.json (odd)
// of a layout with no blobs, imported into a temporary store: every field is read, nothing trusted.
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "core/image/image.h"
#include "core/image/image_io.h"
#include "scratch.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace fs = std::filesystem;
  static const std::string base = sbx::fuzz::scratch_dir("image");
  if (size == 0) return 0;
  std::error_code ec;
  std::string layout = base + "/layout", store_dir = base + "/store";
  fs::remove_all(layout, ec);
  fs::create_directories(layout + "/blobs/sha256", ec);
  bool oci = (data[0] & 1) == 0;
  std::ofstream(layout + (oci ? "/index.json" : "/manifest.json"))
      .write(reinterpret_cast<const char*>(data + 1), static_cast<std::streamsize>(size - 1));
  if (oci) std::ofstream(layout + "/oci-layout") << R"({"imageLayoutVersion":"1.0.0"})";
  sbx::core::ImageStore store(store_dir);
  (void)sbx::core::import_images(store, layout, "");
  return 0;
}
