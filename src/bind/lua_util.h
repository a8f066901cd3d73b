// Helpers shared by the bindings: the error conventions (misuse raises at the caller's line,
// an operational failure returns nil, message, errno) and strict reading of option tables.
#pragma once
extern "C" {
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
}

#include <exception>
#include <initializer_list>
#include <optional>
#include <string>
#include <vector>

#include "core/base/result.h"

namespace sbx::bind {

// Returns nil, message, errno (the runtime-failure convention).
int push_failure(lua_State* L, const core::Error& e);

// Raises a Lua error (level 1: the caller of the C function) with the message.
[[noreturn]] void raise(lua_State* L, const std::string& message);

// Every C function is wrapped by this: a C++ exception becomes a Lua error with its message
// instead of LuaJIT's bare "C++ exception".
template <int (*F)(lua_State*)>
int guarded(lua_State* L) {
  std::string msg;
  try {
    return F(L);
  } catch (const std::exception& e) {
    msg = e.what();
  }
  luaL_where(L, 1);
  lua_pushstring(L, ("internal error: " + msg).c_str());
  lua_concat(L, 2);
  return lua_error(L);
}

// Raises "<what>: unknown key 'x' (expected a, b, c)" when the table at idx has other keys.
void check_keys(lua_State* L, int idx, const char* what,
                std::initializer_list<const char*> allowed);

// Field readers for the table at idx; raise naming "<what>.<key>" on a wrong type.
std::optional<std::string> opt_string_field(lua_State* L, int idx, const char* what,
                                            const char* key);
std::optional<lua_Number> opt_number_field(lua_State* L, int idx, const char* what,
                                           const char* key);
// A whole number in [lo, hi] (raises otherwise, naming the field): what a cast to an integer type
// may take without undefined behaviour (a plan's 1e35 is an error, not a wrapped value).
std::optional<lua_Number> opt_whole_field(lua_State* L, int idx, const char* what, const char* key,
                                          lua_Number lo, lua_Number hi);
constexpr lua_Number kU64Max = 18446744073709549568.0;  // the largest double below 2^64
constexpr lua_Number kI64Max = 9223372036854774784.0;   // the largest double below 2^63
std::optional<bool> opt_bool_field(lua_State* L, int idx, const char* what, const char* key);
// A list of strings (array part); nullopt when the field is nil.
std::optional<std::vector<std::string>> opt_string_list_field(lua_State* L, int idx,
                                                              const char* what, const char* key);
// t[key] = value for the table on top of the stack.
void set_number(lua_State* L, const char* key, lua_Number value);
void set_integer(lua_State* L, const char* key, lua_Integer value);
void set_string(lua_State* L, const char* key, const char* value);
void set_bool(lua_State* L, const char* key, bool value);

// Pushes a Lua list of the strings.
void push_strings(lua_State* L, const std::vector<std::string>& v);

// A list of strings at a stack index.
std::vector<std::string> check_string_list(lua_State* L, int idx, const char* what);

}  // namespace sbx::bind
