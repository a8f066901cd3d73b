// Where a fuzz target keeps its scratch: a new directory under $TMPDIR (tests/sanitize.sh gives
// each run its own and removes it), /tmp otherwise.
#pragma once
#include <stdlib.h>

#include <string>

namespace sbx::fuzz {

inline std::string scratch_dir(const char* kind) {
  const char* t = std::getenv("TMPDIR");
  std::string tmpl = std::string(t && *t == '/' ? t : "/tmp") + "/sbx-fuzz-" + kind + "-XXXXXX";
  const char* made = mkdtemp(tmpl.data());
  if (!made) abort();
  return made;
}

}  // namespace sbx::fuzz
