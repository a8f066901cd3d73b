#include "core/base/events.h"

#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>

#include "core/base/io.h"

namespace sbx::core {

Result<Watch> watch_file_changes(const std::string& path) {
  Fd fd(inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
  if (!fd.ok()) return sys_error("watch " + path + ": inotify_init1");
  if (inotify_add_watch(fd.get(), path.c_str(), IN_MODIFY) < 0) return sys_error("watch " + path);
  return Watch{std::move(fd), Watch::Kind::inotify, path};
}

Result<Watch> cgroup_v1_event(const std::string& dir, const std::string& file,
                              const std::string& args) {
  std::string target = dir + "/" + file;
  Fd efd(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (!efd.ok()) return sys_error("watch " + target + ": eventfd");
  Fd tfd(open(target.c_str(), O_RDONLY | O_CLOEXEC));
  if (!tfd.ok()) return sys_error("watch " + target);
  std::string line = std::to_string(efd.get()) + " " + std::to_string(tfd.get());
  if (!args.empty()) line += " " + args;
  // the registration lives as long as the eventfd; the watched file's fd may go once written
  if (auto s = write_control(dir + "/cgroup.event_control", line); !s)
    return s.error().context("watch " + target);
  return Watch{std::move(efd), Watch::Kind::eventfd, target};
}

Result<Watch> pressure_trigger(const std::string& path, const std::string& trigger) {
  Fd fd(open(path.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC));
  if (!fd.ok()) return sys_error("pressure trigger on " + path);
  // the kernel takes the trigger with its terminating NUL
  if (write(fd.get(), trigger.c_str(), trigger.size() + 1) < 0)
    return sys_error("pressure trigger '" + trigger + "' on " + path);
  return Watch{std::move(fd), Watch::Kind::pressure, path};
}

namespace {
// "150ms", "1s", "2.5s", "500000us", or bare microseconds -> microseconds.
bool micros(const std::string& t, uint64_t& out) {
  char* end = nullptr;
  double v = std::strtod(t.c_str(), &end);
  if (end == t.c_str() || !(v >= 0) || !std::isfinite(v)) return false;
  std::string unit(end);
  double mult = unit.empty() || unit == "us" ? 1 : unit == "ms" ? 1e3 : unit == "s" ? 1e6 : -1;
  if (mult < 0) return false;
  double us = v * mult;
  if (us > 1e12 || us != std::floor(us)) return false;
  out = static_cast<uint64_t>(us);
  return true;
}
}  // namespace

Result<std::string> parse_pressure(const std::string& text) {
  auto bad = [&](const std::string& why) {
    return user_error(
        "pressure '" + text + "': " + why +
        " (expected \"some 150ms/1s\" or \"full 100ms/2s\": a stall within a window)");
  };
  size_t sp = text.find(' ');
  if (sp == std::string::npos) return bad("no 'some' or 'full'");
  std::string kind = text.substr(0, sp), rest = text.substr(sp + 1);
  if (kind != "some" && kind != "full") return bad("'" + kind + "' is neither some nor full");
  size_t sep = rest.find('/');
  if (sep == std::string::npos) sep = rest.find(' ');
  if (sep == std::string::npos) return bad("no window");
  uint64_t stall = 0, window = 0;
  if (!micros(rest.substr(0, sep), stall) || !micros(rest.substr(sep + 1), window))
    return bad("a time is not a number with us, ms or s");
  if (window < 500000 || window > 10000000) return bad("the window must be 500ms to 10s");
  if (stall == 0 || stall > window) return bad("the stall must be above 0 and at most the window");
  return kind + " " + std::to_string(stall) + " " + std::to_string(window);
}

Result<uint64_t> drain(const Watch& w) {
  if (w.kind == Watch::Kind::pressure) return 1;  // a PSI trigger: the readiness is the event
  alignas(inotify_event) char buf[4096];
  uint64_t count = 0;
  for (;;) {
    ssize_t n = read(w.fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return count;
    if (n < 0) return sys_error("read the notifications of " + w.what);
    if (n == 0) return count;
    if (w.kind == Watch::Kind::eventfd) {  // its counter: notifications since the last read
      uint64_t v = 0;
      std::memcpy(&v, buf, sizeof v);
      count += v;
      continue;
    }
    for (ssize_t off = 0; off + static_cast<ssize_t>(sizeof(inotify_event)) <= n; ++count) {
      const auto* ev = reinterpret_cast<const inotify_event*>(buf + off);
      off += static_cast<ssize_t>(sizeof(inotify_event) + ev->len);
    }
  }
}

Result<Poller> Poller::create() {
  Poller p;
  p.fd_.reset(epoll_create1(EPOLL_CLOEXEC));
  if (!p.fd_.ok()) return sys_error("event loop: epoll_create1");
  return p;
}

Status Poller::add(int fd, Readiness r, uint64_t token) {
  epoll_event ev{};
  ev.events = r == Readiness::pri ? EPOLLPRI : EPOLLIN;
  ev.data.u64 = token;
  if (epoll_ctl(fd_.get(), EPOLL_CTL_ADD, fd, &ev) != 0)
    return sys_error("event loop: watch fd " + std::to_string(fd));
  return {};
}

Status Poller::remove(int fd) {
  if (epoll_ctl(fd_.get(), EPOLL_CTL_DEL, fd, nullptr) != 0 && errno != ENOENT && errno != EBADF)
    return sys_error("event loop: stop watching fd " + std::to_string(fd));
  return {};
}

Result<std::vector<Poller::Ready>> Poller::wait(int timeout_ms) {
  epoll_event evs[64];
  int n = epoll_wait(fd_.get(), evs, 64, timeout_ms);
  if (n < 0) return sys_error("event loop: wait");
  std::vector<Ready> out;
  out.reserve(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i)
    out.push_back({evs[i].data.u64, (evs[i].events & EPOLLIN) != 0, (evs[i].events & EPOLLPRI) != 0,
                   (evs[i].events & EPOLLHUP) != 0, (evs[i].events & EPOLLERR) != 0});
  return out;
}

}  // namespace sbx::core
