// sbx.image (C half): the local image store, container upper directories, diff and commit.
#include "core/image/image.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include "core/base/fd.h"
#include "core/image/containers.h"
#include "core/image/image_io.h"
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
  for (auto it = img.layers.rbegin(); it != img.layers.rend(); ++it)
    dirs.push_back(store.layer_dir(*it));
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
  c.entrypoint =
      opt_string_list_field(L, idx, "config", "entrypoint").value_or(std::vector<std::string>{});
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
  core::Fd guard = store.import_guard();
  auto layer = store.add_layer_from_dir(dir, {});
  if (!layer) return push_failure(L, layer.error());
  auto img = store.put({layer->diff_id}, cfg, tag);
  if (!img) return push_failure(L, img.error());
  push_image(L, store, *img);
  return 1;
}

// import_layer(tar_path, base_ref_or_nil, tag [, config]) -> image with the base's layers + this
// one
int l_import_layer(lua_State* L) {
  std::string path = luaL_checkstring(L, 1);
  core::ImageStore store;
  core::Fd guard = store.import_guard();  // (the base too: prune waits until its image is put)
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

// prune([{ all =, until = secs }])
int l_prune(lua_State* L) {
  core::ImageStore store;
  core::ImageStore::PruneOptions opts;
  if (lua_istable(L, 1)) {
    lua_getfield(L, 1, "all");
    opts.all = lua_toboolean(L, -1);
    lua_getfield(L, 1, "until");
    if (lua_isnumber(L, -1)) opts.until = static_cast<long long>(lua_tonumber(L, -1));
    lua_pop(L, 2);
  }
  auto r = store.prune(opts);
  if (!r) return push_failure(L, r.error());
  push_strings(L, *r);
  return 1;
}

int push_container(lua_State* L, const core::ContainerDirs& c, bool with_image) {
  lua_pushstring(L, c.dir.c_str());
  lua_pushstring(L, c.upper.c_str());
  lua_pushstring(L, c.work.c_str());
  if (!with_image) return 3;
  lua_pushstring(L, c.image.c_str());
  return 4;
}

// container_dirs([layers]) -> dir, upper, work: a new container directory in the store (see
// core/image/containers.h), recording the layers it stands on.
int l_container_dirs(lua_State* L) {
  auto layers = lua_istable(L, 1) ? check_string_list(L, 1, "layers") : std::vector<std::string>{};
  auto c = core::make_container_dirs(core::ImageStore(), layers);
  if (!c) return push_failure(L, c.error());
  return push_container(L, *c, false);
}

// named_container(name [, image_id]) -> dir, upper, work, image_id: a persistent container
// directory <state>/named/NAME, made on first use (then image_id is required) and reused after.
int l_named_container(lua_State* L) {
  std::string name = luaL_checkstring(L, 1);
  if (!core::valid_container_name(name))
    raise(L, "container name '" + name + "': letters, digits, _ . - (not first), at most 64");
  auto c = core::named_container(core::ImageStore(), name, luaL_optstring(L, 2, ""));
  if (!c) return push_failure(L, c.error());
  return push_container(L, *c, true);
}

// workspace_dirs(name, lower) -> dir | nil, err: <store>/workspaces/NAME, made (upper/, work/)
int l_workspace_dirs(lua_State* L) {
  auto d =
      core::make_workspace_dirs(core::ImageStore(), luaL_checkstring(L, 1), luaL_checkstring(L, 2));
  if (!d) return push_failure(L, d.error());
  lua_pushstring(L, d->c_str());
  return 1;
}

// remove_tree(dir) -> true | nil, err: a container or sandbox directory of the store, whole
// (any other path is misuse).
int l_remove_tree(lua_State* L) {
  std::string dir = luaL_checkstring(L, 1);
  core::ImageStore store;
  if (auto s = core::check_removable(store, dir); !s) raise(L, "remove_tree: " + s.error().message);
  if (auto s = core::remove_container_dir(store, dir); !s) return push_failure(L, s.error());
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
  std::string base_ref = luaL_checkstring(L, 2);
  core::ImageStore store;
  core::Fd guard = store.import_guard();
  auto base = store.get(base_ref);
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

// draft(kind) -> path, lock fd: a locked draft directory under <store>/<kind> (see
// core/image/containers.h).
int l_draft(lua_State* L) {
  std::string kind = luaL_checkstring(L, 1);
  if (kind != "sandboxes" && kind != "named")
    raise(L, "draft: kind must be \"sandboxes\" or \"named\"");
  auto d = core::draft_dir(core::ImageStore(), kind);
  if (!d) return push_failure(L, d.error());
  lua_pushstring(L, d->path.c_str());
  lua_pushinteger(L, d->lock.release());
  return 2;
}

// publish(draft, dest) -> true | nil, "DEST: name in use", EEXIST (the draft is removed then)
int l_publish(lua_State* L) {
  if (auto s = core::publish_dir(luaL_checkstring(L, 1), luaL_checkstring(L, 2)); !s)
    return push_failure(L, s.error());
  lua_pushboolean(L, 1);
  return 1;
}

// hold(dir) -> fd: a shared lock on a directory for as long as the fd is open (a named container
// in use: in_use() says so, sbx rm leaves it)
int l_hold(lua_State* L) {
  std::string dir = luaL_checkstring(L, 1);
  int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return push_failure(L, core::sys_error("lock " + dir));
  if (flock(fd, LOCK_SH) != 0) {
    int e = errno;
    close(fd);
    return push_failure(L, core::sys_error("lock " + dir, e));
  }
  lua_pushinteger(L, fd);
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
  std::string path = luaL_checkstring(L, 1), name = luaL_optstring(L, 2, "");
  core::ImageStore store;
  core::Fd guard = store.import_guard();
  auto imgs = core::import_images(store, path, name);
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
  auto s = core::export_image(store, luaL_checkstring(L, 1), luaL_checkstring(L, 2),
                              luaL_optstring(L, 3, "oci-archive"));
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
  static const luaL_Reg fns[] = {{"from_dir", guarded<l_from_dir>},
                                 {"import_layer", guarded<l_import_layer>},
                                 {"get", guarded<l_get>},
                                 {"list", guarded<l_list>},
                                 {"tag", guarded<l_tag>},
                                 {"remove", guarded<l_remove>},
                                 {"prune", guarded<l_prune>},
                                 {"container_dirs", guarded<l_container_dirs>},
                                 {"remove_tree", guarded<l_remove_tree>},
                                 {"diff", guarded<l_diff>},
                                 {"commit", guarded<l_commit>},
                                 {"store_dir", guarded<l_store_dir>},
                                 {"import", guarded<l_import>},
                                 {"export", guarded<l_export>},
                                 {"named_container", guarded<l_named_container>},
                                 {"workspace_dirs", guarded<l_workspace_dirs>},
                                 {"collect_stale", guarded<l_collect_stale>},
                                 {"draft", guarded<l_draft>},
                                 {"publish", guarded<l_publish>},
                                 {"in_use", guarded<l_in_use>},
                                 {"hold", guarded<l_hold>},
                                 {nullptr, nullptr}};
  lua_newtable(L);
  luaL_register(L, nullptr, fns);
}

}  // namespace sbx::bind
