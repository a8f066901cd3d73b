// What a payload's environment holds when its plan says nothing.
#pragma once

namespace sbx::core {

// The PATH a sandbox's payload is searched on (and gets) unless its env sets one: Debian's
// default for root.
inline constexpr const char kDefaultPath[] =
    "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

}  // namespace sbx::core
