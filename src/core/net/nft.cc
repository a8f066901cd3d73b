#include "core/net/nft.h"

#include <fcntl.h>
#include <nftables/libnftables.h>
#include <sched.h>
#include <unistd.h>

#include "core/base/dl.h"
#include "core/base/fd.h"
#include "core/net/net.h"

namespace sbx::core {

namespace {

// (an X-macro list: clang-format does not settle on one layout for it)
// clang-format off
#define SBX_NFT_FUNCTIONS(X) \
  X(nft_ctx_new) \
  X(nft_ctx_free) \
  X(nft_ctx_buffer_output) \
  X(nft_ctx_buffer_error) \
  X(nft_ctx_get_output_buffer) \
  X(nft_ctx_get_error_buffer) \
  X(nft_run_cmd_from_buffer) \
  X(nft_ctx_output_set_flags)
// clang-format on

struct NftApi {
  SBX_NFT_FUNCTIONS(SBX_DL_DECLARE)
};

Result<const NftApi*> nft_api() {
  return dl_once<NftApi>([](NftApi& api, std::string& error) {
    if (void* lib = dl_open("libnftables.so.1", RTLD_NOW | RTLD_LOCAL, "libnftables",
                            "libnftables1", error)) {
#define SBX_LOAD(name) dl_sym(lib, api.name, #name, "libnftables", error);
      SBX_NFT_FUNCTIONS(SBX_LOAD)
#undef SBX_LOAD
    }
  });
}

std::string first_line(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  auto nl = s.find('\n');
  return nl == std::string::npos ? s : s.substr(0, nl);
}

}  // namespace

Result<std::string> nft_run(const std::string& commands, bool json) {
  auto a = nft_api();
  if (!a) return a.error();
  struct nft_ctx* ctx = (*a)->nft_ctx_new(NFT_CTX_DEFAULT);
  if (!ctx) return Error{ENOMEM, "nftables: cannot create a context"};
  (*a)->nft_ctx_buffer_output(ctx);
  (*a)->nft_ctx_buffer_error(ctx);
  if (json) (*a)->nft_ctx_output_set_flags(ctx, NFT_CTX_OUTPUT_JSON);
  int rc = (*a)->nft_run_cmd_from_buffer(ctx, commands.c_str());
  std::string out = (*a)->nft_ctx_get_output_buffer(ctx);
  std::string err = (*a)->nft_ctx_get_error_buffer(ctx);
  (*a)->nft_ctx_free(ctx);
  // libnftables reports a failure only as text, so the error carries no errno of the kernel's
  // (EIO); a caller that must know why asks nft again (get element, list table) instead of reading
  // it.
  if (rc != 0) return Error{EIO, "nftables: " + first_line(err)};
  return out;
}

Result<std::string> nft_run_in_ns(int netns_fd, const std::string& commands, bool json,
                                  int userns_fd) {
  if (userns_fd >= 0) {
    auto out = in_namespaces(userns_fd, netns_fd, [&](Fd&) { return nft_run(commands, json); });
    if (!out) return out.error().context("nftables");
    return out;
  }
  Fd home(open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC));
  if (!home.ok() || setns(netns_fd, CLONE_NEWNET) != 0)
    return sys_error("nftables: enter the sandbox's network namespace");
  auto out = nft_run(commands, json);
  (void)setns(home.get(), CLONE_NEWNET);  // back home (cannot fail for our own)
  return out;
}

Result<std::string> nft_run_in(pid_t pid, const std::string& commands, bool json) {
  auto ns = netns_of(pid);
  if (!ns) return ns.error().context("nftables");
  if (unprivileged_net()) {
    auto user = userns_of(pid);
    if (!user) return user.error().context("nftables");
    return nft_run_in_ns(ns->get(), commands, json, user->get());
  }
  return nft_run_in_ns(ns->get(), commands, json);
}

}  // namespace sbx::core
