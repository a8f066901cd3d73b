// User namespace id maps: defaults, formatting, parsing.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <string>
#include <vector>

#include "core/sandbox/idmap.h"

using namespace sbx::core;

namespace {
bool same(const IdMapEntry& a, const IdMapEntry& b) {
  return a.inside == b.inside && a.outside == b.outside && a.count == b.count;
}
std::string show(const IdMapEntry& e) {
  return std::to_string(e.inside) + ":" + std::to_string(e.outside) + ":" + std::to_string(e.count);
}
}  // namespace

TEST_CASE("format_id_map writes one 'inside outside count' line per entry", "[idmap]") {
  CHECK(format_id_map({}) == "");
  CHECK(format_id_map({{0, 1000, 1}}) == "0 1000 1\n");
  CHECK(format_id_map({{0, kRootMapBase, kRootMapCount}}) == "0 2100000000 65536\n");
  CHECK(format_id_map({{0, 1000, 1}, {1, 100000, 65535}, {4294967294u, 4294967294u, 1}}) ==
        "0 1000 1\n1 100000 65535\n4294967294 4294967294 1\n");
}

TEST_CASE("parse_id_map_entry accepts colon and space forms", "[idmap]") {
  struct Case {
    const char* text;
    IdMapEntry want;
  };
  const Case cases[] = {
      {"0:1000:1", {0, 1000, 1}},
      {"0:1000", {0, 1000, 1}},
      {"0 1000", {0, 1000, 1}},
      {"0 1000 1", {0, 1000, 1}},
      {"1000:100000:65536", {1000, 100000, 65536}},
      {"0:2100000000:65536", {0, kRootMapBase, kRootMapCount}},
      {"  0   1000   5  ", {0, 1000, 5}},
      {"4294967294:4294967294:4294967295", {4294967294u, 4294967294u, 4294967295u}},
  };
  for (const auto& c : cases) {
    INFO("text '" << c.text << "'");
    auto r = parse_id_map_entry(c.text);
    REQUIRE(r.ok());
    INFO("got " << show(*r));
    CHECK(same(*r, c.want));
  }
}

TEST_CASE("parse_id_map_entry rejects bad entries and names them", "[idmap]") {
  for (const char* bad : {"a:b", "-1:0:1", "0:-1:1", "0:1:0", "0:1:-1", "", "0", "0:", ":", "x",
                          "0:1:2:3", "0:1:2x", "0:1:1.5", "4294967295:0:1", "0:4294967295:1",
                          "0:0:4294967296", "99999999999999999999:0:1"}) {
    INFO("text '" << bad << "'");
    auto r = parse_id_map_entry(bad);
    INFO("got " << (r.ok() ? show(*r) : r.error().message));
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().err == EINVAL);
    CHECK_THAT(r.error().message, Catch::StartsWith("bad id map '" + std::string(bad) + "'"));
    CHECK_THAT(r.error().message, Catch::Contains("INSIDE:OUTSIDE"));
  }
}

// Known bug (reported, not fixed here): when the outside or count field is not a number,
// operator>> sets the field to 0 (or the code defaults count to 1) and the stream's fail state
// hides the leftover text, so garbage is accepted.
TEST_CASE("parse_id_map_entry rejects non-numeric outside or count fields", "[idmap]") {
  for (const char* bad : {"0:x", "0:1000:abc", "0:1000x", "0 1000 junk"}) {
    INFO("text '" << bad << "'");
    auto r = parse_id_map_entry(bad);
    INFO("got " << (r.ok() ? show(*r) : r.error().message));
    CHECK_FALSE(r.ok());
  }
}

TEST_CASE("parse_id_map_entry and format_id_map agree", "[idmap]") {
  for (IdMapEntry e : {IdMapEntry{0, 1000, 1}, IdMapEntry{1, 100000, 65535}, IdMapEntry{7, 0, 3}}) {
    std::string line = format_id_map({e});
    REQUIRE(!line.empty());
    line.pop_back();  // the newline
    auto r = parse_id_map_entry(line);
    REQUIRE(r.ok());
    CHECK(same(*r, e));
  }
}

TEST_CASE("default maps: root gets the high range, others map 0 to themselves", "[idmap]") {
  SECTION("uid, caller root") {
    auto m = default_uid_map(0);
    REQUIRE(m.size() == 1);
    CHECK(same(m[0], {0, kRootMapBase, kRootMapCount}));
  }
  SECTION("uid, caller 1000") {
    auto m = default_uid_map(1000);
    REQUIRE(m.size() == 1);
    CHECK(same(m[0], {0, 1000, 1}));
  }
  SECTION("gid follows the caller's uid for the root case") {
    auto m = default_gid_map(0, 0);
    REQUIRE(m.size() == 1);
    CHECK(same(m[0], {0, kRootMapBase, kRootMapCount}));
    m = default_gid_map(100, 0);
    REQUIRE(m.size() == 1);
    CHECK(same(m[0], {0, kRootMapBase, kRootMapCount}));
    m = default_gid_map(100, 1000);
    REQUIRE(m.size() == 1);
    CHECK(same(m[0], {0, 100, 1}));
    m = default_gid_map(0, 1000);  // root group, unprivileged user
    REQUIRE(m.size() == 1);
    CHECK(same(m[0], {0, 0, 1}));
  }
  SECTION("the root range fits in 32 bits and leaves room for --uid 1000") {
    CHECK(uint64_t(kRootMapBase) + kRootMapCount <= 4294967295ull);
    CHECK(kRootMapCount > 1000);
  }
}

TEST_CASE("subordinate ranges come from /etc/subuid-style files, by name or uid, capped at 65535") {
  char path[] = "/tmp/sbx-subuid-XXXXXX";
  int fd = mkstemp(path);
  REQUIRE(fd >= 0);
  std::string text =
      "alice:100000:65536\n# not a "
      "range\nbroken\n1002:200000:1000\nbob:300000:0\ncarol:400000:200000\n";
  REQUIRE(write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()));
  close(fd);
  auto a = subordinate_range(path, 1001, "alice");
  REQUIRE(a);
  CHECK(same(*a, {1, 100000, 65535}));
  auto b = subordinate_range(path, 1002, "someone");  // by uid
  REQUIRE(b);
  CHECK(same(*b, {1, 200000, 1000}));
  CHECK_FALSE(subordinate_range(path, 1003, "bob"));  // an empty range is none
  auto c = subordinate_range(path, 1004, "carol");
  REQUIRE(c);
  CHECK(c->count == 65535);
  CHECK_FALSE(subordinate_range(path, 1005, "nobody-here"));
  CHECK_FALSE(subordinate_range("/nonexistent/subuid", 1001, "alice"));
  unlink(path);
}
