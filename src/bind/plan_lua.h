// Lua <-> the plan. A Lua value becomes JSON (generically, naming the path of anything JSON
// cannot hold) and then a Spec through the one declaration in core/sandbox/plan; a Spec goes
// back the same way. core.plan() returns a sbx.Plan: the checked Spec itself, held by Lua, so a
// run converts and validates once.
#pragma once
#include "core/base/schema.h"
#include "core/sandbox/spec.h"
#include "lua_util.h"

namespace sbx::bind {

// A Lua value as JSON; raises "<path>: cannot hold a function" for what JSON cannot hold.
core::schema::Json lua_to_json(lua_State* L, int idx, const std::string& path, int depth = 0);
// Pushes JSON as Lua data (null -> nil, objects and arrays -> tables).
void push_json(lua_State* L, const core::schema::Json& j);

// The plan at idx - a sbx.Plan or a plan table (read strictly: unknown keys and wrong types
// raise, naming the key path).
core::Spec spec_from_lua(lua_State* L, int idx);
// The plan table at idx decoded over `spec` (keys not given keep their values); raises naming
// the key path.
void decode_plan_over(lua_State* L, int idx, core::Spec& spec, const char* path);
// Pushes the plan as plain data (the shape spec_from_lua reads).
void push_spec(lua_State* L, const core::Spec& spec);

// A sbx.Plan userdata: the Spec, and whether its plan part was validated when it was made.
struct Plan {
  core::Spec spec;
  bool checked = false;
};
Plan* to_plan(lua_State* L, int idx);  // nullptr when idx is not a sbx.Plan
void push_plan(lua_State* L, core::Spec spec, bool checked);
void register_plan(
    lua_State* L);  // the metatable; core.plan, core.plan_reference into the table on top

}  // namespace sbx::bind
