// Debian libraries loaded on first use (dlopen), typed by their own declarations (decltype):
// linking them would make every sbx start pay their loading (measured: ~5 ms for libarchive's
// and libcrypto's dependencies), though most runs never call them.
#pragma once
#include <dlfcn.h>

#include <string>

#include "core/base/result.h"

namespace sbx::core {

// Opens `soname`; on failure `error` says "load WHAT: <why> (apt-get install PACKAGE)".
inline void* dl_open(const char* soname, int flags, const char* what, const char* package,
                     std::string& error) {
  void* lib = dlopen(soname, flags);
  if (!lib)
    error = std::string("load ") + what + ": " + dlerror() + " (apt-get install " + package + ")";
  return lib;
}

// Looks `name` up into `fn`; the first missing symbol becomes `error`.
template <class F>
void dl_sym(void* lib, F& fn, const char* name, const char* what, std::string& error) {
  fn = reinterpret_cast<F>(dlsym(lib, name));
  if (!fn && error.empty()) error = std::string("load ") + what + ": no symbol " + name;
}

// A library's API loaded the first time it is asked for, and only then: `load(api, error)` fills
// `api` with dl_open and dl_sym, leaving `error` empty when all was found. Once per process and
// per call site (the static belongs to the caller's own lambda type); thread-safe.
//   Result<const NftApi*> nft_api() { return dl_once<NftApi>([](NftApi& api, std::string& error)
//   {...}); }
template <class Api, class Load>
Result<const Api*> dl_once(Load load) {
  struct Loaded {
    Api api;
    std::string error;
  };
  static const Loaded loaded = [&] {
    Loaded l;
    load(l.api, l.error);
    return l;
  }();
  if (!loaded.error.empty()) return Error{ENOSYS, loaded.error};
  return &loaded.api;
}

}  // namespace sbx::core

// One typed pointer per function of a library, for an X-macro list of names.
#define SBX_DL_DECLARE(name) decltype(&::name) name = nullptr;
