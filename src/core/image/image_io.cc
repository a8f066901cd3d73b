#include "core/image/image_io.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/base/fd.h"
#include "core/base/io.h"
#include "core/base/json.h"
#include "core/image/archive.h"
#include "core/image/layer.h"

namespace sbx::core {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

struct TempDir {
  std::string path;
  explicit TempDir(const std::string& base) {
    std::string t = base + "/io-XXXXXX";
    std::vector<char> buf(t.begin(), t.end());
    buf.push_back(0);
    if (mkdtemp(buf.data())) path = buf.data();
  }
  ~TempDir() {
    std::error_code ec;
    if (!path.empty()) fs::remove_all(path, ec);
  }
};

Result<json> read_json(const std::string& path) {
  auto text = read_file(path);
  if (!text) return text.error();
  return parse_json(*text, path.substr(path.rfind('/') + 1));
}

// "sha256:<hex>" with a hex part of 64 lowercase digits; anything else cannot be a blob name.
bool valid_digest(const std::string& d) {
  return d.size() == 71 && d.rfind("sha256:", 0) == 0 &&
         d.find_first_not_of("0123456789abcdef", 7) == std::string::npos;
}

// A blob of an OCI layout, its digest checked against its content.
Result<std::string> blob(const std::string& dir, const std::string& digest,
                         const std::string& what) {
  if (!valid_digest(digest)) return Error{EINVAL, what + ": bad digest '" + digest + "'"};
  std::string path = dir + "/blobs/sha256/" + digest.substr(7);
  auto actual = sha256_file(path);
  if (!actual) return actual.error().context(what);
  if (*actual != digest)
    return Error{EINVAL,
                 what + ": digest mismatch: the blob is " + *actual + ", expected " + digest};
  return path;
}

// Fields of untrusted JSON, read leniently and without ever throwing: "" / {} when absent or of
// another type (what matters is checked where it is used: digests, paths, diff ids).
std::string str_field(const json& j, const char* key) {
  const json* v = json_field(j, key);
  return v && v->is_string() ? v->get<std::string>() : "";
}
std::vector<std::string> str_list(const json& j, const char* key) {
  std::vector<std::string> out;
  if (const json* v = json_field(j, key); v && v->is_array())
    for (const auto& x : *v)
      if (x.is_string()) out.push_back(x.get<std::string>());
  return out;
}
const json& obj_field(const json& j, const char* key) {
  static const json empty = json::object();
  const json* v = json_field(j, key);
  return v && v->is_object() ? *v : empty;
}
const json& list_field(const json& j, const char* key) {
  static const json empty = json::array();
  const json* v = json_field(j, key);
  return v && v->is_array() ? *v : empty;
}

ImageConfig config_of(const json& cfg) {
  const json& k = obj_field(cfg, "config");
  ImageConfig c;
  c.env = str_list(k, "Env");
  c.cmd = str_list(k, "Cmd");
  c.entrypoint = str_list(k, "Entrypoint");
  c.workdir = str_field(k, "WorkingDir");
  c.user = str_field(k, "User");
  return c;
}

// Stores each layer file, checking its diff id against the config's rootfs.diff_ids.
Result<std::vector<std::string>> store_layers(const ImageStore& store,
                                              const std::vector<std::string>& files,
                                              const json& cfg, const std::string& what) {
  std::vector<std::string> want;
  for (const auto& d : list_field(obj_field(cfg, "rootfs"), "diff_ids")) {
    if (!d.is_string()) return Error{EINVAL, what + ": a diff id in the config is not a string"};
    want.push_back(d.get<std::string>());
  }
  if (want.size() != files.size())
    return Error{EINVAL, what + ": the config lists " + std::to_string(want.size()) +
                             " layers, the manifest " + std::to_string(files.size())};
  std::vector<std::string> ids;
  for (size_t i = 0; i < files.size(); ++i) {
    Fd fd(open(files[i].c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd.ok()) return sys_error(what + ": layer " + std::to_string(i + 1));
    auto info = store.add_layer(fd.get(), what + ": layer " + std::to_string(i + 1));
    if (!info) return info.error();
    if (info->diff_id != want[i])
      return Error{EINVAL, what + ": layer " + std::to_string(i + 1) +
                               ": digest mismatch: its content is " + info->diff_id +
                               ", the config says " + want[i]};
    ids.push_back(info->diff_id);
  }
  return ids;
}

// The tag an imported image gets: a NAME given by the user wins (a bare ref such as "1.0" becomes
// its tag); otherwise the archive's own.
std::string tag_for(std::string ref, const std::string& name) {
  if (ref.empty()) return name.empty() ? "imported:latest" : name;
  bool bare = ref.find(':') == std::string::npos && ref.find('/') == std::string::npos;
  if (!name.empty() && (!bare || name.find(':') != std::string::npos)) return name;
  if (bare && !name.empty()) return name + ":" + ref;
  if (auto t = normalize_tag(ref); t) return *t;
  return name.empty() ? "imported:latest" : name;
}

Result<std::vector<Image>> import_oci(const ImageStore& store, const std::string& dir,
                                      const std::string& name) {
  auto index = read_json(dir + "/index.json");
  if (!index) return index.error().context("OCI layout");
  std::vector<Image> out;
  const json* manifests = json_field(*index, "manifests");
  if (!manifests || !manifests->is_array())
    return Error{EINVAL, "OCI layout: index.json has no manifests"};
  for (const auto& desc : *manifests) {
    std::string digest = str_field(desc, "digest");
    auto mpath = blob(dir, digest, "OCI manifest");
    if (!mpath) return mpath.error();
    auto manifest = read_json(*mpath);
    if (!manifest) return manifest.error();
    const json* config = json_field(*manifest, "config");
    const json* layers = json_field(*manifest, "layers");
    if (!config || !config->is_object() || !layers || !layers->is_array())
      return Error{EINVAL, "OCI manifest " + digest +
                               ": no config or layers (an index of indexes is not supported)"};
    auto cpath = blob(dir, str_field(*config, "digest"), "OCI config");
    if (!cpath) return cpath.error();
    auto cfg = read_json(*cpath);
    if (!cfg) return cfg.error();
    std::vector<std::string> files;
    for (const auto& l : *layers) {
      auto lpath = blob(dir, str_field(l, "digest"), "OCI layer");
      if (!lpath) return lpath.error();
      files.push_back(*lpath);
    }
    auto ids = store_layers(store, files, *cfg, "OCI image " + digest.substr(0, 19));
    if (!ids) return ids.error();
    std::string ref =
        str_field(obj_field(desc, "annotations"), "org.opencontainers.image.ref.name");
    auto img = store.put(*ids, config_of(*cfg), tag_for(ref, name));
    if (!img) return img.error();
    out.push_back(*img);
  }
  return out;
}

Result<std::vector<Image>> import_docker(const ImageStore& store, const std::string& dir,
                                         const std::string& name) {
  auto manifest = read_json(dir + "/manifest.json");
  if (!manifest) return manifest.error().context("docker archive");
  std::vector<Image> out;
  if (!manifest->is_array())
    return Error{EINVAL, "docker archive: manifest.json is not a list of images"};
  for (const auto& m : *manifest) {
    if (!m.is_object())
      return Error{EINVAL, "docker archive: manifest.json entry " + std::to_string(out.size() + 1) +
                               " is not an object"};
    std::string config = str_field(m, "Config");
    if (!check_entry_path(config).empty())
      return Error{EINVAL, "docker archive: bad config path '" + config + "'"};
    auto cfg = read_json(dir + "/" + config);
    if (!cfg) return cfg.error();
    std::vector<std::string> files;
    for (const auto& l : str_list(m, "Layers")) {
      if (!check_entry_path(l).empty())
        return Error{EINVAL, "docker archive: bad layer path '" + l + "'"};
      files.push_back(dir + "/" + l);
    }
    auto ids = store_layers(store, files, *cfg, "docker image " + config);
    if (!ids) return ids.error();
    auto tags = str_list(m, "RepoTags");
    auto img = store.put(*ids, config_of(*cfg), tag_for(tags.empty() ? "" : tags[0], name));
    if (!img) return img.error();
    for (size_t i = 1; i < tags.size(); ++i) (void)store.tag(img->id, tag_for(tags[i], name));
    out.push_back(*img);
  }
  return out;
}

std::string sha_of_text(const std::string& text) {
  Sha256 h;
  h.update(text.data(), text.size());
  return "sha256:" + h.hex();
}

}  // namespace

Result<std::vector<Image>> import_images(const ImageStore& store, const std::string& path,
                                         const std::string& name) {
  if (auto s = store.init(); !s) return s.error();
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return sys_error("import " + path);
  std::string dir = path;
  TempDir tmp(store.root() + "/tmp");
  if (!S_ISDIR(st.st_mode)) {
    // The outer archive goes through the same checked extraction as a layer (no ids shifted).
    if (tmp.path.empty()) return sys_error("import: temporary directory");
    Fd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd.ok()) return sys_error("import " + path);
    auto unpacked =
        import_layer(fd.get(), tmp.path + "/a", tmp.path + "/a.tar", "archive " + path, 0);
    if (!unpacked) return unpacked.error();
    dir = tmp.path + "/a";
  }
  // (the readers check every type they use: nothing in them throws)
  if (access((dir + "/index.json").c_str(), F_OK) == 0) return import_oci(store, dir, name);
  if (access((dir + "/manifest.json").c_str(), F_OK) == 0) return import_docker(store, dir, name);
  // a plain root filesystem (a tar of /bin, /etc...): a layer, not an image
  bool rootfs = access((dir + "/bin").c_str(), F_OK) == 0 ||
                access((dir + "/etc").c_str(), F_OK) == 0 ||
                access((dir + "/usr").c_str(), F_OK) == 0;
  return Error{EINVAL,
               "import " + path +
                   ": neither an OCI layout (index.json) nor a docker archive (manifest.json)" +
                   (rootfs ? "; it looks like a plain root filesystem: sbx image import-layer " +
                                 path + " NAME[:TAG] makes an image of it"
                           : "")};
}

Status export_image(const ImageStore& store, const std::string& ref, const std::string& out_path,
                    const std::string& format) {
  if (format != "oci-archive" && format != "docker-archive")
    return user_error("export: format '" + format + "' (expected oci-archive or docker-archive)");
  auto img = store.get(ref);
  if (!img) return img.error();
  if (auto s = store.init(); !s) return s.error();
  TempDir tmp(store.root() + "/tmp");
  if (tmp.path.empty()) return sys_error("export: temporary directory");
  std::string blobs = tmp.path + "/blobs/sha256";
  std::error_code ec;
  if (fs::create_directories(blobs, ec); ec)
    return Error{ec.value(), "export: create " + blobs + ": " + ec.message()};
  // Layers as uncompressed tars: their blob digest is their diff id.
  std::vector<std::string> diff_ids;
  std::vector<uint64_t> sizes;
  for (const auto& l : img->layers) {
    std::string spool = tmp.path + "/layer.tmp";
    Fd out(open(spool.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (!out.ok()) return sys_error("export: " + spool);
    auto info = export_layer(store.layer_dir(l), out.get(), {}, store.id_shift());
    if (!info) return info.error().context("export layer " + l);
    diff_ids.push_back(info->diff_id);
    sizes.push_back(info->tar_size);
    std::string dest = format == "oci-archive" ? blobs + "/" + info->diff_id.substr(7)
                                               : tmp.path + "/" + info->diff_id.substr(7) + ".tar";
    if (rename(spool.c_str(), dest.c_str()) != 0) return sys_error("export: " + dest);
  }
  std::string tag = img->tags.empty() ? "" : img->tags[0];
  json cfg = {{"architecture", "amd64"},
              {"os", "linux"},
              {"created", img->created},
              {"config",
               {{"Env", img->config.env},
                {"Cmd", img->config.cmd},
                {"Entrypoint", img->config.entrypoint},
                {"WorkingDir", img->config.workdir},
                {"User", img->config.user}}},
              {"rootfs", {{"type", "layers"}, {"diff_ids", diff_ids}}}};
  std::string cfg_text = json_text(cfg);
  std::string cfg_digest = sha_of_text(cfg_text);
  if (format == "oci-archive") {
    if (auto s = write_file(blobs + "/" + cfg_digest.substr(7), cfg_text); !s) return s;
    json layers = json::array();
    for (size_t i = 0; i < diff_ids.size(); ++i)
      layers.push_back({{"mediaType", "application/vnd.oci.image.layer.v1.tar"},
                        {"digest", diff_ids[i]},
                        {"size", sizes[i]}});
    json manifest = {{"schemaVersion", 2},
                     {"mediaType", "application/vnd.oci.image.manifest.v1+json"},
                     {"config",
                      {{"mediaType", "application/vnd.oci.image.config.v1+json"},
                       {"digest", cfg_digest},
                       {"size", cfg_text.size()}}},
                     {"layers", layers}};
    std::string man_text = json_text(manifest);
    std::string man_digest = sha_of_text(man_text);
    if (auto s = write_file(blobs + "/" + man_digest.substr(7), man_text); !s) return s;
    json desc = {{"mediaType", "application/vnd.oci.image.manifest.v1+json"},
                 {"digest", man_digest},
                 {"size", man_text.size()}};
    if (!tag.empty()) desc["annotations"] = {{"org.opencontainers.image.ref.name", tag}};
    json index = {{"schemaVersion", 2}, {"manifests", json::array({desc})}};
    if (auto s = write_file(tmp.path + "/index.json", json_text(index)); !s) return s;
    if (auto s = write_file(tmp.path + "/oci-layout", R"({"imageLayoutVersion":"1.0.0"})"); !s)
      return s;
  } else {
    if (auto s = write_file(tmp.path + "/" + cfg_digest.substr(7) + ".json", cfg_text); !s)
      return s;
    json layers = json::array();
    for (const auto& d : diff_ids) layers.push_back(d.substr(7) + ".tar");
    json manifest = json::array({{{"Config", cfg_digest.substr(7) + ".json"},
                                  {"RepoTags", tag.empty() ? json::array() : json::array({tag})},
                                  {"Layers", layers}}});
    if (auto s = write_file(tmp.path + "/manifest.json", json_text(manifest)); !s) return s;
  }
  std::string partial = out_path + ".partial";
  Fd out(open(partial.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!out.ok()) return sys_error("export: create " + partial);
  auto written = export_layer(tmp.path, out.get(), {}, 0);
  if (!written) {
    unlink(partial.c_str());
    return written.error().context("export " + out_path);
  }
  if (rename(partial.c_str(), out_path.c_str()) != 0)
    return sys_error("export: rename to " + out_path);
  return {};
}

}  // namespace sbx::core
