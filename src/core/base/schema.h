// A plan struct declared once: each struct lists its fields (name, member, codec, doc) and
// everything else is derived from that list - JSON -> struct (strict: an unknown key or a wrong
// type is an error naming the key path, e.g. "spec.limits.memry"), struct -> JSON, the field
// reference in help and docs. Lua tables reach it through src/bind/plan_lua (Lua <-> JSON,
// generic).
//
// A codec is a small object with
//   Json encode(const T&) const;
//   Status decode(const Json&, T& out, const std::string& path) const;  // never throws
//   bool empty(const T&) const;   // omitted from the encoding when true
//   std::string kind() const;     // "string", "list of strings", ... (for the reference)
// Codec<T> is the default one for T; a field can be given another (a range, an enum, a flag set).
#pragma once
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "core/base/result.h"

namespace sbx::core::schema {

using Json = nlohmann::json;

// "spec.limits.memory: expected a whole number, got a string"
inline Error bad(const std::string& path, const std::string& what) {
  return user_error(path + ": " + what);
}
// "a string", "a number", "a list", "a table", "true", "null"
std::string type_name(const Json& j);
// A number as a person wrote it: 1.5, 1e+35, 42.
std::string number_text(double d);

// One line of the reference: "limits.memory  whole number  bytes".
struct FieldDoc {
  std::string path, kind, doc;
};

template <class T, class = void>
struct Codec;

template <>
struct Codec<std::string> {
  Json encode(const std::string& v) const { return v; }
  Status decode(const Json& j, std::string& out, const std::string& path) const {
    if (!j.is_string()) return bad(path, "expected a string, got " + type_name(j));
    out = j.get_ref<const std::string&>();
    return {};
  }
  bool empty(const std::string& v) const { return v.empty(); }
  std::string kind() const { return "string"; }
};

template <>
struct Codec<bool> {
  Json encode(bool v) const { return v; }
  Status decode(const Json& j, bool& out, const std::string& path) const {
    if (!j.is_boolean()) return bad(path, "expected true or false, got " + type_name(j));
    out = j.get<bool>();
    return {};
  }
  bool empty(bool) const { return false; }
  std::string kind() const { return "boolean"; }
};

// A whole number in [lo, hi]: checked before it is narrowed (a plan's 1e35 is an error, not a
// wrapped value). `what` names the kind in errors ("an id").
Status decode_whole(const Json& j, long double lo, long double hi, const char* what,
                    const std::string& path, long double& out);

template <class T>
struct Whole {
  T lo = std::numeric_limits<T>::min(), hi = std::numeric_limits<T>::max();
  const char* what = nullptr;
  Json encode(T v) const { return v; }
  Status decode(const Json& j, T& out, const std::string& path) const {
    long double v = 0;
    if (auto st = decode_whole(j, static_cast<long double>(lo), static_cast<long double>(hi), what,
                               path, v);
        !st)
      return st;
    out = static_cast<T>(v);
    return {};
  }
  bool empty(T) const { return false; }
  std::string kind() const { return what ? what : "whole number"; }
};

template <class T>
struct Codec<T, std::enable_if_t<std::is_integral_v<T> && !std::is_same_v<T, bool>>> : Whole<T> {};

template <>
struct Codec<double> {
  Json encode(double v) const { return v; }
  Status decode(const Json& j, double& out, const std::string& path) const {
    if (!j.is_number()) return bad(path, "expected a number, got " + type_name(j));
    out = j.get<double>();
    if (!std::isfinite(out)) return bad(path, "not a finite number");
    return {};
  }
  bool empty(double) const { return false; }
  std::string kind() const { return "number"; }
};

template <class T, class C = Codec<T>>
struct List {
  C item{};
  Json encode(const std::vector<T>& v) const {
    Json a = Json::array();
    for (const auto& x : v) a.push_back(item.encode(x));
    return a;
  }
  Status decode(const Json& j, std::vector<T>& out, const std::string& path) const {
    if (j.is_object() && j.empty()) {  // an empty Lua table
      out.clear();
      return {};
    }
    if (!j.is_array()) return bad(path, "expected a list, got " + type_name(j));
    std::vector<T> items;
    items.reserve(j.size());
    for (size_t i = 0; i < j.size(); ++i) {
      T x{};
      if (auto st = item.decode(j[i], x, path + "[" + std::to_string(i + 1) + "]"); !st) return st;
      items.push_back(std::move(x));
    }
    out = std::move(items);
    return {};
  }
  bool empty(const std::vector<T>& v) const { return v.empty(); }
  std::string kind() const {
    return "list of " + item.kind() + (item.kind().back() == 's' ? "" : "s");
  }
  void docs(const std::string& prefix, std::vector<FieldDoc>& out) const requires
      requires(std::vector<FieldDoc>& o) {
    C{}.docs(std::string(), o);
  }
  { item.docs(prefix.substr(0, prefix.size() - 1) + "[].", out); }
};

template <class T>
struct Codec<std::vector<T>> : List<T> {};

// nullopt is absent; a present value (even an empty list) is encoded.
template <class T, class C = Codec<T>>
struct Maybe {
  C inner{};
  Json encode(const std::optional<T>& v) const { return v ? inner.encode(*v) : Json(); }
  Status decode(const Json& j, std::optional<T>& out, const std::string& path) const {
    T x = out.value_or(T{});
    if (auto st = inner.decode(j, x, path); !st) return st;
    out = std::move(x);
    return {};
  }
  bool empty(const std::optional<T>& v) const { return !v; }
  std::string kind() const { return inner.kind(); }
  void docs(const std::string& prefix, std::vector<FieldDoc>& out) const requires
      requires(std::vector<FieldDoc>& o) {
    C{}.docs(std::string(), o);
  }
  { inner.docs(prefix, out); }
};

template <class T>
struct Codec<std::optional<T>> : Maybe<T> {};

// One field of struct S.
template <class S>
struct Field {
  const char* name;
  std::string kind;
  const char* doc;
  std::function<Json(const S&)> encode;
  std::function<bool(const S&)> present;  // encoded at all
  std::function<Status(const Json&, S&, const std::string&)> decode;
  std::function<bool(const S&)> is_default;
  bool required_ = false;

  // Omitted from the encoding while it has its default value (op.size = 0, op.optional = false).
  Field quiet() && {
    auto d = is_default;
    auto p = present;
    present = [d, p](const S& s) { return p(s) && !d(s); };
    return std::move(*this);
  }
  // Encoded even when empty (a list readers iterate: ops, env, rules).
  Field always() && {
    present = [](const S&) { return true; };
    return std::move(*this);
  }
  // Must be given (an op's kind).
  Field required() && {
    required_ = true;
    return std::move(*this);
  }
  // The reference lines of a nested table's own fields.
  std::function<void(const std::string&, std::vector<FieldDoc>&)> children;
};

template <class S, class M, class C = Codec<M>>
Field<S> field(const char* name, M S::*m, const char* doc, C c = {}) {
  static const S defaults{};
  Field<S> f{
      name, c.kind(), doc, [m, c](const S& s) { return c.encode(s.*m); },
      // omitted when empty and at its default: cwd = "" is kept, since its default is "/"
      [m, c](const S& s) { return !(c.empty(s.*m) && s.*m == defaults.*m); },
      [m, c](const Json& j, S& s, const std::string& path) { return c.decode(j, s.*m, path); },
      [m](const S& s) { return s.*m == defaults.*m; }};
  if constexpr (requires(std::vector<FieldDoc> & out) { c.docs(std::string(), out); })
    f.children = [c](const std::string& prefix, std::vector<FieldDoc>& out) {
      c.docs(prefix, out);
    };
  return f;
}

// The declaration of S: specialised once per plan struct (see core/sandbox/plan.cc).
template <class S>
const std::vector<Field<S>>& fields();

std::string key_list(const std::vector<std::string>& names);

// A struct S, through its declared fields. Decoding fills `out` in place: keys not given keep
// their values (so a plan can be decoded over defaults, or over another plan).
template <class S>
struct Struct {
  Json encode(const S& s) const {
    Json o = Json::object();
    for (const auto& f : fields<S>())
      if (f.present(s)) o[f.name] = f.encode(s);
    return o;
  }
  Status decode(const Json& j, S& out, const std::string& path) const {
    if (j.is_array() && j.empty()) return check_required({}, path);  // an empty Lua table
    if (!j.is_object()) return bad(path, "expected a table, got " + type_name(j));
    const auto& fs = fields<S>();
    std::vector<const char*> given;
    for (const auto& [key, value] : j.items()) {
      const Field<S>* f = nullptr;
      for (const auto& x : fs)
        if (key == x.name) f = &x;
      if (!f) {
        std::vector<std::string> names;
        for (const auto& x : fs) names.push_back(x.name);
        return bad(path + "." + key, "unknown key (expected " + key_list(names) + ")");
      }
      if (value.is_null()) continue;  // JSON's null: absent
      if (auto st = f->decode(value, out, path + "." + key); !st) return st;
      given.push_back(f->name);
    }
    return check_required(given, path);
  }
  bool empty(const S& s) const {
    for (const auto& f : fields<S>())
      if (f.present(s)) return false;
    return true;
  }
  std::string kind() const { return "table"; }
  void docs(const std::string& prefix, std::vector<FieldDoc>& out) const {
    for (const auto& f : fields<S>()) {
      out.push_back({prefix + f.name, f.kind, f.doc});
      if (f.children) f.children(prefix + f.name + ".", out);
    }
  }

 private:
  Status check_required(const std::vector<const char*>& given, const std::string& path) const {
    for (const auto& f : fields<S>()) {
      if (!f.required_) continue;
      bool found = false;
      for (const char* g : given) found = found || g == f.name;
      if (!found) return bad(path, std::string("missing ") + f.name);
    }
    return {};
  }
};

// A value of S from JSON (strict) and back.
template <class S>
Status decode(const Json& j, S& out, const std::string& path) {
  return Struct<S>{}.decode(j, out, path);
}
template <class S>
Json encode(const S& s) {
  return Struct<S>{}.encode(s);
}

}  // namespace sbx::core::schema
