// Root filesystems sbx can make without downloading anything.
#pragma once
#include <string>

#include "core/base/result.h"

namespace sbx::core {

// The cache directory: /var/cache/sbx for root, else $XDG_CACHE_HOME/sbx or ~/.cache/sbx.
std::string cache_dir();

// A minimal root from the static busybox binary (Debian's busybox-static): /bin with every
// applet, /etc/passwd and group, empty /proc /dev /sys /tmp. Built once into the cache (atomic
// rename, rebuilt when the busybox binary changes); returns its path.
Result<std::string> busybox_rootfs(const std::string& busybox = "/bin/busybox");

// Debian made by debootstrap (root only), once: <cache>/rootfs/debootstrap-SUITE-VARIANT, which
// holds .sbx-complete once whole (built in a scratch directory, then renamed into place). Its
// output goes to our stderr, or, when `quiet`, to a log whose end the error quotes. Returns the
// path.
struct Debootstrap {
  std::string suite = "bookworm", variant = "minbase", mirror;
  bool quiet = false;
};
Result<std::string> debootstrap_rootfs(const Debootstrap& what);

// True when the ELF file at `path` needs no dynamic loader (no PT_INTERP).
Result<bool> is_static_elf(const std::string& path);

}  // namespace sbx::core
