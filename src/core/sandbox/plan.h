// The plan of a sandbox (core::Spec and the structs in it) declared once, field by field, in
// plan.cc. Every reader and writer of a plan goes through this: box:spec(), --print-spec,
// plan.json, the detached supervisor, the Lua bindings (src/bind/plan_lua), and the reference.
#pragma once
#include <string>
#include <vector>

#include "core/base/schema.h"
#include "core/sandbox/spec.h"

namespace sbx::core {

// JSON -> Spec, strict: an unknown key or a wrong type is an error naming the key path
// ("spec.limits.memry: unknown key (expected ...)"). Keys not given keep their value in `out`
// (decode over a default Spec for a whole plan, over a plan for a run's own argv/env/cwd).
Status plan_from_json(const schema::Json& j, Spec& out, const std::string& path = "spec");
Result<Spec> plan_from_json(const schema::Json& j);
// JSON -> Limits (a plan's limits table, strict as a plan), over `out`.
Status limits_from_json(const schema::Json& j, Limits& out, const std::string& path);
// Spec -> JSON: every field that is set (empty lists, empty strings and quiet defaults omitted).
schema::Json plan_to_json(const Spec& spec);

// An id map (uid_map, gid_map, an op's maps) -> JSON, as the plan writes it.
schema::Json id_map_to_json(const std::vector<IdMapEntry>& map);

// JSON text -> a Spec, or why not (never throws). `what` names the text in errors.
Result<Spec> plan_from_text(const std::string& text, const std::string& what);
// A plan file (plan.json): read, parsed, decoded.
Result<Spec> read_plan(const std::string& path);

// The reference: one line per field of the plan, nested tables as "limits.memory", list items
// as "ops[].dest".
std::vector<schema::FieldDoc> plan_reference();

}  // namespace sbx::core
