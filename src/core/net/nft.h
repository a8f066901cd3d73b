// nftables through Debian's libnftables (loaded on first use): sbx keeps everything it adds in
// one table, `ip sbx`, made with the first bridge and deleted with the last.
#pragma once
#include <string>

#include "core/base/result.h"

namespace sbx::core {

// Runs nft commands (nft's own syntax); the error carries nft's message. `json` asks for JSON
// output.
Result<std::string> nft_run(const std::string& commands, bool json = false);

}  // namespace sbx::core
