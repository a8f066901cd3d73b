#include "core/image/containers.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include "core/base/fault.h"
#include "core/base/io.h"
#include "core/fs/mount.h"

namespace sbx::core {

namespace fs = std::filesystem;

namespace {

// upper/ and work/ in `dir`, owned by the sandbox's root (the store's id shift); `dir` 0711.
Status make_overlay_dirs(const ImageStore& store, const std::string& dir, const std::string& what) {
  std::string upper = dir + "/upper", work = dir + "/work";
  for (const auto& d : {upper, work})
    if (mkdir(d.c_str(), 0700) != 0) return sys_error(what + " " + d);
  if (uint32_t shift = store.id_shift())
    for (const auto& d : {upper, work})
      if (chown(d.c_str(), shift, shift) != 0) return sys_error("chown " + d);
  chmod(dir.c_str(), 0711);
  return {};
}

Status write_layers(const std::string& dir, const std::vector<std::string>& layers) {
  std::string text;
  for (const auto& l : layers) text += l + "\n";
  return write_file(dir + "/layers", text);
}

ContainerDirs dirs_of(const std::string& dir, std::string image = "") {
  return {dir, dir + "/upper", dir + "/work", std::move(image)};
}

void remove_quietly(const std::string& dir) {
  std::error_code ec;
  fs::remove_all(dir, ec);
}

}  // namespace

Result<ContainerDirs> make_container_dirs(const ImageStore& store,
                                          const std::vector<std::string>& layers) {
  if (auto s = store.init(); !s) return s.error();
  std::string dir =
      store.root() + "/containers/" + std::to_string(getpid()) + "-" + std::to_string(rand());
  if (mkdir(dir.c_str(), 0700) != 0) return sys_error("create container directory " + dir);
  Status made = make_overlay_dirs(store, dir, "create container directory");
  if (made) made = write_layers(dir, layers);
  if (!made) {
    remove_quietly(dir);
    return made.error();
  }
  return dirs_of(dir);
}

Result<std::string> make_workspace_dirs(const ImageStore& store, const std::string& name,
                                        const std::string& lower) {
  struct stat ls;
  if (stat(lower.c_str(), &ls) != 0 || !S_ISDIR(ls.st_mode))
    return sys_error("workspace " + name + ": the directory " + lower);
  if (!valid_container_name(name))
    return user_error("workspace name '" + name +
                      "': letters, digits, _ . - (not first), at most 64");
  if (auto s = store.init(); !s) return s.error();
  std::string base = store.root() + "/workspaces";
  if (auto s = make_dirs(base, 0711); !s) return s.error();
  std::string dir = base + "/" + name;
  if (mkdir(dir.c_str(), 0700) != 0) {
    if (errno == EEXIST)
      return Error{EEXIST, "workspace " + name + ": exists (sbx diff " + name +
                               ", then sbx promote or sbx discard it)"};
    return sys_error("create workspace directory " + dir);
  }
  if (auto s = make_overlay_dirs(store, dir, "create workspace directory"); !s) {
    remove_quietly(dir);
    return s.error();
  }
  // the overlay's root takes its mode from the upper: the host directory's
  chmod((dir + "/upper").c_str(), ls.st_mode & 07777);
  return dir;
}

bool valid_container_name(const std::string& n) {
  return !n.empty() && n.size() <= 64 &&
         n.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") ==
             std::string::npos &&
         n[0] != '.' && n[0] != '-';
}

std::vector<std::string> container_layers(const std::string& dir) {
  std::vector<std::string> out;
  auto text = read_file(dir + "/layers", O_NOFOLLOW);
  if (!text) return out;
  for (size_t i = 0; i < text->size();) {
    size_t nl = text->find('\n', i);
    if (nl == std::string::npos) nl = text->size();
    if (nl > i) out.push_back(text->substr(i, nl - i));
    i = nl + 1;
  }
  return out;
}

std::string container_image(const std::string& dir) {
  auto text = read_file(dir + "/image", O_NOFOLLOW);
  return text ? text->substr(0, text->find('\n')) : "";
}

Result<ContainerDirs> named_container(const ImageStore& store, const std::string& name,
                                      const std::string& want) {
  if (!valid_container_name(name))
    return user_error("container name '" + name +
                      "': letters, digits, _ . - (not first), at most 64");
  if (auto s = store.init(); !s) return s.error();
  std::string base = store.root() + "/named";
  if (auto s = make_dirs(base, 0711); !s) return s.error();
  std::string dir = base + "/" + name;
  std::string have = container_image(dir);
  if (!have.empty()) {
    if (!want.empty() && want != have)
      return Error{EEXIST,
                   "container " + name + ": exists with image " + have + " (remove it first)"};
    return dirs_of(dir, have);
  }
  if (want.empty()) return Error{ENOENT, "container " + name + ": no such container"};
  // made whole in a draft, then claimed with one rename that never replaces
  auto draft = draft_dir(store, "named");
  if (!draft) return draft.error();
  const std::string& d0 = draft->path;
  Status made = make_overlay_dirs(store, d0, "create");
  if (made) made = write_file(d0 + "/image", want + "\n");
  if (made)
    if (auto img = store.get(want)) made = write_layers(d0, img->layers);
  if (!made) {
    remove_quietly(d0);
    return made.error();
  }
  if (auto s = publish_dir(d0, dir); !s) {
    // another process made it first: it is ours to continue only if it stands on the same image
    have = container_image(dir);
    if (s.error().err != EEXIST || have != want)
      return Error{EEXIST, "container " + name + ": name in use" +
                               (have.empty() ? "" : " (image " + have + ")")};
  }
  return dirs_of(dir, want);
}

Status check_removable(const ImageStore& store, const std::string& dir) {
  std::string rest;
  for (const char* kind : {"/containers/", "/named/", "/sandboxes/", "/workspaces/"})
    if (std::string prefix = store.root() + kind; dir.rfind(prefix, 0) == 0)
      rest = dir.substr(prefix.size());
  if (rest.empty() || rest[0] == '/')
    return user_error("only container and sandbox directories of the store");
  for (size_t i = 0; i <= rest.size();) {  // no "." or ".." step out of them
    size_t slash = std::min(rest.find('/', i), rest.size());
    std::string step = rest.substr(i, slash - i);
    if (step == "..") return user_error("'..' in " + dir);
    if (step == ".") return user_error("'.' in " + dir);
    i = slash + 1;
  }
  return {};
}

Status remove_container_dir(const ImageStore& store, const std::string& dir) {
  if (auto s = check_removable(store, dir); !s) return s;
  std::error_code ec;
  fs::remove_all(dir, ec);
  if (ec) return Error{ec.value(), "remove " + dir + ": " + ec.message()};
  return {};
}

Result<Draft> draft_dir(const ImageStore& store, const std::string& kind) {
  if (auto s = store.init(); !s) return s.error();
  std::string parent = store.root() + "/" + kind;
  if (auto s = make_dirs(parent, 0711); !s) return s.error();
  if (int e = fault("detached.claim"))
    return fault_error("detached.claim", "claim a name under " + parent, e);
  static unsigned counter = 0;
  for (int attempt = 0; attempt < 100; ++attempt) {
    std::string path =
        parent + "/.new-" + std::to_string(getpid()) + "-" + std::to_string(++counter);
    if (mkdir(path.c_str(), 0700) != 0) {
      if (errno == EEXIST && !dir_in_use(path)) {  // a killed creator's: gone now
        remove_quietly(path);
        continue;
      }
      if (errno == EEXIST) continue;
      return sys_error("create " + path);
    }
    Fd fd(open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    // blocking: `sbx gc` may hold it for an instant to see whether anyone does
    if (!fd.ok() || flock(fd.get(), LOCK_EX) != 0) return sys_error("lock " + path);
    return Draft{path, std::move(fd)};
  }
  return Error{EEXIST, "create a draft under " + parent + ": too many left over"};
}

Status publish_dir(const std::string& draft, const std::string& dest) {
  if (renameat2(AT_FDCWD, draft.c_str(), AT_FDCWD, dest.c_str(), RENAME_NOREPLACE) != 0) {
    int e = errno;
    remove_quietly(draft);
    if (e == EEXIST || e == ENOTEMPTY) return Error{EEXIST, dest + ": name in use"};
    return sys_error("publish " + dest, e);
  }
  return {};
}

bool dir_in_use(const std::string& path) {
  Fd fd(open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd.ok()) return false;
  if (flock(fd.get(), LOCK_EX | LOCK_NB) == 0) return false;
  return errno == EWOULDBLOCK;
}

}  // namespace sbx::core
