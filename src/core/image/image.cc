#include "core/image/image.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/base/fault.h"
#include "core/base/fd.h"
#include "core/base/handle.h"
#include "core/base/io.h"
#include "core/base/json.h"
#include "core/base/trust.h"
#include "core/fs/mount.h"
#include "core/image/archive.h"
#include "core/image/containers.h"
#include "core/sandbox/idmap.h"
#include "core/sandbox/ns.h"
#include "core/sandbox/owner.h"

namespace sbx::core {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::string hex_of(const std::string& digest) {
  auto i = digest.find(':');
  return i == std::string::npos ? digest : digest.substr(i + 1);
}

json to_json(const Image& img) {
  json c = {{"Env", img.config.env},
            {"Cmd", img.config.cmd},
            {"Entrypoint", img.config.entrypoint},
            {"WorkingDir", img.config.workdir},
            {"User", img.config.user}};
  return {{"id", img.id},
          {"layers", img.layers},
          {"config", c},
          {"tags", img.tags},
          {"created", img.created}};
}

// An image record as the store keeps it; `what` names the file in errors.
Result<Image> from_json(const json& j, const std::string& what) {
  if (!j.is_object()) return user_error(what + ": not an image record (a JSON object)");
  Image img;
  auto str = [&](const json& o, const char* key, std::string& out) -> Status {
    auto v = json_string(o, key, what);
    if (!v) return v.error();
    out = std::move(*v);
    return {};
  };
  auto list = [&](const json& o, const char* key, std::vector<std::string>& out) -> Status {
    auto v = json_strings(o, key, what);
    if (!v) return v.error();
    out = std::move(*v);
    return {};
  };
  static const json no_config = json::object();
  const json* c = json_field(j, "config");
  if (c && !c->is_object()) return user_error(what + ": 'config' is not an object");
  if (!c) c = &no_config;
  for (Status s : {str(j, "id", img.id), list(j, "layers", img.layers), list(j, "tags", img.tags),
                   str(j, "created", img.created), list(*c, "Env", img.config.env),
                   list(*c, "Cmd", img.config.cmd), list(*c, "Entrypoint", img.config.entrypoint),
                   str(*c, "WorkingDir", img.config.workdir), str(*c, "User", img.config.user)})
    if (!s) return s.error();
  return img;
}

std::string now_rfc3339() {
  char buf[32];
  time_t t = time(nullptr);
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// An exclusive lock on the store for the life of the object.
struct StoreLock {
  Fd fd;
  explicit StoreLock(const std::string& root)
      : fd(open((root + "/lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600)) {
    if (fd.ok()) flock(fd.get(), LOCK_EX);
  }
};

}  // namespace

namespace {
std::string g_state_override;
}

void set_state_dir(const std::string& dir) {
  g_state_override = dir;
}

std::string default_state_dir() {
  if (!g_state_override.empty()) return g_state_override;
  if (const char* s = std::getenv("SBX_STATE"); s && *s == '/') return s;
  if (getuid() == 0) return "/var/lib/sbx";
  if (const char* h = std::getenv("HOME"); h && *h == '/')
    return std::string(h) + "/.local/share/sbx";
  return "/tmp/sbx-state-" + std::to_string(getuid());
}

Result<std::string> normalize_tag(const std::string& tag) {
  if (tag.empty()) return user_error("image tag: empty");
  if (tag.find_first_not_of(
          "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-/:@") !=
      std::string::npos)
    return user_error("image tag '" + tag + "': only letters, digits and . _ - / : are allowed");
  auto slash = tag.rfind('/');
  auto colon = tag.rfind(':');
  if (colon == std::string::npos || (slash != std::string::npos && colon < slash))
    return tag + ":latest";
  if (colon == tag.size() - 1) return user_error("image tag '" + tag + "': empty tag after ':'");
  return tag;
}

ImageStore::ImageStore(std::string root) : root_(std::move(root)) {}

uint32_t ImageStore::id_shift() const {
  return geteuid() == 0 ? kRootMapBase : 0;
}

Status ImageStore::init() const {
  // The store is closed to other users: its layers hold setuid files owned by the shifted ids,
  // which must never run outside a sandbox. As root it is root:<shifted root> 0710, so the
  // sandboxes' root (2100000000 outside) can still reach the layers it mounts; a user's store is
  // 0700. its scratch and container directories carry this process's pid: record who that is
  if (auto s = register_owner(); !s) return s;
  auto top = trusted_dir(root_, 0700, "image store");
  if (!top) return top.error();
  uid_t shift = id_shift();
  unsigned mode = shift ? 0710 : 0700;
  struct stat st;
  if (fstat(top->get(), &st) != 0) return sys_error("stat image store " + root_);
  if (shift && st.st_gid != shift && fchown(top->get(), static_cast<uid_t>(-1), shift) != 0)
    return sys_error("image store " + root_ + ": chown to group " + std::to_string(shift));
  if ((st.st_mode & 07777) != mode && fchmod(top->get(), mode) != 0)
    return sys_error("image store " + root_ + ": chmod");
  for (const char* d : {"/layers", "/images", "/tmp", "/containers"})
    if (auto s = make_dirs(root_ + d, 0711); !s) return s.error().context("image store " + root_);
  return {};
}

std::string ImageStore::layer_dir(const std::string& diff_id) const {
  return root_ + "/layers/" + hex_of(diff_id);
}

bool ImageStore::has_layer(const std::string& diff_id) const {
  return access(layer_dir(diff_id).c_str(), F_OK) == 0;
}

Result<LayerInfo> ImageStore::add_layer(int fd, const std::string& what) const {
  if (auto s = init(); !s) return s.error();
  std::string tmp = root_ + "/tmp/layer-" + std::to_string(getpid()) + "-" + std::to_string(rand());
  if (int e = fault("image.layer")) return fault_error("image.layer", "unpack " + what, e);
  auto info = import_layer(fd, tmp, tmp + ".tar", what, id_shift());
  if (!info) return info.error();
  StoreLock lock(root_);
  std::string dest = layer_dir(info->diff_id);
  std::error_code ec;
  if (access(dest.c_str(), F_OK) == 0) {
    fs::remove_all(tmp, ec);  // the same content is already there: share it
  } else if (int f = fault("image.store")) {
    fs::remove_all(tmp, ec);
    return fault_error("image.store", "store layer " + info->diff_id, f);
  } else if (rename(tmp.c_str(), dest.c_str()) != 0) {
    int e = errno;
    fs::remove_all(tmp, ec);
    return sys_error("store layer " + info->diff_id, e);
  }
  return info;
}

Result<LayerInfo> ImageStore::add_layer_from_dir(const std::string& dir,
                                                 const std::set<std::string>& exclude) const {
  if (auto s = init(); !s) return s.error();
  // One pass: the tree is serialised for its digest and copied into the store at once.
  std::string tmp =
      root_ + "/tmp/commit-" + std::to_string(getpid()) + "-" + std::to_string(rand());
  auto info = export_layer(dir, -1, exclude, id_shift(), tmp);
  std::error_code ec;
  if (!info) {
    fs::remove_all(tmp, ec);
    return info.error().context("commit " + dir);
  }
  StoreLock lock(root_);
  std::string dest = layer_dir(info->diff_id);
  if (access(dest.c_str(), F_OK) == 0) {
    fs::remove_all(tmp, ec);
  } else if (rename(tmp.c_str(), dest.c_str()) != 0) {
    int e = errno;
    fs::remove_all(tmp, ec);
    return sys_error("store layer " + info->diff_id, e);
  }
  return info;
}

Status ImageStore::save(const Image& img) const {
  return write_file_atomic(root_ + "/images/" + hex_of(img.id) + ".json",
                           json_text(to_json(img), 2) + "\n");
}

std::vector<Image> ImageStore::list(std::vector<Error>* unreadable) const {
  std::vector<Image> out;
  Dir d(opendir((root_ + "/images").c_str()));
  if (!d) return out;
  while (auto* e = readdir(d.get())) {
    std::string n = e->d_name;
    if (n.size() < 6 || n.substr(n.size() - 5) != ".json") continue;
    std::string path = root_ + "/images/" + n;
    auto text = read_file(path, O_NOFOLLOW);
    auto j = text ? parse_json(*text, path) : Result<json>(text.error());
    auto img = j ? from_json(*j, path) : Result<Image>(j.error());
    if (img)
      out.push_back(std::move(*img));
    else if (unreadable)
      unreadable->push_back(img.error());
  }
  std::sort(out.begin(), out.end(), [](const Image& a, const Image& b) {
    return a.created > b.created || (a.created == b.created && a.id < b.id);
  });
  return out;
}

Result<Image> ImageStore::put(const std::vector<std::string>& layers, const ImageConfig& config,
                              const std::string& tag) const {
  if (auto s = init(); !s) return s.error();
  for (const auto& l : layers)
    if (!has_layer(l)) return Error{ENOENT, "image: layer " + l + " is not in the store"};
  std::string norm;
  if (!tag.empty()) {
    auto t = normalize_tag(tag);
    if (!t) return t.error();
    norm = *t;
  }
  Image img;
  img.layers = layers;
  img.config = config;
  json key = to_json(img);
  key.erase("tags");
  key.erase("created");
  key.erase("id");
  Sha256 h;
  std::string canon = json_text(key);
  h.update(canon.data(), canon.size());
  img.id = "sha256:" + h.hex();
  if (int e = fault("image.manifest"))
    return fault_error("image.manifest", "write image " + img.id, e);
  StoreLock lock(root_);
  for (auto other : list()) {
    if (other.id == img.id) {
      img.tags = other.tags;
      img.created = other.created;
      continue;
    }
    auto it = std::find(other.tags.begin(), other.tags.end(), norm);
    if (!norm.empty() && it != other.tags.end()) {
      other.tags.erase(it);
      if (auto s = save(other); !s) return s.error();
    }
  }
  if (img.created.empty()) img.created = now_rfc3339();
  if (!norm.empty() && std::find(img.tags.begin(), img.tags.end(), norm) == img.tags.end())
    img.tags.push_back(norm);
  if (auto s = save(img); !s) return s.error();
  return img;
}

Result<Image> ImageStore::get(const std::string& ref) const {
  std::vector<Error> unreadable;
  auto all = list(&unreadable);
  auto t = normalize_tag(ref);
  if (t)
    for (const auto& img : all)
      if (std::find(img.tags.begin(), img.tags.end(), *t) != img.tags.end()) return img;
  std::string hex = hex_of(ref);
  const Image* found = nullptr;
  if (hex.size() >= 6 && hex.find_first_not_of("0123456789abcdef") == std::string::npos) {
    for (const auto& img : all)
      if (hex_of(img.id).rfind(hex, 0) == 0) {
        if (found) return Error{EINVAL, "image '" + ref + "': ambiguous id prefix"};
        found = &img;
      }
  }
  if (found) return *found;
  std::string note;
  for (const auto& e : unreadable) note += "; unreadable: " + e.message;
  return Error{
      ENOENT, "image '" + ref + "': not in the store " + root_ + " (sbx image ls lists it)" + note};
}

Status ImageStore::tag(const std::string& ref, const std::string& tag) const {
  auto img = get(ref);
  if (!img) return img.error();
  auto r = put(img->layers, img->config, tag);
  if (!r) return r.error();
  return {};
}

Status ImageStore::remove(const std::string& ref) const {
  auto img = get(ref);
  if (!img) return img.error();
  StoreLock lock(root_);
  auto t = normalize_tag(ref);
  auto it = t ? std::find(img->tags.begin(), img->tags.end(), *t) : img->tags.end();
  const bool by_id = it == img->tags.end();  // not one of its tags: the id (or a prefix) was given
  if (!by_id) img->tags.erase(it);
  if (img->tags.empty() || by_id) {
    if (unlink((root_ + "/images/" + hex_of(img->id) + ".json").c_str()) != 0)
      return sys_error("remove image " + img->id);
    return {};
  }
  return save(*img);
}

std::vector<std::string> ImageStore::collect_stale() const {
  std::vector<std::string> removed;
  // drafts of named entries whose creator is gone (nobody holds their lock)
  for (const char* kind : {"/sandboxes", "/named"}) {
    Dir d(opendir((root_ + kind).c_str()));
    if (!d) continue;
    std::vector<std::string> names;
    while (auto* e = readdir(d.get()))
      if (std::strncmp(e->d_name, ".new-", 5) == 0) names.emplace_back(e->d_name);
    d.reset();
    for (const auto& n : names) {
      std::string path = root_ + kind + "/" + n;
      if (dir_in_use(path)) continue;
      std::error_code ec;
      fs::remove_all(path, ec);
      if (!ec) removed.push_back(path);
    }
  }
  // containers/<pid>-<n> and tmp/<kind>-<pid>-<n>[...]: the pid is the sbx that made them
  for (const char* kind : {"/containers", "/tmp"}) {
    Dir d(opendir((root_ + kind).c_str()));
    if (!d) continue;
    std::vector<std::string> names;
    while (auto* e = readdir(d.get()))
      if (e->d_name[0] != '.') names.emplace_back(e->d_name);
    d.reset();
    for (const auto& n : names) {
      size_t digits = n.find_first_of("0123456789");
      if (digits == std::string::npos) continue;
      pid_t pid = static_cast<pid_t>(std::atol(n.c_str() + digits));
      if (owner_alive(pid)) continue;
      std::error_code ec;
      fs::remove_all(root_ + kind + "/" + n, ec);
      if (!ec) removed.push_back(root_ + kind + "/" + n);
    }
  }
  return removed;
}

namespace {
// <store>/import.lock: shared by each import while it runs, exclusive for prune
Fd import_lock(const std::string& root, int how) {
  Fd fd(open((root + "/import.lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (fd.ok()) flock(fd.get(), how);
  return fd;
}
}  // namespace

Fd ImageStore::import_guard() const {
  if (auto s = init(); !s) return Fd();
  return import_lock(root_, LOCK_SH);
}

Result<std::vector<std::string>> ImageStore::prune(const PruneOptions& opts) const {
  // the imports in progress first: their layers are stored before their manifests
  Fd imports = import_lock(root_, LOCK_EX);
  StoreLock lock(root_);
  // Untagged (dangling) images go first, unless a named container was made from one.
  std::set<std::string> kept_images;
  if (Dir nd{opendir((root_ + "/named").c_str())}) {
    while (auto* e = readdir(nd.get()))
      if (std::string id = container_image(root_ + "/named/" + e->d_name); !id.empty())
        kept_images.insert(id);
  }
  std::vector<Error> unreadable;
  auto images = list(&unreadable);
  if (!unreadable.empty())
    return unreadable[0].context(
        "prune: the layers of an unreadable image are unknown (fix or remove it)");
  std::set<std::string> used;
  // containers (running or named) keep the layers they stand on, even when their image is gone
  std::vector<std::vector<std::string>> stacks;
  for (const char* kind : {"/containers", "/named"}) {
    Dir cd(opendir((root_ + kind).c_str()));
    if (!cd) continue;
    while (auto* e = readdir(cd.get())) {
      if (e->d_name[0] == '.') continue;
      stacks.push_back(container_layers(root_ + kind + "/" + e->d_name));
      for (const auto& l : stacks.back()) used.insert(hex_of(l));
    }
  }
  time_t now = time(nullptr);
  auto old_enough = [&](const Image& img) {
    if (opts.until < 0) return true;
    struct tm tm {};
    if (!strptime(img.created.c_str(), "%Y-%m-%dT%H:%M:%S", &tm)) return false;
    return now - timegm(&tm) >= opts.until;
  };
  // an image a container stands on: its layers are the container's lowest
  auto stood_on = [&](const Image& img) {
    for (const auto& s : stacks)
      if (!img.layers.empty() && s.size() >= img.layers.size() &&
          std::equal(img.layers.begin(), img.layers.end(), s.begin()))
        return true;
    return false;
  };
  for (const auto& img : images)
    if ((img.tags.empty() || opts.all) && !kept_images.count(img.id) && !stood_on(img) &&
        old_enough(img))
      unlink((root_ + "/images/" + hex_of(img.id) + ".json").c_str());
  for (const auto& img : list())
    for (const auto& l : img.layers) used.insert(hex_of(l));
  std::vector<std::string> removed;
  Dir d(opendir((root_ + "/layers").c_str()));
  if (!d) return removed;
  std::vector<std::string> names;
  while (auto* e = readdir(d.get()))
    if (e->d_name[0] != '.') names.emplace_back(e->d_name);
  d.reset();
  for (const auto& n : names) {
    if (used.count(n)) continue;
    std::error_code ec;
    fs::remove_all(root_ + "/layers/" + n, ec);
    if (ec) return Error{ec.value(), "prune layer " + n + ": " + ec.message()};
    removed.push_back("sha256:" + n);
  }
  return removed;
}

}  // namespace sbx::core

namespace sbx::core {

const std::set<std::string>& init_layer_paths() {
  static const std::set<std::string> paths = {"etc/hosts", "etc/hostname", "etc/resolv.conf"};
  return paths;
}

namespace {
void changes_in(const std::string& upper, const std::string& rel,
                const std::vector<std::string>& lowers, std::vector<Change>& out) {
  std::string dir = rel.empty() ? upper : upper + "/" + rel;
  Dir d(opendir(dir.c_str()));
  if (!d) return;
  std::vector<std::string> names;
  while (auto* e = readdir(d.get()))
    if (std::strcmp(e->d_name, ".") && std::strcmp(e->d_name, "..")) names.emplace_back(e->d_name);
  d.reset();
  for (const auto& n : names) {
    std::string r = rel.empty() ? n : rel + "/" + n;
    if (init_layer_paths().count(r)) continue;
    struct stat st;
    if (lstat((upper + "/" + r).c_str(), &st) != 0) continue;
    if (S_ISCHR(st.st_mode) && st.st_rdev == 0) {
      out.push_back({'D', r});
      continue;
    }
    bool below = false;
    for (const auto& l : lowers) {
      struct stat ls;
      if (lstat((l + "/" + r).c_str(), &ls) == 0) {
        below = true;
        break;
      }
    }
    out.push_back({below ? 'M' : 'A', r});
    if (S_ISDIR(st.st_mode)) changes_in(upper, r, lowers, out);
  }
}
}  // namespace

std::vector<Change> upper_changes(const std::string& upper,
                                  const std::vector<std::string>& lowers) {
  std::vector<Change> out;
  changes_in(upper, "", lowers, out);
  std::sort(out.begin(), out.end(),
            [](const Change& a, const Change& b) { return a.path < b.path; });
  return out;
}

}  // namespace sbx::core
