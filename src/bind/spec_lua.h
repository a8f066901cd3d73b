// core::Spec <-> Lua plan table. The plan table is the data box:spec() shows and the only
// thing the core receives from Lua.
#pragma once
#include "core/sandbox/spec.h"
#include "lua_util.h"

namespace sbx::bind {

// Reads a plan table strictly: unknown keys and wrong types raise, naming them.
core::Spec spec_from_lua(lua_State* L, int idx);
// Pushes a seccomp policy as the plan's table { profile =, default_action =, rules = }.
void push_seccomp(lua_State* L, const core::SeccompPolicy& p);
// Pushes the plan as plain data (the same shape spec_from_lua reads).
void push_spec(lua_State* L, const core::Spec& spec);

}  // namespace sbx::bind
