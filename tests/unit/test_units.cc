// Sizes and durations as a person types them.
#include <catch2/catch.hpp>
#include <cstdint>
#include <string>

#include "core/base/units.h"

using namespace sbx::core;

namespace {
constexpr uint64_t KiB = 1024, MiB = KiB * 1024, GiB = MiB * 1024, TiB = GiB * 1024;
}

TEST_CASE("parse_size accepts plain bytes and binary suffixes", "[units]") {
  struct Case {
    const char* text;
    uint64_t bytes;
  };
  const Case cases[] = {
      {"0", 0},
      {"4096", 4096},
      {"4096b", 4096},
      {"4096B", 4096},
      {"512K", 512 * KiB},
      {"512k", 512 * KiB},
      {"512KB", 512 * KiB},
      {"512KiB", 512 * KiB},
      {"64M", 64 * MiB},
      {"64m", 64 * MiB},
      {"64MB", 64 * MiB},
      {"64MiB", 64 * MiB},
      {"64mib", 64 * MiB},
      {"1.5G", GiB + GiB / 2},
      {"1g", GiB},
      {"1GiB", GiB},
      {"2T", 2 * TiB},
      {"+8K", 8 * KiB},
      {"0.5K", 512},
      {"1.5", 1},  // fractions of a byte are dropped
      {".5K", 512},
  };
  for (const auto& c : cases) {
    INFO("text '" << c.text << "'");
    auto r = parse_size(c.text);
    REQUIRE(r.ok());
    CHECK(*r == c.bytes);
  }
}

TEST_CASE("parse_size rejects bad text and names it", "[units]") {
  for (const char* bad : {"", "M", "12Q", "-1M", "-1", "abc", "1.2.3K", ".", "K64", " 64M", "64 M",
                          "1e3", "0x10", "64MiBs", "--1"}) {
    INFO("text '" << bad << "'");
    auto r = parse_size(bad);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().err == EINVAL);
    CHECK_THAT(r.error().message, Catch::StartsWith("bad size '" + std::string(bad) + "'"));
  }
  SECTION("an unknown unit is named") {
    auto r = parse_size("12Q");
    REQUIRE_FALSE(r.ok());
    CHECK_THAT(r.error().message, Catch::Contains("12Q") && Catch::Contains("unknown unit 'q'"));
  }
  SECTION("too large for 64 bits") {
    auto r = parse_size("99999999T");
    REQUIRE_FALSE(r.ok());
    CHECK_THAT(r.error().message, Catch::Contains("99999999T") && Catch::Contains("too large"));
  }
}

TEST_CASE("parse_seconds accepts plain seconds, units and a sign", "[units]") {
  struct Case {
    const char* text;
    int64_t seconds;
  };
  const Case cases[] = {
      {"0", 0},      {"90", 90},     {"90s", 90},   {"90S", 90},        {"30m", 1800},
      {"30M", 1800}, {"2h", 7200},   {"1d", 86400}, {"-30m", -1800},    {"-90", -90},
      {"+5s", 5},    {"1.5h", 5400}, {"0.5m", 30},  {"365d", 31536000}, {"-1d", -86400},
  };
  for (const auto& c : cases) {
    INFO("text '" << c.text << "'");
    auto r = parse_seconds(c.text);
    REQUIRE(r.ok());
    CHECK(*r == c.seconds);
  }
}

TEST_CASE("parse_seconds rejects bad text and names it", "[units]") {
  for (const char* bad : {"x", "3w", "", "-", "m", "1.2.3", "10 s", "1ms", "5sec", "--5"}) {
    INFO("text '" << bad << "'");
    auto r = parse_seconds(bad);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().err == EINVAL);
    CHECK_THAT(r.error().message, Catch::StartsWith("bad duration '" + std::string(bad) + "'"));
  }
  SECTION("an unknown unit is named") {
    auto r = parse_seconds("3w");
    REQUIRE_FALSE(r.ok());
    CHECK_THAT(r.error().message, Catch::Contains("'3w'") && Catch::Contains("unknown unit 'w'"));
  }
}

// A value that does not fit in int64_t must not reach std::llround (its result is unspecified:
// INT64_MIN on x86-64, a huge negative offset): "too large", as parse_size says.
TEST_CASE("parse_seconds rejects values that do not fit in 64 bits", "[units]") {
  for (const char* big : {"99999999999999999999", "999999999999999999d", "-99999999999999999999"}) {
    INFO("text '" << big << "'");
    auto r = parse_seconds(big);
    INFO("got " << (r.ok() ? std::to_string(*r) : r.error().message));
    CHECK_FALSE(r.ok());
  }
}

TEST_CASE("parse_uint takes decimal digits up to a maximum and names what it read", "[units]") {
  CHECK(*parse_uint("0", 10, "n") == 0);
  CHECK(*parse_uint("4095", 4095, "errno") == 4095);
  CHECK(*parse_uint("18446744073709551615", UINT64_MAX, "n") == UINT64_MAX);
  for (const char* bad : {"", "-1", "+1", " 1", "1 ", "1x", "0x10", "4096", "18446744073709551616",
                          "99999999999999999999999"}) {
    INFO("text '" << bad << "'");
    auto r = parse_uint(bad, 4095, "errno");
    REQUIRE_FALSE(r);
    CHECK(r.error().err == EINVAL);
    CHECK(r.error().message ==
          "errno '" + std::string(bad) + "': not a whole number of at most 4095");
  }
}
