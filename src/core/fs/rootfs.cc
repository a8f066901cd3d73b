#include "core/fs/rootfs.h"

#include <elf.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <sstream>

#include "core/base/fd.h"
#include "core/base/handle.h"
#include "core/base/io.h"
#include "core/base/program.h"
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
  if (pread(fd.get(), &eh, sizeof eh, 0) != sizeof eh ||
      std::memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 || eh.e_ident[EI_CLASS] != ELFCLASS64)
    return Error{ENOEXEC, path + ": not a 64-bit ELF file"};
  for (int i = 0; i < eh.e_phnum; ++i) {
    Elf64_Phdr ph;
    off_t off = static_cast<off_t>(eh.e_phoff + static_cast<uint64_t>(i) * eh.e_phentsize);
    if (pread(fd.get(), &ph, sizeof ph, off) != sizeof ph)
      return Error{ENOEXEC, path + ": truncated ELF"};
    if (ph.p_type == PT_INTERP) return false;
  }
  return true;
}

namespace {

Result<std::vector<std::string>> applets(const std::string& busybox) {
  Fd null(open("/dev/null", O_WRONLY | O_CLOEXEC));
  ProgramIo io;
  io.capture_stdout = true;
  io.stderr_fd = null.get();
  auto end = run_program({busybox, "--list"}, io);
  if (!end) return end.error();
  std::vector<std::string> out;
  std::istringstream lines(end->output);
  for (std::string a; std::getline(lines, a);) {
    while (!a.empty() && a.back() == '\r') a.pop_back();
    if (!a.empty() && a.find('/') == std::string::npos && a != "busybox") out.push_back(a);
  }
  if (!end->ok() || out.empty())
    return Error{ENOEXEC, busybox + " --list: no applets (is it busybox?)"};
  return out;
}

Status build(const std::string& busybox, const fs::path& dir) {
  auto list = applets(busybox);
  if (!list) return list.error();
  std::error_code ec;
  for (const char* d :
       {"bin", "proc", "dev", "sys", "tmp", "etc", "root", "run", "var", "home", "usr", "mnt"}) {
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
    if (ec && ec != std::errc::file_exists)
      return Error{ec.value(), "symlink " + a + ": " + ec.message()};
  }
  fs::create_directory_symlink("bin", dir / "sbin", ec);
  fs::create_directory_symlink("../bin", dir / "usr/bin", ec);
  fs::create_directory_symlink("../bin", dir / "usr/sbin", ec);
  if (auto s =
          write_file(dir / "etc/passwd",
                     "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n");
      !s)
    return s;
  if (auto s = write_file(dir / "etc/group", "root:x:0:\nnogroup:x:65534:\n"); !s) return s;
  if (auto s = write_file(dir / "etc/hosts", "127.0.0.1 localhost\n::1 localhost\n"); !s) return s;
  return write_file(dir / "etc/hostname", "sbx\n");
}

std::string stamp_of(const struct stat& st) {
  return std::to_string(st.st_size) + " " + std::to_string(st.st_mtim.tv_sec) + " " +
         std::to_string(st.st_ino);
}

}  // namespace

Result<std::string> busybox_rootfs(const std::string& busybox) {
  struct stat st;
  if (stat(busybox.c_str(), &st) != 0)
    return sys_error("busybox rootfs: " + busybox +
                     " (install it: apt-get install busybox-static)");
  auto is_static = is_static_elf(busybox);
  if (!is_static) return is_static.error().context("busybox rootfs");
  if (!*is_static)
    return Error{
        ENOEXEC,
        "busybox rootfs: " + busybox +
            " is dynamically linked (install the static one: apt-get install busybox-static)"};
  fs::path base = fs::path(cache_dir()) / "rootfs";
  // root's sandboxes (root only in their user namespace) must reach the root: 0755; a user's: 0700
  unsigned mode = getuid() == 0 ? 0755 : 0700;
  if (auto d = trusted_dir(cache_dir(), mode, "cache directory"); !d)
    return d.error().context("busybox rootfs");
  if (auto d = trusted_dir(base.string(), mode, "cache directory"); !d)
    return d.error().context("busybox rootfs");
  fs::path dir = base / "busybox", stamp_file = base / "busybox.stamp";
  std::string want = stamp_of(st);
  auto current = [&]() {
    auto have = read_file(stamp_file);
    return have && *have == want + "\n" && fs::exists(dir / "bin/busybox");
  };
  if (current()) return dir.string();
  // Concurrent sbx processes: one builds, the others wait and then find it ready.
  Fd lock(open((base / "busybox.lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
  if (!lock.ok() || flock(lock.get(), LOCK_EX) != 0)
    return sys_error("busybox rootfs: lock " + base.string());
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
  if (auto s = write_file_atomic(stamp_file, want + "\n"); !s)
    return s.error().context("busybox rootfs");
  return dir.string();
}

Result<std::string> debootstrap_rootfs(const Debootstrap& what) {
  for (const std::string* word : {&what.suite, &what.variant})
    if (word->empty() || word->find_first_not_of(
                             "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-") !=
                             std::string::npos)
      return user_error("debootstrap: bad suite or variant '" + *word + "'");
  fs::path base = fs::path(cache_dir()) / "rootfs";
  fs::path dir = base / ("debootstrap-" + what.suite + "-" + what.variant);
  std::error_code ec;
  if (fs::exists(dir / ".sbx-complete", ec)) return dir.string();
  const std::string program = "/usr/sbin/debootstrap";
  if (access(program.c_str(), X_OK) != 0)
    return Error{ENOENT, "debootstrap: not installed (apt-get install debootstrap)"};
  if (geteuid() != 0) return Error{EPERM, "debootstrap: needs root"};
  for (const std::string& d : {cache_dir(), base.string()})
    if (auto t = trusted_dir(d, 0755, "cache directory"); !t)
      return t.error().context("debootstrap");
  // Concurrent sbx processes: one runs debootstrap, the others wait and then find it ready.
  Fd lock(open((base / "debootstrap.lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
  if (!lock.ok() || flock(lock.get(), LOCK_EX) != 0)
    return sys_error("debootstrap: lock " + base.string());
  if (fs::exists(dir / ".sbx-complete", ec)) return dir.string();
  fs::path tmp = dir.string() + ".tmp-" + std::to_string(getpid());
  std::string log = tmp.string() + ".log";
  fs::remove_all(tmp, ec);
  Fd out(what.quiet ? open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600)
                    : -1);
  if (what.quiet && !out.ok()) return sys_error("debootstrap: create " + log);
  ProgramIo io;
  io.stdout_fd = what.quiet ? out.get() : 2;  // its progress is no output of ours
  io.stderr_fd = what.quiet ? out.get() : -1;
  std::vector<std::string> argv = {program, "--variant=" + what.variant, what.suite, tmp.string()};
  if (!what.mirror.empty()) argv.push_back(what.mirror);
  auto end = run_program(argv, io);
  out.reset();
  if (!end || !end->ok()) {
    std::string tail;
    if (auto text = read_file(log))
      tail = text->substr(text->size() > 300 ? text->size() - 300 : 0);
    while (!tail.empty() && (tail.back() == '\n' || tail.back() == ' ')) tail.pop_back();
    if (!end) tail = end.error().message;
    fs::remove_all(tmp, ec);
    unlink(log.c_str());
    return Error{end ? EIO : end.error().err,
                 "debootstrap " + what.suite + " (" + what.variant + ") from " +
                     (what.mirror.empty() ? "debootstrap's default mirror" : what.mirror) +
                     " failed" + (tail.empty() ? "" : ": " + tail)};
  }
  unlink(log.c_str());
  if (auto s = write_file((tmp / ".sbx-complete").string(), ""); !s)
    return s.error().context("debootstrap");
  fs::remove_all(dir, ec);
  if (rename(tmp.c_str(), dir.c_str()) != 0) {
    int e = errno;
    fs::remove_all(tmp, ec);
    return sys_error("debootstrap: rename " + tmp.string() + " into place", e);
  }
  return dir.string();
}

}  // namespace sbx::core
