// Programs run without a shell (core/base/program.h).
#include <fcntl.h>
#include <signal.h>

#include <catch2/catch.hpp>
#include <string>

#include "core/base/fd.h"
#include "core/base/io.h"
#include "core/base/program.h"
#include "temp_dir.h"

using namespace sbx::core;

TEST_CASE("run_program passes argv as it is: no shell, no quoting", "[program]") {
  ProgramIo io;
  io.capture_stdout = true;
  auto end = run_program({"/bin/echo", "it's", "$HOME", "a b"}, io);
  REQUIRE(end.ok());
  CHECK(end->ok());
  CHECK(end->output == "it's $HOME a b\n");
}

TEST_CASE("run_program reports how the program ended", "[program]") {
  auto failed = run_program({"/bin/false"});
  REQUIRE(failed.ok());
  CHECK_FALSE(failed->ok());
  CHECK(failed->code == 1);
  CHECK(failed->status() == 1);
  auto killed = run_program({"/bin/sh", "-c", "kill -TERM $$"});
  REQUIRE(killed.ok());
  CHECK(killed->signal == SIGTERM);
  CHECK(killed->status() == 128 + SIGTERM);
}

TEST_CASE("run_program: a program that cannot start is an error naming it", "[program]") {
  auto r = run_program({"/nonexistent/program", "x"});
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().err == ENOENT);
  CHECK(r.error().message == "run /nonexistent/program: No such file or directory");
  CHECK_FALSE(run_program({}).ok());
}

TEST_CASE("run_program sends stdout and stderr where it is told", "[program]") {
  TempDir tmp;
  std::string log = tmp.path + "/log";
  Fd out(open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  REQUIRE(out.ok());
  ProgramIo io;
  io.stdout_fd = io.stderr_fd = out.get();
  auto end = run_program({"/bin/sh", "-c", "echo out; echo err >&2"}, io);
  REQUIRE(end.ok());
  CHECK(end->ok());
  CHECK(*read_file(log) == "out\nerr\n");
}
