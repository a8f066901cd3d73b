#include "core/image/archive.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <unistd.h>

#include "core/base/fd.h"

namespace sbx::core {

namespace {

struct Crypto {
  void* (*md_ctx_new)() = nullptr;
  void (*md_ctx_free)(void*) = nullptr;
  const void* (*sha256)() = nullptr;
  int (*init)(void*, const void*, void*) = nullptr;
  int (*update)(void*, const void*, size_t) = nullptr;
  int (*final)(void*, unsigned char*, unsigned int*) = nullptr;
};

const Crypto* crypto() {
  static Crypto c;
  static bool tried = false;
  if (!tried) {
    tried = true;
    void* h = dlopen("libcrypto.so.3", RTLD_NOW | RTLD_LOCAL);
    if (!h) return nullptr;
    c.md_ctx_new = reinterpret_cast<void* (*)()>(dlsym(h, "EVP_MD_CTX_new"));
    c.md_ctx_free = reinterpret_cast<void (*)(void*)>(dlsym(h, "EVP_MD_CTX_free"));
    c.sha256 = reinterpret_cast<const void* (*)()>(dlsym(h, "EVP_sha256"));
    c.init = reinterpret_cast<int (*)(void*, const void*, void*)>(dlsym(h, "EVP_DigestInit_ex"));
    c.update = reinterpret_cast<int (*)(void*, const void*, size_t)>(dlsym(h, "EVP_DigestUpdate"));
    c.final = reinterpret_cast<int (*)(void*, unsigned char*, unsigned int*)>(dlsym(h, "EVP_DigestFinal_ex"));
    if (!c.md_ctx_new || !c.md_ctx_free || !c.sha256 || !c.init || !c.update || !c.final) c = Crypto{};
  }
  return c.md_ctx_new ? &c : nullptr;
}

}  // namespace

Result<const ArchiveApi*> archive_api() {
  static ArchiveApi api;
  static std::string error;
  static bool tried = false;
  if (!tried) {
    tried = true;
    if (void* h = dl_open("libarchive.so.13", RTLD_NOW | RTLD_LOCAL, "libarchive", "libarchive13", error)) {
#define SBX_LOAD(name) dl_sym(h, api.name, #name, "libarchive", error);
      SBX_ARCHIVE_FUNCTIONS(SBX_LOAD)
#undef SBX_LOAD
    }
  }
  if (!error.empty()) return Error{ENOSYS, error};
  return &api;
}

Sha256::Sha256() {
  const Crypto* c = crypto();
  if (!c) return;
  ctx_ = c->md_ctx_new();
  if (ctx_ && c->init(ctx_, c->sha256(), nullptr) != 1) {
    c->md_ctx_free(ctx_);
    ctx_ = nullptr;
  }
}

Sha256::~Sha256() {
  if (ctx_) crypto()->md_ctx_free(ctx_);
}

void Sha256::update(const void* data, size_t n) {
  if (ctx_) crypto()->update(ctx_, data, n);
}

std::string Sha256::hex() {
  unsigned char md[32];
  unsigned int n = 0;
  if (!ctx_ || crypto()->final(ctx_, md, &n) != 1) return "";
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < n; ++i) {
    out += digits[md[i] >> 4];
    out += digits[md[i] & 15];
  }
  return out;
}

Result<std::string> sha256_file(const std::string& path) {
  Sha256 h;
  if (!h.ok()) return Error{ENOSYS, "sha256: cannot load libcrypto.so.3 (apt-get install libssl3)"};
  Fd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.ok()) return sys_error("sha256 " + path);
  char buf[1 << 16];
  ssize_t n;
  while ((n = read(fd.get(), buf, sizeof buf)) > 0) h.update(buf, static_cast<size_t>(n));
  if (n < 0) return sys_error("sha256 " + path);
  return "sha256:" + h.hex();
}

}  // namespace sbx::core
