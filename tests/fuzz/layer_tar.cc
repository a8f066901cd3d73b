// Layer import: the input is a tar (any compression libarchive reads) unpacked into a temporary
// store; hostile entries must be refused, and nothing may appear outside the store.
#include <sys/mman.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include "core/image/image.h"
#include "scratch.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace fs = std::filesystem;
  static const std::string base = sbx::fuzz::scratch_dir("layer");
  int fd = memfd_create("layer", MFD_CLOEXEC);
  if (fd < 0) return 0;
  if (write(fd, data, size) == static_cast<ssize_t>(size) && lseek(fd, 0, SEEK_SET) == 0) {
    sbx::core::ImageStore store(base + "/store");
    (void)store.add_layer(fd, "fuzz.tar");
  }
  close(fd);
  std::error_code ec;
  fs::remove_all(base + "/store/layers", ec);
  fs::remove_all(base + "/store/tmp", ec);
  return 0;
}
