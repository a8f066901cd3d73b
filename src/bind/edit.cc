// sbx.core.edit: line editing for the sbx> prompt with libedit (BSD-licensed; loaded on first
// use, so a script or a one-liner never pays for it), and interruptible chunks: Ctrl-C while Lua
// runs raises "interrupted" in the chunk instead of ending sbx.
#include <editline/readline.h>
#include <signal.h>

#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "core/base/dl.h"
#include "lua_util.h"

namespace sbx::bind {

namespace {

#define SBX_EDIT_FUNCTIONS(X) \
  X(readline)                 \
  X(add_history) X(read_history) X(write_history) X(stifle_history) X(rl_completion_matches)

struct EditApi {
  SBX_EDIT_FUNCTIONS(SBX_DL_DECLARE)
  rl_completion_func_t** attempted_completion = nullptr;
  int* attempted_completion_over = nullptr;
  int* completion_append_character = nullptr;
  char** completer_word_break_characters = nullptr;
  const char** basic_word_break_characters = nullptr;
  const char** readline_name = nullptr;
};

const EditApi* edit_api(std::string& error) {
  auto loaded = core::dl_once<EditApi>([](EditApi& api, std::string& failed) {
    if (void* lib =
            core::dl_open("libedit.so.2", RTLD_NOW | RTLD_LOCAL, "libedit", "libedit2", failed)) {
#define SBX_LOAD(name) core::dl_sym(lib, api.name, #name, "libedit", failed);
      SBX_EDIT_FUNCTIONS(SBX_LOAD)
#undef SBX_LOAD
      core::dl_sym(lib, api.attempted_completion, "rl_attempted_completion_function", "libedit",
                   failed);
      core::dl_sym(lib, api.attempted_completion_over, "rl_attempted_completion_over", "libedit",
                   failed);
      core::dl_sym(lib, api.completion_append_character, "rl_completion_append_character",
                   "libedit", failed);
      core::dl_sym(lib, api.completer_word_break_characters, "rl_completer_word_break_characters",
                   "libedit", failed);
      core::dl_sym(lib, api.basic_word_break_characters, "rl_basic_word_break_characters",
                   "libedit", failed);
      core::dl_sym(lib, api.readline_name, "rl_readline_name", "libedit", failed);
    }
  });
  if (!loaded) error = loaded.error().message;
  return loaded ? *loaded : nullptr;
}

const EditApi* api_or_raise(lua_State* L) {
  std::string error;
  const EditApi* a = edit_api(error);
  if (!a) raise(L, error);
  return a;
}

// --- completion: the Lua function registered by set_completer(fn) gives the candidates.
lua_State* g_completion_state = nullptr;
int g_completer_ref = LUA_NOREF;
std::vector<std::string> g_candidates;
size_t g_next = 0;

char* next_candidate(const char*, int state) {
  if (state == 0) g_next = 0;
  if (g_next >= g_candidates.size()) return nullptr;
  return strdup(g_candidates[g_next++].c_str());  // libedit frees it
}

char** complete(const char* text, int, int) {
  static std::string unused;
  const EditApi* a = edit_api(unused);  // loaded already: we are inside readline
  *a->attempted_completion_over = 1;    // never fall back to file names
  g_candidates.clear();
  lua_State* L = g_completion_state;
  if (!L || g_completer_ref == LUA_NOREF) return nullptr;
  lua_rawgeti(L, LUA_REGISTRYINDEX, g_completer_ref);
  lua_pushstring(L, text);
  if (lua_pcall(L, 1, 1, 0) != 0) {
    lua_pop(L, 1);
    return nullptr;
  }
  if (lua_istable(L, -1))
    for (int i = 1; i <= static_cast<int>(lua_objlen(L, -1)); ++i) {
      lua_rawgeti(L, -1, i);
      if (const char* s = lua_tostring(L, -1)) g_candidates.emplace_back(s);
      lua_pop(L, 1);
    }
  lua_pop(L, 1);
  if (g_candidates.empty()) return nullptr;
  return a->rl_completion_matches(text, next_candidate);
}

// --- Ctrl-C: at the prompt it abandons the line; while a chunk runs it raises "interrupted".
volatile sig_atomic_t g_interrupted = 0;
lua_State* volatile g_running = nullptr;

void interrupt_hook(lua_State* L, lua_Debug*) {
  lua_sethook(L, nullptr, 0, 0);
  g_interrupted = 0;
  // the bare word, no position: the event loop tells it from a handler's own failure by it
  lua_pushstring(L, "interrupted");
  lua_error(L);
}

void on_sigint(int) {
  g_interrupted = 1;
  if (lua_State* L = g_running)
    lua_sethook(L, interrupt_hook, LUA_MASKCALL | LUA_MASKRET | LUA_MASKCOUNT, 1);
}

void install_sigint(struct sigaction* old) {
  struct sigaction sa;
  std::memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_sigint;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, old);  // no SA_RESTART: a blocking read returns EINTR
}

// readline(prompt) -> line | nil, "eof" | nil, "interrupted"
int l_readline(lua_State* L) {
  const EditApi* a = api_or_raise(L);
  const char* prompt = luaL_checkstring(L, 1);
  struct sigaction old;
  g_interrupted = 0;
  install_sigint(&old);
  char* line = a->readline(prompt);
  sigaction(SIGINT, &old, nullptr);
  if (!line) {
    lua_pushnil(L);
    lua_pushstring(L, g_interrupted ? "interrupted" : "eof");
    g_interrupted = 0;
    return 2;
  }
  lua_pushstring(L, line);
  std::free(line);
  return 1;
}

int l_add_history(lua_State* L) {
  api_or_raise(L)->add_history(luaL_checkstring(L, 1));
  return 0;
}

int l_load_history(lua_State* L) {
  const EditApi* a = api_or_raise(L);
  a->stifle_history(static_cast<int>(luaL_optinteger(L, 2, 1000)));
  lua_pushboolean(L, a->read_history(luaL_checkstring(L, 1)) == 0);
  return 1;
}

int l_save_history(lua_State* L) {
  lua_pushboolean(L, api_or_raise(L)->write_history(luaL_checkstring(L, 1)) == 0);
  return 1;
}

// set_completer(fn): fn(word) -> { candidates } for Tab. Words break at blanks and operators,
// not at '.' or ':', so "sbx.cgr" and "box:sp" reach fn whole.
int l_set_completer(lua_State* L) {
  const EditApi* a = api_or_raise(L);
  luaL_checktype(L, 1, LUA_TFUNCTION);
  lua_pushvalue(L, 1);
  if (g_completer_ref != LUA_NOREF) luaL_unref(L, LUA_REGISTRYINDEX, g_completer_ref);
  g_completer_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  g_completion_state = L;
  static char breaks[] = " \t\n\"'`<>=;+-*/%^~#&|(){}[],";
  *a->completer_word_break_characters = breaks;
  *a->basic_word_break_characters = breaks;
  *a->completion_append_character = 0;
  *a->readline_name = "sbx";
  *a->attempted_completion = complete;
  return 0;
}

// interruptible(fn, ...) -> pcall-like results; Ctrl-C raises "interrupted" inside fn.
int l_interruptible(lua_State* L) {
  luaL_checktype(L, 1, LUA_TFUNCTION);
  int n = lua_gettop(L) - 1;
  struct sigaction old;
  g_interrupted = 0;
  lua_State* outer = g_running;
  g_running = L;
  install_sigint(&old);
  int base = lua_gettop(L) - n;  // the function's index
  lua_getglobal(L, "debug");
  lua_getfield(L, -1, "traceback");
  lua_remove(L, -2);
  lua_insert(L, base);  // [.., traceback, fn, args]
  int rc = lua_pcall(L, n, LUA_MULTRET, base);
  sigaction(SIGINT, &old, nullptr);
  lua_sethook(L, nullptr, 0, 0);
  g_running = outer;
  g_interrupted = 0;
  lua_pushboolean(L, rc == 0);
  lua_replace(L, base);  // the traceback function's slot becomes the status
  return lua_gettop(L) - base + 1;
}

}  // namespace

void register_edit(lua_State* L) {
  static const luaL_Reg fns[] = {{"readline", guarded<l_readline>},
                                 {"add_history", guarded<l_add_history>},
                                 {"load_history", guarded<l_load_history>},
                                 {"save_history", guarded<l_save_history>},
                                 {"set_completer", guarded<l_set_completer>},
                                 {"interruptible", l_interruptible},
                                 {nullptr, nullptr}};
  lua_newtable(L);
  luaL_register(L, nullptr, fns);
}

}  // namespace sbx::bind
