#include "core/fs/overlay.h"

#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <vector>

#include "core/base/fd.h"

constexpr unsigned FSOPEN_CLOEXEC_FLAG = 0x00000001;

#ifndef FSCONFIG_SET_STRING
#define FSCONFIG_SET_FLAG 0
#define FSCONFIG_SET_STRING 1
#define FSCONFIG_CMD_CREATE 6
#endif
#ifndef MOVE_MOUNT_F_EMPTY_PATH
#define MOVE_MOUNT_F_EMPTY_PATH 0x00000004
#endif

namespace sbx::core {

std::string escape_overlay_path(const std::string& path) {
  std::string out;
  for (char c : path) {
    if (c == ':' || c == ',' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

namespace {
int fsconfig_string(int fd, const char* key, const std::string& value) {
  return static_cast<int>(syscall(SYS_fsconfig, fd, FSCONFIG_SET_STRING, key, value.c_str(), 0));
}

Status configure(int fd, const std::vector<std::string>& lowers, const std::string& upper,
                 const std::string& work, bool per_layer, const std::string& step) {
  std::vector<Fd> held;  // open until the mount is created: the kernel may resolve paths only then
  if (per_layer) {
    for (const auto& l : lowers)
      if (fsconfig_string(fd, "lowerdir+", l) != 0) return sys_error(step + ": lower layer " + l);
  } else {
    // One option value holds every layer and is limited to a page: long lists go by file
    // descriptor ("/proc/self/fd/N" is short whatever the path).
    std::string joined;
    for (const auto& l : lowers) {
      if (!joined.empty()) joined += ':';
      joined += escape_overlay_path(l);
    }
    if (joined.size() > 2048) {
      joined.clear();
      for (const auto& l : lowers) {
        Fd f(open(l.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
        if (!f.ok()) return sys_error(step + ": lower layer " + l);
        if (!joined.empty()) joined += ':';
        joined += "/proc/self/fd/";
        joined += std::to_string(f.get());
        held.push_back(std::move(f));
      }
    }
    if (fsconfig_string(fd, "lowerdir", joined) != 0) return sys_error(step + ": lowerdir");
  }
  if (!upper.empty()) {
    if (fsconfig_string(fd, "upperdir", upper) != 0) return sys_error(step + ": upperdir " + upper);
    if (fsconfig_string(fd, "workdir", work) != 0) return sys_error(step + ": workdir " + work);
  }
  // Inside a user namespace overlay keeps its metadata in user.* xattrs.
  syscall(SYS_fsconfig, fd, FSCONFIG_SET_FLAG, "userxattr", nullptr, 0);
  if (syscall(SYS_fsconfig, fd, FSCONFIG_CMD_CREATE, nullptr, nullptr, 0) != 0)
    return sys_error(step);
  return {};
}
}  // namespace

Status mount_overlay(const std::vector<std::string>& lowers, const std::string& upper,
                     const std::string& work, const std::string& target) {
  std::string step = "overlay on " + target;
  if (lowers.empty()) return {EINVAL, step + ": no lower layer"};
  Status configured;
  Fd fs;
  for (bool per_layer : {true, false}) {
    fs.reset(static_cast<int>(syscall(SYS_fsopen, "overlay", FSOPEN_CLOEXEC_FLAG)));
    if (!fs.ok()) return sys_error(step + ": fsopen overlay (is overlayfs available?)");
    configured = configure(fs.get(), lowers, upper, work, per_layer, step);
    if (configured || configured.error().err != EINVAL || !per_layer)
      break;  // retry: pre-6.8 kernel
  }
  if (!configured) return configured;
  Fd mnt(static_cast<int>(syscall(SYS_fsmount, fs.get(), 0x00000001 /* FSMOUNT_CLOEXEC */, 0)));
  if (!mnt.ok()) return sys_error(step + ": fsmount");
  if (syscall(SYS_move_mount, mnt.get(), "", AT_FDCWD, target.c_str(), MOVE_MOUNT_F_EMPTY_PATH) !=
      0)
    return sys_error(step + ": move_mount");
  return {};
}

}  // namespace sbx::core
