#include "core/sandbox/supervise.h"

#include <fcntl.h>
#include <malloc.h>
#include <unistd.h>

#include <csignal>
#include <ctime>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/base/fault.h"
#include "core/base/io.h"
#include "core/base/json.h"
#include "core/sandbox/forward.h"
#include "core/sandbox/logrelay.h"
#include "core/sandbox/ns.h"
#include "core/sandbox/spawn.h"

namespace sbx::core {

namespace {

using json = Json;

// What the front recorded (the name, the command...), or {} when there is nothing usable.
json read_state(const std::string& path) {
  auto text = read_file(path, O_NOFOLLOW);
  auto j = text ? parse_json(*text, path) : Result<json>(text.error());
  return j && j->is_object() ? *j : json::object();
}

// Whole or not at all: readers never see half a file.
Status write_state(const std::string& path, const json& j) {
  if (int e = fault("supervise.state")) return fault_error("supervise.state", "write " + path, e);
  return write_file_atomic(path,
                           json_text(j, 2) + "\n");  // a message that is not UTF-8 cannot throw
}

// "running": who the sandbox and its supervisor (this process) are, where it is reachable.
void set_running(json& state, const Sandbox& box) {
  state["status"] = "running";
  state["pid"] = box.pid();
  state["identity"] = process_identity(box.pid());
  state["supervisor"] = getpid();
  state["supervisor_identity"] = process_identity(getpid());
  state["started"] = static_cast<int64_t>(time(nullptr));
  if (box.cgroup()) state["cgroup"] = box.cgroup()->path();
  if (const auto& net = box.net()) {
    state["ip"] = net->address().substr(0, net->address().find('/'));
    json ports = json::array();
    for (const auto& p : net->published()) ports.push_back(format_port_map(p));
    state["ports"] = ports;
  } else if (const auto& un = box.user_net()) {  // no address of its own to reach it by
    json ports = json::array();
    for (const auto& p : un->published()) ports.push_back(format_port_map(p));
    state["ports"] = ports;
    state["network"] = un->tool();
  }
}

// "exited": how it ended and what it used.
void set_exited(json& state, const Sandbox& box, const std::optional<ExitStatus>& es) {
  state["status"] = "exited";
  state["finished"] = static_cast<int64_t>(time(nullptr));
  if (es) {
    if (es->signal)
      state["signal"] = es->signal;
    else
      state["code"] = es->code;
  }
  if (const auto& st = box.final_stat()) {
    state["memory_peak"] = st->memory_peak;
    state["cpu_usec"] = st->cpu_usage_usec;
    state["oom_kills"] = st->oom_kills;  // (sbx events: an oom line)
  }
}

void report(int& fd, const std::string& text) {
  if (fd < 0) return;
  (void)!write(fd, text.data(), text.size());
  close(fd);
  fd = -1;
}

int supervise_box(const Spec& spec, const std::string& dir, int& report_fd) {
  // Its front may be gone by the time it reports: an EPIPE then, never a SIGPIPE that ends it (and,
  // through the parent-death signal, the sandbox).
  ignore_sigpipe();
  setsid();
  if (chdir("/") != 0) return 125;
  std::string state_path = dir + "/state.json";
  json state = read_state(state_path);
  Fd null(open("/dev/null", O_RDWR | O_CLOEXEC));
  if (int e = fault("supervise.log")) {
    report(report_fd, "error " + fault_error("supervise.log", "open " + dir + "/log", e).message);
    return 125;
  }
  if (!null.ok()) {
    report(report_fd, std::string("error open /dev/null: ") + std::strerror(errno));
    return 125;
  }
  for (int i = 0; i < 3; ++i) dup2(null.get(), i);  // the supervisor itself has no terminal
  auto relay = start_log_relay(dir);                // stdout and stderr kept apart, each line timed
  if (!relay) {
    report(report_fd, "error " + relay.error().message);
    return 125;
  }
  SpawnIo io;
  io.stdio[0] = null.get();
  io.stdio[1] = relay->out.get();
  io.stdio[2] = relay->err.get();
  auto box = spawn(spec, io);
  relay->out.reset();  // the sandbox's copies are the only ones: its end is the relay's EOF
  relay->err.reset();
  if (!box) {
    state["status"] = "failed";
    state["error"] = box.error().message;
    (void)write_state(state_path, state);
    report(report_fd, "error " + box.error().message);
    return 125;
  }
  null.reset();
  set_running(state, *box);
  if (auto w = write_state(state_path, state); !w) {
    // untracked it must not run: ended, released, and the front told why
    (void)box->kill(SIGKILL);
    (void)box->wait(false);
    state["status"] = "failed";
    report(report_fd, "error " + w.error().message);
    return 125;
  }
  report(report_fd, "ok " + std::to_string(box->pid()));
  // What the set-up allocated and freed goes back to the kernel before the long wait: a
  // supervisor per sandbox, its own memory counts (bench/density.sh)
  malloc_trim(0);

  std::optional<ExitStatus> es;
  {
    SignalForward forward(box->pidfd());
    auto w = box->wait(false);
    if (w && *w) es = **w;
  }
  reap_told_inits();   // "exited" is written once the init is gone too
  finish_log_relay();  // and once what it wrote is in its log
  set_exited(state, *box, es);
  (void)write_state(state_path, state);
  return 0;
}

}  // namespace

Status become_supervisor(const std::string& dir) {
  ignore_sigpipe();
  setsid();
  if (chdir("/") != 0) return sys_error("supervisor: chdir /");
  Fd null(open("/dev/null", O_RDWR | O_CLOEXEC));
  if (!null.ok()) return sys_error("supervisor: open /dev/null");
  auto relay = start_log_relay(dir);
  if (!relay) return relay.error().context("supervisor");
  dup2(null.get(), 0);
  dup2(relay->out.get(), 1);  // (the handlers' output and the sandbox's, which inherits them)
  dup2(relay->err.get(), 2);
  return {};
}

Status record_running(const std::string& dir, const Sandbox& box) {
  json state = read_state(dir + "/state.json");
  set_running(state, box);
  return write_state(dir + "/state.json", state);
}

Status record_exited(const std::string& dir, const Sandbox& box,
                     const std::optional<ExitStatus>& es) {
  reap_told_inits();
  finish_log_relay();  // (become_supervisor's: this process's own output ends here)
  json state = read_state(dir + "/state.json");
  set_exited(state, box, es);
  return write_state(dir + "/state.json", state);
}

int supervise(const Spec& spec, const std::string& dir, int report_fd) {
  // Nothing below throws on bad input; this only keeps an allocation failure from ending the
  // supervisor without a word (its sandbox, if any, is killed as the box unwinds).
  try {
    return supervise_box(spec, dir, report_fd);
  } catch (const std::exception& e) {
    report(report_fd, std::string("error supervisor: ") + e.what());
    return 125;
  }
}

}  // namespace sbx::core
