#include "core/image/archive.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <unistd.h>

#include "core/base/fd.h"

namespace sbx::core {

namespace {

#define SBX_CRYPTO_FUNCTIONS(X) \
  X(EVP_MD_CTX_new)             \
  X(EVP_MD_CTX_free) X(EVP_sha256) X(EVP_DigestInit_ex) X(EVP_DigestUpdate) X(EVP_DigestFinal_ex)

struct CryptoApi {
  SBX_CRYPTO_FUNCTIONS(SBX_DL_DECLARE)
};

Result<const CryptoApi*> crypto_api() {
  return dl_once<CryptoApi>([](CryptoApi& api, std::string& error) {
    if (void* lib =
            dl_open("libcrypto.so.3", RTLD_NOW | RTLD_LOCAL, "libcrypto", "libssl3", error)) {
#define SBX_LOAD(name) dl_sym(lib, api.name, #name, "libcrypto", error);
      SBX_CRYPTO_FUNCTIONS(SBX_LOAD)
#undef SBX_LOAD
    }
  });
}

const CryptoApi* crypto() {
  auto api = crypto_api();
  return api ? *api : nullptr;
}

}  // namespace

Result<const ArchiveApi*> archive_api() {
  return dl_once<ArchiveApi>([](ArchiveApi& api, std::string& error) {
    if (void* h = dl_open("libarchive.so.13", RTLD_NOW | RTLD_LOCAL, "libarchive", "libarchive13",
                          error)) {
#define SBX_LOAD(name) dl_sym(h, api.name, #name, "libarchive", error);
      SBX_ARCHIVE_FUNCTIONS(SBX_LOAD)
#undef SBX_LOAD
    }
  });
}

Sha256::Sha256() {
  const CryptoApi* c = crypto();
  if (!c) return;
  EVP_MD_CTX* ctx = c->EVP_MD_CTX_new();
  if (ctx && c->EVP_DigestInit_ex(ctx, c->EVP_sha256(), nullptr) != 1) {
    c->EVP_MD_CTX_free(ctx);
    ctx = nullptr;
  }
  ctx_ = ctx;
}

Sha256::~Sha256() {
  if (ctx_) crypto()->EVP_MD_CTX_free(static_cast<EVP_MD_CTX*>(ctx_));
}

void Sha256::update(const void* data, size_t n) {
  if (ctx_) crypto()->EVP_DigestUpdate(static_cast<EVP_MD_CTX*>(ctx_), data, n);
}

std::string Sha256::hex() {
  unsigned char md[32];
  unsigned int n = 0;
  if (!ctx_ || crypto()->EVP_DigestFinal_ex(static_cast<EVP_MD_CTX*>(ctx_), md, &n) != 1) return "";
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < n; ++i) {
    out += digits[md[i] >> 4];
    out += digits[md[i] & 15];
  }
  return out;
}

Result<std::string> sha256_file(const std::string& path) {
  if (auto api = crypto_api(); !api) return api.error().context("sha256 " + path);
  Sha256 h;
  if (!h.ok()) return Error{ENOMEM, "sha256 " + path + ": no digest context"};
  Fd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.ok()) return sys_error("sha256 " + path);
  char buf[1 << 16];
  ssize_t n;
  while ((n = read(fd.get(), buf, sizeof buf)) > 0) h.update(buf, static_cast<size_t>(n));
  if (n < 0) return sys_error("sha256 " + path);
  return "sha256:" + h.hex();
}

}  // namespace sbx::core
