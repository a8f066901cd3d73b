#include "core/sandbox/owner.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string>

#include "core/base/fault.h"
#include "core/base/fd.h"
#include "core/base/handle.h"
#include "core/base/io.h"
#include "core/base/trust.h"
#include "core/sandbox/gc.h"
#include "core/sandbox/idmap.h"
#include "core/sandbox/ns.h"

namespace sbx::core {

namespace {

pid_t g_registered = 0;

std::string owners_dir() {
  return runtime_dir() + "/owners";
}

std::string record_of(pid_t pid) {
  auto text = read_file(owners_dir() + "/" + std::to_string(pid), O_NOFOLLOW, 128);
  if (!text) return "";
  std::string s = std::move(*text);
  while (!s.empty() && s.back() == '\n') s.pop_back();
  return s;
}

bool has_record(pid_t pid) {
  struct stat st;
  return lstat((owners_dir() + "/" + std::to_string(pid)).c_str(), &st) == 0;
}

void forget_self() {
  if (g_registered == getpid()) unlink((owners_dir() + "/" + std::to_string(g_registered)).c_str());
}

}  // namespace

Status register_owner() {
  pid_t me = getpid();
  if (g_registered == me) return {};
  if (int e = fault("owner.record"))
    return fault_error("owner.record", "record the owner in " + owners_dir(), e);
  if (auto s = checked_runtime_dir(); !s) return s.error().context("record the owner");
  if (auto d = trusted_dir(owners_dir(), 0755, "owner records"); !d)
    return d.error().context("record the owner");
  std::string identity = process_identity(me);
  std::string old = record_of(me);
  if (!old.empty() && old != identity) (void)collect_leftovers();  // a dead predecessor's leftovers
  if (auto s = write_file_atomic(owners_dir() + "/" + std::to_string(me), identity + "\n"); !s)
    return s.error().context("record the owner");
  if (g_registered == 0) atexit(forget_self);  // a clean exit has released everything it made
  g_registered = me;
  return {};
}

bool owner_alive(pid_t pid) {
  if (pid <= 0) return false;
  if (!has_record(pid)) return process_alive(pid);
  std::string now = process_identity(pid);
  return !now.empty() && now == record_of(pid);
}

int forget_dead_owners() {
  Dir d(opendir(owners_dir().c_str()));
  if (!d) return 0;
  int n = 0;
  while (auto* e = readdir(d.get())) {
    char* end = nullptr;
    long pid = std::strtol(e->d_name, &end, 10);
    if (pid <= 0) continue;
    bool dead;
    if (!*end) {
      dead = !owner_alive(static_cast<pid_t>(pid));
    } else if (std::strncmp(end, ".tmp-", 5) == 0) {
      // a record its writer was killed while writing (write_file_atomic's PATH.tmp-WRITER)
      char* tail = nullptr;
      long writer = std::strtol(end + 5, &tail, 10);
      if (writer <= 0 || *tail) continue;
      dead = kill(static_cast<pid_t>(writer), 0) != 0 && errno == ESRCH;
    } else {
      continue;
    }
    if (dead && unlinkat(dirfd(d.get()), e->d_name, 0) == 0) ++n;
  }
  return n;
}

}  // namespace sbx::core
