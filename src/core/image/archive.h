// libarchive and libcrypto, loaded on first use (dlopen): linking them would add ~5 ms to every
// sbx start for the 18 libraries they pull in, and only image work needs them.
#pragma once
#include <archive.h>
#include <archive_entry.h>

#include <string>

#include "core/base/dl.h"
#include "core/base/result.h"

namespace sbx::core {

// (an X-macro list: clang-format does not settle on one layout for it)
// clang-format off
#define SBX_ARCHIVE_FUNCTIONS(X) \
  X(archive_read_new) \
  X(archive_read_support_filter_all) \
  X(archive_read_support_format_tar) \
  X(archive_read_support_format_raw) \
  X(archive_read_open_fd) \
  X(archive_read_open) \
  X(archive_read_next_header) \
  X(archive_read_data) \
  X(archive_read_free) \
  X(archive_error_string) \
  X(archive_errno) \
  X(archive_entry_pathname) \
  X(archive_entry_filetype) \
  X(archive_entry_perm) \
  X(archive_entry_uid) \
  X(archive_entry_gid) \
  X(archive_entry_size) \
  X(archive_entry_symlink) \
  X(archive_entry_hardlink) \
  X(archive_entry_mtime) \
  X(archive_entry_size_is_set) \
  X(archive_write_new) \
  X(archive_write_set_format_pax_restricted) \
  X(archive_write_open_fd) \
  X(archive_write_open) \
  X(archive_write_header) \
  X(archive_write_data) \
  X(archive_write_close) \
  X(archive_write_free) \
  X(archive_entry_new) \
  X(archive_entry_free) \
  X(archive_entry_set_pathname) \
  X(archive_entry_set_filetype) \
  X(archive_entry_set_perm) \
  X(archive_entry_set_uid) \
  X(archive_entry_set_gid) \
  X(archive_entry_set_size) \
  X(archive_entry_set_symlink) \
  X(archive_entry_set_hardlink) \
  X(archive_entry_set_mtime) \
  X(archive_write_add_filter_gzip) \
  X(archive_write_set_bytes_in_last_block)
// clang-format on

struct ArchiveApi {
  SBX_ARCHIVE_FUNCTIONS(SBX_DL_DECLARE)
};

// The loaded API, or an error saying which library is missing and how to install it.
Result<const ArchiveApi*> archive_api();

// SHA-256 through libcrypto's EVP interface (loaded on first use).
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  bool ok() const { return ctx_ != nullptr; }
  void update(const void* data, size_t n);
  std::string hex();  // finishes: 64 lowercase hex digits

 private:
  void* ctx_ = nullptr;
};

// "sha256:<hex>" of a whole file.
Result<std::string> sha256_file(const std::string& path);

}  // namespace sbx::core
