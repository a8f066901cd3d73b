// sbx.Process userdata: owns a core::Sandbox and the supervisor's ends of its stdio pipes.
#pragma once
#include <string>

#include "core/sandbox/spawn.h"
#include "lua_util.h"

namespace sbx::bind {

struct Process {
  core::Sandbox box;
  core::Fd pipes[3];  // parent ends: stdin (write), stdout, stderr (read)
  core::Fd tty;       // the master side of its pseudo-terminal (io.tty = true)
  std::string name;
};

void register_process(lua_State* L);
// sbx.SeccompListener / sbx.SeccompCall (notify.cc): the metatables, and a listener from its fd.
void register_notify(lua_State* L);
void push_seccomp_listener(lua_State* L, core::Fd fd);
// Pushes a new Process owning `box`.
Process* new_process(lua_State* L, core::Sandbox box);
void push_cgroup_stat(lua_State* L, const core::CgroupStat& st);
void push_cgroup_events(lua_State* L, const core::CgroupEvents& ev);
// core.spawn(plan, io) -> Process | nil, message, errno
int l_spawn_entry(lua_State* L);
// core.enter(pid, plan, io, cgroup) -> Process | nil, message, errno
int l_enter_entry(lua_State* L);

}  // namespace sbx::bind
