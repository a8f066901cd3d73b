#include "core/cgroup/device_bpf.h"

#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>
#include <sstream>

namespace sbx::core {

namespace {

// The license the kernel is told. It only decides whether GPL-only helpers may be called, and the
// program calls none; the repository states no license of its own (no LICENSE file): "GPL", as
// the kernel's own samples and crun say, until it does.
constexpr char kLicense[] = "GPL";

Error bad_rule(const std::string& text, const std::string& why) {
  return user_error("device rule '" + text + "': " + why +
                    " (expected a rule like 'c 1:3 rwm', 'deny b *:* w' or 'a')");
}

// "*" -> -1, "136" -> 136; numbers up to 2^31-1 (the program compares 32-bit immediates).
bool device_number(const std::string& s, int64_t& out) {
  if (s == "*") {
    out = -1;
    return true;
  }
  if (s.empty() || s.size() > 10 || s.find_first_not_of("0123456789") != std::string::npos)
    return false;
  out = std::strtoll(s.c_str(), nullptr, 10);
  return out <= 0x7fffffff;
}

bool same_devices(const DeviceRule& a, const DeviceRule& b) {
  return a.type == b.type && a.major == b.major && a.minor == b.minor;
}

// `wide` names every device `r` names, and more (a wildcard where r has a number).
bool wider(const DeviceRule& wide, const DeviceRule& r) {
  return wide.type == r.type && (wide.major == -1 || wide.major == r.major) &&
         (wide.minor == -1 || wide.minor == r.minor) && !same_devices(wide, r);
}

bpf_insn insn(uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm) {
  bpf_insn i;
  std::memset(&i, 0, sizeof i);
  i.code = code;
  i.dst_reg = dst & 0xf;
  i.src_reg = src & 0xf;
  i.off = off;
  i.imm = imm;
  return i;
}

long bpf(int cmd, union bpf_attr& attr) {
  return syscall(SYS_bpf, cmd, &attr, sizeof attr);
}

// The verifier's last lines: the reason is at the end of its log.
std::string log_tail(const std::string& log) {
  std::string t = log.substr(0, log.find('\0'));
  while (!t.empty() && (t.back() == '\n' || t.back() == ' ')) t.pop_back();
  size_t at = t.size();
  for (int lines = 0; lines < 3 && at != std::string::npos && at > 0; ++lines)
    at = t.rfind('\n', at - 1);
  std::string tail = at == std::string::npos ? t : t.substr(at + 1);
  for (char& c : tail)
    if (c == '\n') c = ';';
  return tail;
}

}  // namespace

Result<DeviceRule> parse_device_rule(const std::string& text) {
  std::istringstream in(text);
  std::vector<std::string> w;
  for (std::string t; in >> t;) w.push_back(t);
  DeviceRule r;
  size_t i = 0;
  if (!w.empty() && (w[0] == "allow" || w[0] == "deny")) {
    r.allow = w[0] == "allow";
    i = 1;
  }
  if (i >= w.size()) return bad_rule(text, "no device type");
  if (w[i].size() != 1 || std::strchr("abc", w[i][0]) == nullptr)
    return bad_rule(text, "type '" + w[i] + "' is not c, b or a");
  r.type = w[i][0];
  if (r.type == 'a' && w.size() == i + 1) return r;
  if (w.size() != i + 3) return bad_rule(text, "expected TYPE MAJOR:MINOR ACCESS");
  const std::string& numbers = w[i + 1];
  size_t colon = numbers.find(':');
  if (colon == std::string::npos || !device_number(numbers.substr(0, colon), r.major) ||
      !device_number(numbers.substr(colon + 1), r.minor))
    return bad_rule(text, "'" + numbers + "' is not MAJOR:MINOR (numbers or *)");
  r.access = 0;
  for (char c : w[i + 2]) {
    unsigned bit = c == 'r' ? kDevRead : c == 'w' ? kDevWrite : c == 'm' ? kDevMknod : 0u;
    if (!bit) return bad_rule(text, "access '" + w[i + 2] + "' is not some of r, w and m");
    r.access |= bit;
  }
  if (r.type == 'a' && (r.major != -1 || r.minor != -1 || r.access != kDevAll))
    return bad_rule(text,
                    "type a stands for every device with every access: write 'a' or 'a *:* rwm'");
  return r;
}

std::string device_rule_text(const DeviceRule& r) {
  if (r.type == 'a') return "a";
  auto num = [](int64_t n) { return n < 0 ? std::string("*") : std::to_string(n); };
  std::string access;
  if (r.access & kDevRead) access += 'r';
  if (r.access & kDevWrite) access += 'w';
  if (r.access & kDevMknod) access += 'm';
  return std::string(1, r.type) + " " + num(r.major) + ":" + num(r.minor) + " " + access;
}

bool DevicePolicy::allows(char type, uint32_t major, uint32_t minor, unsigned access) const {
  for (const auto& e : exceptions) {
    if (e.type != type || (e.major >= 0 && e.major != major) || (e.minor >= 0 && e.minor != minor))
      continue;
    if (default_allow && (access & e.access)) return false;
    if (!default_allow && (access & ~e.access) == 0) return true;
  }
  return default_allow;
}

Result<DevicePolicy> device_policy(const std::vector<std::string>& rules) {
  DevicePolicy p;
  for (const auto& text : rules) {
    auto r = parse_device_rule(text);
    if (!r) return r.error();
    if (r->type == 'a') {  // every device: a new default, nothing excepted
      p.default_allow = r->allow;
      p.exceptions.clear();
      continue;
    }
    auto same = p.exceptions.end();
    for (auto it = p.exceptions.begin(); it != p.exceptions.end(); ++it)
      if (same_devices(*it, *r)) same = it;
    if (r->allow != p.default_allow) {  // an exception to the default, or more access for one
      if (same != p.exceptions.end())
        same->access |= r->access;
      else
        p.exceptions.push_back(*r);
      continue;
    }
    // Back toward the default: only an exception for exactly these devices can shrink.
    for (const auto& e : p.exceptions)
      if (wider(e, *r) && (e.access & r->access))
        return user_error("device rule '" + text + "': takes back part of the earlier rule '" +
                          std::string(e.allow ? "" : "deny ") + device_rule_text(e) +
                          "', which the kernel would keep whole (list the devices one by one "
                          "instead of the wildcard)");
    if (same != p.exceptions.end()) {
      same->access &= ~r->access;
      if (!same->access) p.exceptions.erase(same);
    }
  }
  return p;
}

std::vector<bpf_insn> device_program(const DevicePolicy& p) {
  // struct bpf_cgroup_dev_ctx { u32 access_type (access << 16 | type); u32 major; u32 minor; }
  std::vector<bpf_insn> out = {
      insn(BPF_LDX | BPF_MEM | BPF_W, BPF_REG_2, BPF_REG_1, 0, 0),
      insn(BPF_ALU | BPF_AND | BPF_K, BPF_REG_2, 0, 0, 0xffff),  // r2: the device's type
      insn(BPF_LDX | BPF_MEM | BPF_W, BPF_REG_3, BPF_REG_1, 0, 0),
      insn(BPF_ALU | BPF_RSH | BPF_K, BPF_REG_3, 0, 0, 16),         // r3: the access asked
      insn(BPF_LDX | BPF_MEM | BPF_W, BPF_REG_4, BPF_REG_1, 4, 0),  // r4: major
      insn(BPF_LDX | BPF_MEM | BPF_W, BPF_REG_5, BPF_REG_1, 8, 0),  // r5: minor
  };
  // One block per exception: each test that fails jumps past the block; the block's end returns
  // the exception's verdict. Past every block: the default.
  for (const auto& e : p.exceptions) {
    std::vector<bpf_insn> b;
    std::vector<size_t> jumps;
    auto unless = [&](const bpf_insn& i) {
      jumps.push_back(b.size());
      b.push_back(i);
    };
    unless(insn(BPF_JMP | BPF_JNE | BPF_K, BPF_REG_2, 0, 0,
                e.type == 'b' ? BPF_DEVCG_DEV_BLOCK : BPF_DEVCG_DEV_CHAR));
    if (e.access != kDevAll) {
      b.push_back(insn(BPF_ALU | BPF_MOV | BPF_X, BPF_REG_1, BPF_REG_3, 0, 0));
      b.push_back(insn(BPF_ALU | BPF_AND | BPF_K, BPF_REG_1, 0, 0, static_cast<int32_t>(e.access)));
      if (p.default_allow)  // a deny exception: it applies when it shares any of the access
        unless(insn(BPF_JMP | BPF_JEQ | BPF_K, BPF_REG_1, 0, 0, 0));
      else  // an allow exception: only when it covers all of it
        unless(insn(BPF_JMP | BPF_JNE | BPF_X, BPF_REG_1, BPF_REG_3, 0, 0));
    }
    if (e.major >= 0)
      unless(insn(BPF_JMP | BPF_JNE | BPF_K, BPF_REG_4, 0, 0, static_cast<int32_t>(e.major)));
    if (e.minor >= 0)
      unless(insn(BPF_JMP | BPF_JNE | BPF_K, BPF_REG_5, 0, 0, static_cast<int32_t>(e.minor)));
    b.push_back(insn(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, e.allow ? 1 : 0));
    b.push_back(insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0));
    for (size_t j : jumps) b[j].off = static_cast<int16_t>(b.size() - j - 1);
    out.insert(out.end(), b.begin(), b.end());
  }
  out.push_back(insn(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, p.default_allow ? 1 : 0));
  out.push_back(insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0));
  return out;
}

Result<Fd> load_device_program(const DevicePolicy& policy) {
  std::vector<bpf_insn> prog = device_program(policy);
  std::string log;
  auto load = [&](bool with_log) {
    union bpf_attr a;
    std::memset(&a, 0, sizeof a);
    a.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
    a.insns = reinterpret_cast<uintptr_t>(prog.data());
    a.insn_cnt = static_cast<uint32_t>(prog.size());
    a.license = reinterpret_cast<uintptr_t>(kLicense);
    if (with_log) {
      log.assign(65536, '\0');
      a.log_buf = reinterpret_cast<uintptr_t>(log.data());
      a.log_size = static_cast<uint32_t>(log.size());
      a.log_level = 1;
    }
    return static_cast<int>(bpf(BPF_PROG_LOAD, a));
  };
  int fd = load(false);
  if (fd >= 0) return Fd(fd);
  int e = errno;
  std::string what = "load the cgroup device program (bpf BPF_PROG_LOAD, " +
                     std::to_string(prog.size()) + " instructions)";
  if (e == EPERM)
    return Error{e, what + ": " + std::strerror(e) +
                        " (it needs CAP_BPF or CAP_SYS_ADMIN on the host, which a user namespace "
                        "does not give; kernels before 5.11 also count it against "
                        "RLIMIT_MEMLOCK)"};
  if (e == EINVAL || e == EACCES) {
    int again = load(true);
    if (again >= 0) return Fd(again);  // (it loaded this time: take it)
    e = errno;
    std::string why = log_tail(log);
    if (!why.empty()) return Error{e, what + ": " + std::strerror(e) + "; the verifier: " + why};
  }
  return sys_error(what, e);
}

Status attach_device_program(const std::string& dir, const DevicePolicy& policy) {
  Fd group(open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!group.ok()) return sys_error("attach the cgroup device program: open " + dir);
  auto prog = load_device_program(policy);
  if (!prog) return prog.error();
  union bpf_attr a;
  std::memset(&a, 0, sizeof a);
  a.target_fd = static_cast<uint32_t>(group.get());
  a.attach_bpf_fd = static_cast<uint32_t>(prog->get());
  a.attach_type = BPF_CGROUP_DEVICE;
  a.attach_flags = BPF_F_ALLOW_MULTI;
  if (bpf(BPF_PROG_ATTACH, a) != 0) {
    int e = errno;
    std::string hint = e == EPERM
                           ? " (a group above holds a device program attached without "
                             "BPF_F_ALLOW_MULTI, or this process lacks CAP_SYS_ADMIN on the host)"
                       : e == EBADF ? " (not a cgroup v2 directory)"
                                    : "";
    return Error{e, "attach the cgroup device program to " + dir +
                        " (bpf BPF_PROG_ATTACH BPF_CGROUP_DEVICE): " + std::strerror(e) + hint};
  }
  return {};  // `prog` closes: the group holds the program now
}

}  // namespace sbx::core
