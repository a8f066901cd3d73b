// Dir and File: the owners of a DIR* and a FILE*; closedir / fclose on every path.
#pragma once
#include <dirent.h>

#include <cstdio>
#include <memory>

namespace sbx::core {

struct DirCloser {
  void operator()(DIR* d) const { closedir(d); }
};
struct FileCloser {
  void operator()(FILE* f) const { fclose(f); }
};

// Dir d(opendir(path)); if (!d) ...; while (auto* e = readdir(d.get())) ...
using Dir = std::unique_ptr<DIR, DirCloser>;
// File f(fopen(path, "re")); if (!f) ...; fgets(buf, sizeof buf, f.get())
using File = std::unique_ptr<FILE, FileCloser>;

}  // namespace sbx::core
