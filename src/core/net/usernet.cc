#include "core/net/usernet.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <utility>

#include "core/base/clock.h"
#include "core/base/io.h"
#include "core/base/trace.h"
#include "core/sandbox/idmap.h"
#include "core/sandbox/ns.h"
#include "core/sandbox/owner.h"

namespace sbx::core {

std::string user_net_tool(const std::string& tool) {
  const char* path = std::getenv("PATH");
  std::string dirs = path && *path ? path : "/usr/local/bin:/usr/bin:/bin";
  size_t at = 0;
  while (at <= dirs.size()) {
    size_t end = dirs.find(':', at);
    if (end == std::string::npos) end = dirs.size();
    std::string d = dirs.substr(at, end - at);
    if (!d.empty() && d[0] == '/') {
      std::string p = d + "/" + tool;
      if (access(p.c_str(), X_OK) == 0) return p;
    }
    at = end + 1;
  }
  return "";
}

UserNetAttachment::UserNetAttachment(UserNetAttachment&& o) noexcept
    : spec_(std::move(o.spec_)),
      pid_(std::exchange(o.pid_, -1)),
      owner_(std::exchange(o.owner_, -1)),
      pidfd_(std::move(o.pidfd_)),
      exit_write_(std::move(o.exit_write_)),
      dir_(std::move(o.dir_)) {}

UserNetAttachment& UserNetAttachment::operator=(UserNetAttachment&& o) noexcept {
  if (this != &o) {
    (void)release();
    spec_ = std::move(o.spec_);
    pid_ = std::exchange(o.pid_, -1);
    owner_ = std::exchange(o.owner_, -1);
    pidfd_ = std::move(o.pidfd_);
    exit_write_ = std::move(o.exit_write_);
    dir_ = std::move(o.dir_);
  }
  return *this;
}

UserNetAttachment::~UserNetAttachment() {
  (void)release();
}

Status UserNetAttachment::release() {
  if (owner_ != getpid()) return {};  // a forked copy never ends its parent's tool
  exit_write_.reset();
  if (pid_ > 0) {
    if (pidfd_.ok()) (void)sys_pidfd_send_signal(pidfd_.get(), SIGKILL);
    int st;
    while (waitpid(pid_, &st, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
  }
  pidfd_.reset();
  if (!dir_.empty()) {
    for (const char* f : {"/pid", "/log", "/out", "/api.sock", "/resolv.conf"})
      unlink((dir_ + f).c_str());
    rmdir(dir_.c_str());
    dir_.clear();
  }
  owner_ = -1;
  return {};
}

namespace {

std::string last_line(const std::string& path) {
  auto text = read_file(path, 0, 1 << 16);
  if (!text) return "";
  std::string s = *text;
  // pasta and slirp4netns say why on their last lines; syslog complaints are noise
  std::string best;
  size_t at = 0;
  while (at < s.size()) {
    size_t end = s.find('\n', at);
    if (end == std::string::npos) end = s.size();
    std::string line = s.substr(at, end - at);
    if (!line.empty() && line.find("syslog") == std::string::npos) best = line;
    at = end + 1;
  }
  return best;
}

std::string port_spec(const PortMap& p) {
  std::string s = std::to_string(p.host_port) + ":" + std::to_string(p.port);
  return p.host_ip == "0.0.0.0" ? s : p.host_ip + "/" + s;
}

// slirp4netns's API: one JSON request per connection, one reply.
Status slirp_api(const std::string& sock, const std::string& request) {
  Fd s(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  struct sockaddr_un a {};
  a.sun_family = AF_UNIX;
  if (sock.size() >= sizeof a.sun_path)
    return Error{ENAMETOOLONG, "slirp4netns API socket " + sock};
  std::memcpy(a.sun_path, sock.c_str(), sock.size());
  if (!s.ok() || connect(s.get(), reinterpret_cast<struct sockaddr*>(&a), sizeof a) != 0)
    return sys_error("slirp4netns API socket " + sock);
  if (write(s.get(), request.data(), request.size()) != static_cast<ssize_t>(request.size()))
    return sys_error("slirp4netns API socket " + sock);
  shutdown(s.get(), SHUT_WR);
  auto reply = read_fd(s.get(), "the slirp4netns API's reply", 4096);
  if (!reply) return reply.error();
  if (reply->find("\"error\"") != std::string::npos) return Error{EIO, "slirp4netns: " + *reply};
  return {};
}

}  // namespace

Result<UserNetAttachment> UserNetAttachment::prepare(
    const UserNetSpec& spec, std::vector<std::pair<std::string, std::string>>& files) {
  const bool pasta = spec.tool == "pasta";
  if (!pasta && spec.tool != "slirp4netns")
    return user_error("net: '" + spec.tool + "' is not a user-mode network (pasta, slirp4netns)");
  if (user_net_tool(spec.tool).empty())
    return Error{ENOENT, "net: " + spec.tool + " is not installed (apt-get install " +
                             (pasta ? "passt" : "slirp4netns") +
                             "; sbx doctor says what this host has for rootless networking)"};
  if (auto s = checked_runtime_dir(); !s) return s.error().context("net");
  static unsigned counter = 0;
  UserNetAttachment at;
  at.spec_ = spec;
  at.owner_ = getpid();
  at.dir_ =
      runtime_dir() + "/usernet-" + std::to_string(getpid()) + "-" + std::to_string(++counter);
  if (mkdir(at.dir_.c_str(), 0700) != 0) {
    Error e = sys_error("net: make " + at.dir_);
    at.dir_.clear();
    return e;
  }
  std::string resolv = spec.dns.empty() ? resolv_conf() : "nameserver " + spec.dns + "\n";
  if (auto s = write_file(at.dir_ + "/resolv.conf", resolv); !s) return s.error().context("net");
  files.push_back({at.dir_ + "/resolv.conf", "/etc/resolv.conf"});
  return at;
}

Status UserNetAttachment::connect(pid_t child, bool own_userns) {
  const UserNetSpec& spec = spec_;
  UserNetAttachment& at = *this;
  const bool pasta = spec.tool == "pasta";
  std::string tool = user_net_tool(spec.tool);
  if (tool.empty()) return Error{ENOENT, "net: " + spec.tool + " is gone from PATH"};
  std::string ns_dir = "/proc/" + std::to_string(child) + "/ns/";
  Fd netns(open((ns_dir + "net").c_str(), O_RDONLY | O_CLOEXEC));
  if (!netns.ok()) return sys_error("net: open the sandbox's network namespace");
  Fd userns;
  if (own_userns) {
    userns.reset(open((ns_dir + "user").c_str(), O_RDONLY | O_CLOEXEC));
    if (!userns.ok()) return sys_error("net: open the sandbox's user namespace");
  }
  int ready[2] = {-1, -1}, quit[2] = {-1, -1};
  if (!pasta && (pipe2(ready, O_CLOEXEC) != 0 || pipe2(quit, O_CLOEXEC) != 0))
    return sys_error("net: pipe");
  Fd ready_r(ready[0]), ready_w(ready[1]), quit_r(quit[0]);
  at.exit_write_.reset(quit[1]);

  std::vector<std::string> args = {tool};
  if (pasta) {
    args.insert(args.end(), {"--config-net", "--foreground", "--quiet", "--no-netns-quit",
                             "--no-map-gw", "-I", "eth0", "--netns", "/proc/self/fd/3"});
    if (own_userns)
      args.insert(args.end(), {"--userns", "/proc/self/fd/4"});
    else
      args.push_back("--netns-only");
    std::string tcp, udp;
    for (const auto& p : spec.publish) {
      std::string& list = p.proto == "udp" ? udp : tcp;
      list += (list.empty() ? "" : ",") + port_spec(p);
    }
    args.insert(args.end(),
                {"-t", tcp.empty() ? "none" : tcp, "-u", udp.empty() ? "none" : udp, "-T", "none",
                 "-U", "none", "--pid", at.dir_ + "/pid", "--log-file", at.dir_ + "/log"});
  } else {
    args.insert(args.end(),
                {"--configure", "--mtu=65520", "--disable-host-loopback", "--ready-fd=5",
                 "--exit-fd=6", "--api-socket", at.dir_ + "/api.sock", "--netns-type=path"});
    if (own_userns) args.push_back("--userns-path=/proc/self/fd/4");
    args.insert(args.end(), {"/proc/self/fd/3", "eth0"});
  }
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::string log = at.dir_ + (pasta ? "/out" : "/log");

  pid_t parent = getpid();
  fflush(nullptr);  // nothing buffered is written twice (by both processes)
  pid_t pid = fork();
  if (pid < 0) return sys_error("net: fork " + spec.tool);
  if (pid == 0) {
    // dies with sbx; a group of its own: the terminal's Ctrl-C is sbx's to handle
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);
    setpgid(0, 0);
    int out = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
    int fds[] = {netns.get(), userns.get(), ready_w.get(), quit_r.get()};
    int moved[4];
    for (int i = 0; i < 4; ++i) moved[i] = fds[i] >= 0 ? fcntl(fds[i], F_DUPFD_CLOEXEC, 10) : -1;
    if (null >= 0) dup2(null, 0);
    if (out >= 0) {
      dup2(out, 1);
      dup2(out, 2);
    }
    for (int i = 0; i < 4; ++i)
      if (moved[i] >= 0)
        dup2(moved[i], 3 + i);  // without O_CLOEXEC: the tool's fds 3..6
      else
        close(3 + i);
    sys_close_range(7, ~0U, 0);  // nothing else of sbx's (a caller waits for EOF on some)
    execv(argv[0], argv.data());
    _exit(127);
  }
  at.pid_ = pid;
  at.pidfd_.reset(sys_pidfd_open(pid, 0));
  netns.reset();
  userns.reset();
  ready_w.reset();
  quit_r.reset();
  auto failed = [&](const std::string& why) -> Error {
    std::string said = last_line(at.dir_ + "/log");
    if (said.empty()) said = last_line(at.dir_ + "/out");
    Error e{EIO, "net: " + spec.tool + " " + why + (said.empty() ? "" : ": " + said)};
    (void)at.release();
    return e;
  };
  // ready: pasta writes its pid file once eth0 is configured and its ports are bound;
  // slirp4netns writes a byte to --ready-fd
  double deadline = monotonic_seconds() + 10;
  for (;;) {
    int st;
    if (waitpid(pid, &st, WNOHANG) == pid) {
      at.pid_ = -1;
      return failed(WIFEXITED(st) ? "exited with status " + std::to_string(WEXITSTATUS(st))
                                  : "was killed by signal " + std::to_string(WTERMSIG(st)));
    }
    if (pasta) {
      auto text = read_file(at.dir_ + "/pid");
      if (text && !text->empty()) break;
    } else {
      struct pollfd pf = {ready_r.get(), POLLIN, 0};
      if (poll(&pf, 1, 2) == 1) {
        char c;
        if (read(ready_r.get(), &c, 1) == 1) break;
      }
    }
    if (monotonic_seconds() > deadline) return failed("did not get ready within 10 s");
    if (pasta) usleep(2000);
  }
  if (!pasta)
    for (const auto& p : spec.publish) {
      std::string req = "{\"execute\": \"add_hostfwd\", \"arguments\": {\"proto\": \"" + p.proto +
                        "\", \"host_addr\": \"" + p.host_ip +
                        "\", \"host_port\": " + std::to_string(p.host_port) +
                        ", \"guest_port\": " + std::to_string(p.port) + "}}";
      if (auto s = slirp_api(at.dir_ + "/api.sock", req); !s) {
        Error e = s.error().context("net: publish " + format_port_map(p));
        (void)at.release();
        return e;
      }
    }
  trace::mark("user net", spec.tool.c_str());
  return {};
}

std::vector<std::string> user_net_gc() {
  std::vector<std::string> removed;
  std::string base = runtime_dir();
  DIR* d = opendir(base.c_str());
  if (!d) return removed;
  std::vector<std::string> names;
  while (struct dirent* e = readdir(d))
    if (std::strncmp(e->d_name, "usernet-", 8) == 0) names.push_back(e->d_name);
  closedir(d);
  for (const auto& name : names) {
    pid_t owner = static_cast<pid_t>(std::atoi(name.c_str() + 8));
    if (owner <= 0 || owner_alive(owner)) continue;
    std::string dir = base + "/" + name;
    if (auto text = read_file(dir + "/pid"); text) {
      pid_t tool = static_cast<pid_t>(std::atoi(text->c_str()));
      auto cmd = tool > 0 ? read_file("/proc/" + std::to_string(tool) + "/cmdline")
                          : Result<std::string>{""};
      if (cmd && cmd->find(dir + "/") != std::string::npos) {
        Fd pidfd(sys_pidfd_open(tool, 0));
        if (pidfd.ok()) (void)sys_pidfd_send_signal(pidfd.get(), SIGKILL);
      }
    }
    for (const char* f : {"/pid", "/log", "/out", "/api.sock", "/resolv.conf"})
      unlink((dir + f).c_str());
    if (rmdir(dir.c_str()) == 0) removed.push_back("user-mode network " + dir);
  }
  return removed;
}

}  // namespace sbx::core
