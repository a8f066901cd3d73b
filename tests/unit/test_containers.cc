// The one guard on what the store may remove (core/image/containers.h).
#include <catch2/catch.hpp>
#include <string>

#include "core/image/containers.h"

using namespace sbx::core;

TEST_CASE(
    "check_removable: container and sandbox directories of the store, "
    "nothing else",
    "[containers]") {
  ImageStore store("/var/lib/sbx-unit-store");
  for (const char *ok : {"/containers/123-4", "/named/web", "/sandboxes/web", "/named/web/upper",
                         "/sandboxes/web/"}) {
    INFO(ok);
    CHECK(check_removable(store, store.root() + ok).ok());
  }
  for (const char *bad :
       {"", "/", "/images", "/layers/abc", "/containers", "/containers/", "/named//x", "/named/.",
        "/named/..", "/named/../images", "/sandboxes/a/../../layers", "/sandboxes/a/./b"}) {
    INFO(bad);
    auto s = check_removable(store, store.root() + bad);
    REQUIRE_FALSE(s.ok());
    CHECK(s.error().err == EINVAL);
  }
  CHECK_FALSE(check_removable(store, "/etc").ok());
  CHECK_FALSE(check_removable(store, "/var/lib/sbx-unit-store-other/containers/1-2").ok());
}
