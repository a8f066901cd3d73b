// Signal names both ways (core/base/signals.h), from glibc's table.
#include <signal.h>

#include <catch2/catch.hpp>
#include <string>

#include "core/base/signals.h"

using namespace sbx::core;

TEST_CASE("signal_number takes a name with or without SIG, in any case, or a number", "[signals]") {
  struct Case {
    const char* text;
    int sig;
  };
  const Case cases[] = {
      {"TERM", SIGTERM}, {"SIGTERM", SIGTERM}, {"term", SIGTERM},   {"SigTerm", SIGTERM},
      {"15", SIGTERM},   {"KILL", SIGKILL},    {"HUP", SIGHUP},     {"INT", SIGINT},
      {"QUIT", SIGQUIT}, {"USR1", SIGUSR1},    {"USR2", SIGUSR2},   {"CONT", SIGCONT},
      {"STOP", SIGSTOP}, {"WINCH", SIGWINCH},  {"CHLD", SIGCHLD},   {"9", 9},
      {"0", 0},          {"RTMIN", SIGRTMIN},  {"RTMAX", SIGRTMAX},
  };
  for (const auto& c : cases) {
    INFO(c.text);
    auto n = signal_number(c.text);
    REQUIRE(n.ok());
    CHECK(*n == c.sig);
  }
  CHECK(*signal_number("RTMIN+3") == SIGRTMIN + 3);
  CHECK(*signal_number("SIGRTMAX-2") == SIGRTMAX - 2);
  CHECK(*signal_number(std::to_string(SIGRTMAX)) == SIGRTMAX);
}

TEST_CASE("signal_number refuses what names no signal, naming the word", "[signals]") {
  for (const char* bad : {"", "SIG", "FOO", "SIGFOO", "TERMX", "-1", "65", "1000", "15x",
                          "RTMIN+99", "RTMAX-", " TERM"}) {
    INFO("'" << bad << "'");
    auto n = signal_number(bad);
    REQUIRE_FALSE(n.ok());
    CHECK(n.error().err == EINVAL);
    CHECK_THAT(n.error().message, Catch::StartsWith(std::string("unknown signal '") + bad + "'"));
  }
}

TEST_CASE("signal_name and signal_number agree for every signal", "[signals]") {
  CHECK(signal_name(SIGTERM) == "TERM");
  CHECK(signal_name(SIGKILL) == "KILL");
  CHECK(signal_name(SIGRTMIN) == "RTMIN");
  CHECK(signal_name(SIGRTMIN + 1) == "RTMIN+1");
  CHECK(signal_name(0) == "");
  CHECK(signal_name(-3) == "");
  CHECK(signal_name(SIGRTMAX + 1) == "");
  for (int s = 1; s <= SIGRTMAX; ++s) {
    std::string name = signal_name(s);
    if (name.empty()) continue;  // 32 and 33: glibc's own, no name
    INFO(s << " " << name);
    auto back = signal_number(name);
    REQUIRE(back.ok());
    CHECK(*back == s);
  }
}

TEST_CASE("signal_description says what the signal means", "[signals]") {
  CHECK(signal_description(SIGTERM) == "Terminated");
  CHECK(signal_description(SIGKILL) == "Killed");
  CHECK(signal_description(0) == "");
  CHECK_THAT(signal_description(SIGRTMIN + 2), Catch::Contains("2"));
}
