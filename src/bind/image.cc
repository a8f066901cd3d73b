// sbx.image (C half): the local image store, container upper directories, diff and commit.
#include "core/image/image.h"
#include "core/image/image_io.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "core/base/fd.h"
#include "core/fs/mount.h"
#include "lua_util.h"

namespace sbx::bind {

namespace {


void push_image(lua_State* L, const core::ImageStore& store, const core::Image& img) {
  lua_createtable(L, 0, 8);
  set_string(L, "id", img.id.c_str());
  push_strings(L, img.layers);
  lua_setfield(L, -2, "layers");
  push_strings(L, img.tags);
  lua_setfield(L, -2, "tags");
  set_string(L, "created", img.created.c_str());
  std::vector<std::string> dirs;  // top first, as overlay wants them
  for (auto it = img.layers.rbegin(); it != img.layers.rend(); ++it) dirs.push_back(store.layer_dir(*it));
  push_strings(L, dirs);
  lua_setfield(L, -2, "layer_dirs");
  lua_createtable(L, 0, 5);
  push_strings(L, img.config.env);
  lua_setfield(L, -2, "env");
  push_strings(L, img.config.cmd);
  lua_setfield(L, -2, "cmd");
  push_strings(L, img.config.entrypoint);
  lua_setfield(L, -2, "entrypoint");
  set_string(L, "workdir", img.config.workdir.c_str());
  set_string(L, "user", img.config.user.c_str());
  lua_setfield(L, -2, "config");
}

core::ImageConfig config_arg(lua_State* L, int idx) {
  core::ImageConfig c;
  if (lua_isnoneornil(L, idx)) return c;
  luaL_checktype(L, idx, LUA_TTABLE);
  check_keys(L, idx, "image config", {"env", "cmd", "entrypoint", "workdir", "user"});
  c.env = opt_string_list_field(L, idx, "config", "env").value_or(std::vector<std::string>{});
  c.cmd = opt_string_list_field(L, idx, "config", "cmd").value_or(std::vector<std::string>{});
  c.entrypoint = opt_string_list_field(L, idx, "config", "entrypoint").value_or(std::vector<std::string>{});
  c.workdir = opt_string_field(L, idx, "config", "workdir").value_or("");
  c.user = opt_string_field(L, idx, "config", "user").value_or("");
  return c;
}

// from_dir(dir, tag [, config]) -> image: a one-layer image of a directory tree
int l_from_dir(lua_State* L) {
  std::string dir = luaL_checkstring(L, 1);
  std::string tag = luaL_optstring(L, 2, "");
  core::ImageConfig cfg = config_arg(L, 3);
  core::ImageStore store;
  auto layer = store.add_layer_from_dir(dir, {});
  if (!layer) return push_failure(L, layer.error());
  auto img = store.put({layer->diff_id}, cfg, tag);
  if (!img) return push_failure(L, img.error());
  push_image(L, store, *img);
  return 1;
}

// import_layer(tar_path, base_ref_or_nil, tag [, config]) -> image with the base's layers + this one
int l_import_layer(lua_State* L) {
  std::string path = luaL_checkstring(L, 1);
  core::ImageStore store;
  std::vector<std::string> layers;
  core::ImageConfig cfg;
  if (!lua_isnoneornil(L, 2)) {
    auto base = store.get(luaL_checkstring(L, 2));
    if (!base) return push_failure(L, base.error());
    layers = base->layers;
    cfg = base->config;
  }
  if (!lua_isnoneornil(L, 4)) cfg = config_arg(L, 4);
  core::Fd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.ok()) return push_failure(L, core::sys_error("import layer " + path));
  auto layer = store.add_layer(fd.get(), "layer " + path);
  if (!layer) return push_failure(L, layer.error());
  layers.push_back(layer->diff_id);
  auto img = store.put(layers, cfg, luaL_optstring(L, 3, ""));
  if (!img) return push_failure(L, img.error());
  push_image(L, store, *img);
  return 1;
}

int l_get(lua_State* L) {
  core::ImageStore store;
  auto img = store.get(luaL_checkstring(L, 1));
  if (!img) return push_failure(L, img.error());
  push_image(L, store, *img);
  return 1;
}

int l_list(lua_State* L) {
  core::ImageStore store;
  auto all = store.list();
  lua_createtable(L, static_cast<int>(all.size()), 0);
  for (size_t i = 0; i < all.size(); ++i) {
    push_image(L, store, all[i]);
    lua_rawseti(L, -2, static_cast<int>(i + 1));
  }
  return 1;
}

int l_tag(lua_State* L) {
  core::ImageStore store;
  auto s = store.tag(luaL_checkstring(L, 1), luaL_checkstring(L, 2));
  if (!s) return push_failure(L, s.error());
  lua_pushboolean(L, 1);
  return 1;
}

int l_remove(lua_State* L) {
  core::ImageStore store;
  auto s = store.remove(luaL_checkstring(L, 1));
  if (!s) return push_failure(L, s.error());
  lua_pushboolean(L, 1);
  return 1;
}

int l_prune(lua_State* L) {
  core::ImageStore store;
  auto r = store.prune();
  if (!r) return push_failure(L, r.error());
  push_strings(L, *r);
  return 1;
}

// container_dirs() -> dir, upper, work: a new container directory in the store, owned so that
// root inside the sandbox can write its upper layer.
// Records which layers a container stands on, so that prune keeps them while it exists.
void write_layers_file(const std::string& dir, const std::vector<std::string>& layers) {
  std::ofstream f(dir + "/layers");
  for (const auto& l : layers) f << l << "\n";
}

int l_container_dirs(lua_State* L) {
  core::ImageStore store;
  auto layers = lua_istable(L, 1) ? check_string_list(L, 1, "layers") : std::vector<std::string>{};
  if (auto s = store.init(); !s) return push_failure(L, s.error());
  std::string dir = store.root() + "/containers/" + std::to_string(getpid()) + "-" + std::to_string(rand());
  std::string upper = dir + "/upper", work = dir + "/work";
  for (const auto& d : {dir, upper, work})
    if (mkdir(d.c_str(), 0700) != 0) return push_failure(L, core::sys_error("create container directory " + d));
  if (uint32_t shift = store.id_shift())
    for (const auto& d : {upper, work})
      if (chown(d.c_str(), shift, shift) != 0) return push_failure(L, core::sys_error("chown " + d));
  chmod(dir.c_str(), 0711);
  write_layers_file(dir, layers);
  lua_pushstring(L, dir.c_str());
  lua_pushstring(L, upper.c_str());
  lua_pushstring(L, work.c_str());
  return 3;
}

bool valid_name(const std::string& n) {
  return !n.empty() && n.size() <= 64 && n.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") == std::string::npos &&
         n[0] != '.' && n[0] != '-';
}

// named_container(name [, image_id]) -> dir, upper, work, image_id: a persistent container
// directory <state>/named/NAME, made on first use (then image_id is required) and reused after.
int l_named_container(lua_State* L) {
  std::string name = luaL_checkstring(L, 1);
  if (!valid_name(name)) raise(L, "container name '" + name + "': letters, digits, _ . - (not first), at most 64");
  core::ImageStore store;
  if (auto s = store.init(); !s) return push_failure(L, s.error());
  std::string base = store.root() + "/named";
  if (auto s = core::make_dirs(base, 0711); !s) return push_failure(L, s.error());
  std::string dir = base + "/" + name, upper = dir + "/upper", work = dir + "/work";
  std::string want = luaL_optstring(L, 2, "");
  std::string have;
  if (std::ifstream f(dir + "/image"); f) std::getline(f, have);
  if (!have.empty()) {
    if (!want.empty() && want != have)
      return push_failure(L, {EEXIST, "container " + name + ": exists with image " + have + " (remove it first)"});
  } else {
    if (want.empty()) return push_failure(L, {ENOENT, "container " + name + ": no such container"});
    // made whole in a draft, then claimed with one rename that never replaces
    auto draft = store.draft_dir("named");
    if (!draft) return push_failure(L, draft.error());
    const std::string& d0 = draft->path;
    for (const auto& d : {d0 + "/upper", d0 + "/work"})
      if (mkdir(d.c_str(), 0700) != 0) return push_failure(L, core::sys_error("create " + d));
    if (uint32_t shift = store.id_shift())
      for (const auto& d : {d0 + "/upper", d0 + "/work"})
        if (chown(d.c_str(), shift, shift) != 0) return push_failure(L, core::sys_error("chown " + d));
    chmod(d0.c_str(), 0711);
    std::ofstream(d0 + "/image") << want << "\n";
    if (auto img = store.get(want)) write_layers_file(d0, img->layers);
    if (auto s = core::ImageStore::publish_dir(d0, dir); !s) {
      // another process made it first: it is ours to continue only if it stands on the same image
      if (std::ifstream f(dir + "/image"); f) std::getline(f, have);
      if (s.error().err != EEXIST || have != want)
        return push_failure(L, {EEXIST, "container " + name + ": name in use" + (have.empty() ? "" : " (image " + have + ")")});
    }
    have = want;
  }
  lua_pushstring(L, dir.c_str());
  lua_pushstring(L, upper.c_str());
  lua_pushstring(L, work.c_str());
  lua_pushstring(L, have.c_str());
  return 4;
}

int l_remove_tree(lua_State* L) {
  std::string dir = luaL_checkstring(L, 1);
  core::ImageStore store;
  if (dir.rfind(store.root() + "/containers/", 0) != 0 && dir.rfind(store.root() + "/named/", 0) != 0 &&
      dir.rfind(store.root() + "/sandboxes/", 0) != 0)
    raise(L, "remove_tree: only container and sandbox directories of the store");
  if (dir.find("/../") != std::string::npos || (dir.size() >= 3 && dir.compare(dir.size() - 3, 3, "/..") == 0))
    raise(L, "remove_tree: '..' in " + dir);
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  if (ec) return push_failure(L, {ec.value(), "remove " + dir + ": " + ec.message()});
  lua_pushboolean(L, 1);
  return 1;
}

// diff(upper, lower_dirs) -> { { kind = "A"|"M"|"D", path = "/etc/x" }, ... }
int l_diff(lua_State* L) {
  std::string upper = luaL_checkstring(L, 1);
  auto lowers = check_string_list(L, 2, "lower layers");
  auto changes = core::upper_changes(upper, lowers);
  lua_createtable(L, static_cast<int>(changes.size()), 0);
  for (size_t i = 0; i < changes.size(); ++i) {
    lua_createtable(L, 0, 2);
    char k[2] = {changes[i].kind, 0};
    set_string(L, "kind", k);
    set_string(L, "path", ("/" + changes[i].path).c_str());
    lua_rawseti(L, -2, static_cast<int>(i + 1));
  }
  return 1;
}

// commit(upper, base_ref, tag [, config]) -> image: the base's layers + the upper as a new layer
int l_commit(lua_State* L) {
  std::string upper = luaL_checkstring(L, 1);
  core::ImageStore store;
  auto base = store.get(luaL_checkstring(L, 2));
  if (!base) return push_failure(L, base.error());
  core::ImageConfig cfg = lua_isnoneornil(L, 4) ? base->config : config_arg(L, 4);
  auto layer = store.add_layer_from_dir(upper, core::init_layer_paths());
  if (!layer) return push_failure(L, layer.error());
  std::vector<std::string> layers = base->layers;
  layers.push_back(layer->diff_id);
  auto img = store.put(layers, cfg, luaL_optstring(L, 3, ""));
  if (!img) return push_failure(L, img.error());
  push_image(L, store, *img);
  return 1;
}

// draft(kind) -> path, lock fd: a locked draft directory under <store>/<kind> (see ImageStore).
int l_draft(lua_State* L) {
  std::string kind = luaL_checkstring(L, 1);
  if (kind != "sandboxes" && kind != "named") raise(L, "draft: kind must be \"sandboxes\" or \"named\"");
  auto d = core::ImageStore().draft_dir(kind);
  if (!d) return push_failure(L, d.error());
  lua_pushstring(L, d->path.c_str());
  lua_pushinteger(L, d->lock.release());
  return 2;
}

// publish(draft, dest) -> true | nil, "DEST: name in use", EEXIST (the draft is removed then)
int l_publish(lua_State* L) {
  if (auto s = core::ImageStore::publish_dir(luaL_checkstring(L, 1), luaL_checkstring(L, 2)); !s) return push_failure(L, s.error());
  lua_pushboolean(L, 1);
  return 1;
}

int l_in_use(lua_State* L) {
  lua_pushboolean(L, core::dir_in_use(luaL_checkstring(L, 1)));
  return 1;
}

int l_collect_stale(lua_State* L) {
  push_strings(L, core::ImageStore().collect_stale());
  return 1;
}

// import(path [, name]) -> { image, ... } | nil, err
int l_import(lua_State* L) {
  core::ImageStore store;
  auto imgs = core::import_images(store, luaL_checkstring(L, 1), luaL_optstring(L, 2, ""));
  if (!imgs) return push_failure(L, imgs.error());
  lua_createtable(L, static_cast<int>(imgs->size()), 0);
  for (size_t i = 0; i < imgs->size(); ++i) {
    push_image(L, store, (*imgs)[i]);
    lua_rawseti(L, -2, static_cast<int>(i + 1));
  }
  return 1;
}

// export(ref, path [, format]) -> true | nil, err
int l_export(lua_State* L) {
  core::ImageStore store;
  auto s = core::export_image(store, luaL_checkstring(L, 1), luaL_checkstring(L, 2), luaL_optstring(L, 3, "oci-archive"));
  if (!s) return push_failure(L, s.error());
  lua_pushboolean(L, 1);
  return 1;
}

// store_dir([dir]) -> the store directory (first setting it for this process when given)
int l_store_dir(lua_State* L) {
  if (lua_isstring(L, 1)) {
    std::string dir = lua_tostring(L, 1);
    if (!dir.empty() && dir[0] != '/') raise(L, "store_dir: '" + dir + "' is not an absolute path");
    core::set_state_dir(dir);
  }
  lua_pushstring(L, core::ImageStore().root().c_str());
  return 1;
}

}  // namespace

void register_image(lua_State* L) {
  static const luaL_Reg fns[] = {
      {"from_dir", guarded<l_from_dir>},   {"import_layer", guarded<l_import_layer>},
      {"get", guarded<l_get>},             {"list", guarded<l_list>},
      {"tag", guarded<l_tag>},             {"remove", guarded<l_remove>},
      {"prune", guarded<l_prune>},         {"container_dirs", guarded<l_container_dirs>},
      {"remove_tree", guarded<l_remove_tree>}, {"diff", guarded<l_diff>},
      {"commit", guarded<l_commit>},       {"store_dir", guarded<l_store_dir>},
      {"import", guarded<l_import>},       {"export", guarded<l_export>},
      {"named_container", guarded<l_named_container>}, {"collect_stale", guarded<l_collect_stale>},
      {"draft", guarded<l_draft>}, {"publish", guarded<l_publish>}, {"in_use", guarded<l_in_use>},
      {nullptr, nullptr}};
  lua_newtable(L);
  luaL_register(L, nullptr, fns);
}

}  // namespace sbx::bind
