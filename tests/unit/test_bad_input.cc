// Bad input from files, images, other programs and people: an error that names the file or field
// and the value, never an exception (the core has no catch, nor has the Lua-free supervisor).
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <sstream>
#include <string>

#include "core/base/json.h"
#include "core/base/units.h"
#include "core/image/image.h"
#include "core/net/bridge.h"
#include "core/sandbox/idmap.h"
#include "core/sandbox/supervise.h"
#include "core/security/seccomp.h"
#include "temp_dir.h"

using namespace sbx::core;

namespace {
void write_file(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary);
  f << text;
  REQUIRE(f.good());
}
std::string read_all(const std::string& path) {
  std::ifstream f(path);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}
}  // namespace

TEST_CASE("seccomp: an errno too large for any int is an error naming the action", "[bad-input]") {
  // (std::stoi threw std::out_of_range here)
  SeccompPolicy p;
  p.default_action = "errno 99999999999999999999";
  auto s = check_seccomp(p);
  REQUIRE_FALSE(s);
  CHECK_THAT(s.error().message, Catch::Contains("errno 99999999999999999999"));
  p.default_action = "allow";
  p.rules.push_back({"read", "errno 4096", {}});
  s = check_seccomp(p);
  REQUIRE_FALSE(s);
  CHECK_THAT(s.error().message, Catch::Contains("seccomp rule for read"));
  p.rules[0].action = "errno 4095";
  CHECK(check_seccomp(p));
  p.rules[0].action = "errno -1";
  CHECK_FALSE(check_seccomp(p));
}

TEST_CASE("a veth-like name whose number is no pid has no owner (and does not throw)",
          "[bad-input]") {
  // names under <runtime>/net and /sys/class/net: std::stol threw std::out_of_range on this one
  CHECK(link_owner("sbx99999999999999999999-1") == -1);
  CHECK(link_owner("sbx4294967296-1") == -1);
  CHECK(link_owner("sbx0-1") == -1);
  CHECK(link_owner("sbx1234-7") == 1234);
  CHECK(link_owner("sbx1234-") == 0);
  CHECK(link_owner("sbx-1") == 0);
  CHECK(link_owner("eth0") == 0);
}

TEST_CASE("image records of the wrong shape are left out and named, not thrown",
          "[bad-input][image]") {
  // (nlohmann's value() threw type_error on each of these; `sbx image ls` ended with it)
  TempDir t;
  ImageStore store(t.path);
  REQUIRE(mkdir((t.path + "/images").c_str(), 0700) == 0);
  write_file(t.path + "/images/a.json", R"({"id": "sha256:aa", "layers": 5, "tags": ["a:1"]})");
  write_file(t.path + "/images/b.json", R"([1, 2])");
  write_file(t.path + "/images/c.json", R"({"id": "sha256:cc", "config": {"Env": "PATH=/bin"}})");
  write_file(t.path + "/images/d.json", R"({"id": "sha256:dd", "config": 7})");
  write_file(t.path + "/images/e.json", "not json");
  write_file(
      t.path + "/images/ok.json",
      R"({"id": "sha256:0123456789", "layers": [], "tags": ["good:1"], "config": {"Env": ["A=1"]}})");
  std::vector<Error> unreadable;
  auto all = store.list(&unreadable);
  REQUIRE(all.size() == 1);
  CHECK(all[0].tags == std::vector<std::string>{"good:1"});
  CHECK(all[0].config.env == std::vector<std::string>{"A=1"});
  REQUIRE(unreadable.size() == 5);
  std::string text;
  for (const auto& e : unreadable) {
    CHECK(e.err == EINVAL);
    text += e.message + "\n";
  }
  CHECK_THAT(text, Catch::Contains("a.json: 'layers' is 5, expected a list of strings"));
  CHECK_THAT(text, Catch::Contains("b.json: not an image record"));
  CHECK_THAT(text, Catch::Contains("c.json: 'Env' is \"PATH=/bin\", expected a list of strings"));
  CHECK_THAT(text, Catch::Contains("d.json: 'config' is not an object"));
  CHECK_THAT(text, Catch::Contains("e.json: not valid JSON"));
  // a lookup that finds nothing says which records it could not read
  auto img = store.get("a:1");
  REQUIRE_FALSE(img);
  CHECK(img.error().err == ENOENT);
  CHECK_THAT(img.error().message, Catch::Contains("a.json: 'layers' is 5"));
  CHECK(store.get("good:1"));
  // prune refuses: the layers an unreadable record names cannot be known
  auto pruned = store.prune();
  REQUIRE_FALSE(pruned);
  CHECK_THAT(pruned.error().message, Catch::Contains("unreadable"));
}

TEST_CASE("the supervisor records an error that is not UTF-8 instead of dying on it",
          "[bad-input][supervise]") {
  // (json::dump threw type_error 316 and the supervisor ended without a word)
  TempDir t;
  Spec spec;
  spec.argv = {"true"};
  spec.rootfs = "not-absolute-\xff\xfe";
  int fds[2];
  REQUIRE(pipe(fds) == 0);
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    close(fds[0]);
    _exit(supervise(spec, t.path, fds[1]));
  }
  close(fds[1]);
  std::string report;
  char buf[512];
  for (ssize_t n; (n = read(fds[0], buf, sizeof buf)) > 0;)
    report.append(buf, static_cast<size_t>(n));
  close(fds[0]);
  int st = 0;
  REQUIRE(waitpid(pid, &st, 0) == pid);
  REQUIRE(WIFEXITED(st));
  CHECK(WEXITSTATUS(st) == 125);
  CHECK_THAT(report, Catch::StartsWith("error rootfs: 'not-absolute-"));
  auto state = parse_json(read_all(t.path + "/state.json"), "state.json");
  REQUIRE(state);
  CHECK((*state)["status"] == "failed");
  CHECK_THAT((*state)["error"].get<std::string>(), Catch::Contains("is not an absolute path"));
}

TEST_CASE("json helpers: wrong types are errors naming document, key and value", "[bad-input]") {
  auto j = parse_json(
      R"({"s": "x", "n": 5, "l": ["a", 1], "long": ")" + std::string(100, 'y') + "\"}", "doc.json");
  REQUIRE(j);
  CHECK(*json_string(*j, "s", "doc.json") == "x");
  CHECK(*json_string(*j, "missing", "doc.json") == "");
  auto n = json_string(*j, "n", "doc.json");
  REQUIRE_FALSE(n);
  CHECK(n.error().message == "doc.json: 'n' is 5, expected a string");
  auto l = json_strings(*j, "l", "doc.json");
  REQUIRE_FALSE(l);
  CHECK(l.error().message == R"(doc.json: 'l' is ["a",1], expected a list of strings)");
  auto long_one = json_strings(*j, "long", "doc.json");
  REQUIRE_FALSE(long_one);
  CHECK(long_one.error().message.size() < 100);  // the value is cut short
  CHECK(json_field(Json::array(), "s") == nullptr);
  CHECK_FALSE(parse_json("{", "doc.json"));
  CHECK(parse_json("{", "doc.json").error().message == "doc.json: not valid JSON");
  CHECK(json_text(Json("a\xff")) == "\"a\xef\xbf\xbd\"");  // U+FFFD, no exception
}

TEST_CASE("subuid lines with numbers out of range are skipped, the next line still counts",
          "[bad-input]") {
  TempDir t;
  std::string path = t.path + "/subuid";
  write_file(path,
             "alice:99999999999999999999:5\nalice:5:99999999999999999999999\nalice:-1:5\nalice:"
             "100000:65536\n");
  auto r = subordinate_range(path, 1001, "alice");
  REQUIRE(r);
  CHECK(r->outside == 100000);
  CHECK(r->count == 65535);
}
