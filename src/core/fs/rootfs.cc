#include "core/fs/rootfs.h"

#include <elf.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "core/base/fd.h"
#include "core/base/handle.h"
#include "core/base/trust.h"
#include "core/fs/mount.h"

namespace sbx::core {

namespace fs = std::filesystem;

std::string cache_dir() {
  if (getuid() == 0) return "/var/cache/sbx";
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x == '/') return std::string(x) + "/sbx";
  if (const char* h = std::getenv("HOME"); h && *h == '/') return std::string(h) + "/.cache/sbx";
  return "/tmp/sbx-cache-" + std::to_string(getuid());
}

Result<bool> is_static_elf(const std::string& path) {
  Fd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.ok()) return sys_error("open " + path);
  Elf64_Ehdr eh;
  if (pread(fd.get(), &eh, sizeof eh, 0) != sizeof eh || std::memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 ||
      eh.e_ident[EI_CLASS] != ELFCLASS64)
    return Error{ENOEXEC, path + ": not a 64-bit ELF file"};
  for (int i = 0; i < eh.e_phnum; ++i) {
    Elf64_Phdr ph;
    off_t off = static_cast<off_t>(eh.e_phoff + static_cast<uint64_t>(i) * eh.e_phentsize);
    if (pread(fd.get(), &ph, sizeof ph, off) != sizeof ph) return Error{ENOEXEC, path + ": truncated ELF"};
    if (ph.p_type == PT_INTERP) return false;
  }
  return true;
}

namespace {

Result<std::vector<std::string>> applets(const std::string& busybox) {
  std::string cmd = "'" + busybox + "' --list 2>/dev/null";
  Pipe p(popen(cmd.c_str(), "re"));
  if (!p) return sys_error("run " + busybox + " --list");
  std::vector<std::string> out;
  char line[256];
  while (fgets(line, sizeof line, p.get())) {
    std::string a(line);
    while (!a.empty() && (a.back() == '\n' || a.back() == '\r')) a.pop_back();
    if (!a.empty() && a.find('/') == std::string::npos && a != "busybox") out.push_back(a);
  }
  int st = pclose(p.release());
  if (st != 0 || out.empty()) return Error{ENOEXEC, busybox + " --list: no applets (is it busybox?)"};
  return out;
}

Status write_text(const fs::path& p, const std::string& text, unsigned mode = 0644) {
  std::ofstream f(p);
  f << text;
  if (!f.good()) return sys_error("write " + p.string());
  f.close();
  if (chmod(p.c_str(), mode) != 0) return sys_error("chmod " + p.string());
  return {};
}

Status build(const std::string& busybox, const fs::path& dir) {
  auto list = applets(busybox);
  if (!list) return list.error();
  std::error_code ec;
  for (const char* d : {"bin", "proc", "dev", "sys", "tmp", "etc", "root", "run", "var", "home", "usr", "mnt"}) {
    fs::create_directories(dir / d, ec);
    if (ec) return Error{ec.value(), "mkdir " + (dir / d).string() + ": " + ec.message()};
  }
  chmod((dir / "tmp").c_str(), 01777);
  chmod((dir / "root").c_str(), 0700);
  fs::copy_file(busybox, dir / "bin/busybox", ec);
  if (ec) return Error{ec.value(), "copy " + busybox + ": " + ec.message()};
  chmod((dir / "bin/busybox").c_str(), 0755);
  for (const auto& a : *list) {
    fs::create_symlink("busybox", dir / "bin" / a, ec);
    if (ec && ec != std::errc::file_exists) return Error{ec.value(), "symlink " + a + ": " + ec.message()};
  }
  fs::create_directory_symlink("bin", dir / "sbin", ec);
  fs::create_directory_symlink("../bin", dir / "usr/bin", ec);
  fs::create_directory_symlink("../bin", dir / "usr/sbin", ec);
  if (auto s = write_text(dir / "etc/passwd",
                          "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n");
      !s)
    return s;
  if (auto s = write_text(dir / "etc/group", "root:x:0:\nnogroup:x:65534:\n"); !s) return s;
  if (auto s = write_text(dir / "etc/hosts", "127.0.0.1 localhost\n::1 localhost\n"); !s) return s;
  return write_text(dir / "etc/hostname", "sbx\n");
}

std::string stamp_of(const struct stat& st) {
  return std::to_string(st.st_size) + " " + std::to_string(st.st_mtim.tv_sec) + " " + std::to_string(st.st_ino);
}

}  // namespace

Result<std::string> busybox_rootfs(const std::string& busybox) {
  struct stat st;
  if (stat(busybox.c_str(), &st) != 0)
    return sys_error("busybox rootfs: " + busybox + " (install it: apt-get install busybox-static)");
  auto is_static = is_static_elf(busybox);
  if (!is_static) return is_static.error().context("busybox rootfs");
  if (!*is_static)
    return Error{ENOEXEC, "busybox rootfs: " + busybox +
                              " is dynamically linked (install the static one: apt-get install busybox-static)"};
  fs::path base = fs::path(cache_dir()) / "rootfs";
  // root's sandboxes (root only in their user namespace) must reach the root: 0755; a user's: 0700
  unsigned mode = getuid() == 0 ? 0755 : 0700;
  if (auto d = trusted_dir(cache_dir(), mode, "cache directory"); !d) return d.error().context("busybox rootfs");
  if (auto d = trusted_dir(base.string(), mode, "cache directory"); !d) return d.error().context("busybox rootfs");
  fs::path dir = base / "busybox", stamp_file = base / "busybox.stamp";
  std::string want = stamp_of(st);
  auto current = [&]() {
    std::ifstream f(stamp_file);
    std::string have;
    std::getline(f, have);
    return have == want && access((dir / "bin/busybox").c_str(), F_OK) == 0;
  };
  if (current()) return dir.string();
  // Concurrent sbx processes: one builds, the others wait and then find it ready.
  Fd lock(open((base / "busybox.lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
  if (!lock.ok() || flock(lock.get(), LOCK_EX) != 0) return sys_error("busybox rootfs: lock " + base.string());
  if (current()) return dir.string();
  fs::path tmp = base / ("busybox.tmp-" + std::to_string(getpid()));
  std::error_code ec;
  fs::remove_all(tmp, ec);
  if (auto s = build(busybox, tmp); !s) {
    fs::remove_all(tmp, ec);
    return s.error().context("busybox rootfs");
  }
  fs::path old = base / ("busybox.old-" + std::to_string(getpid()));
  if (access(dir.c_str(), F_OK) == 0) fs::rename(dir, old, ec);
  fs::rename(tmp, dir, ec);
  if (ec) return Error{ec.value(), "busybox rootfs: rename into place: " + ec.message()};
  fs::remove_all(old, ec);
  if (auto s = write_text(stamp_file, want + "\n"); !s) return s.error().context("busybox rootfs");
  return dir.string();
}

}  // namespace sbx::core
