// Dir, File and Pipe: the owners of a DIR*, a FILE* and popen's FILE*; closedir / fclose /
// pclose on every path.
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
struct PipeCloser {
  void operator()(FILE* f) const { pclose(f); }
};

// Dir d(opendir(path)); if (!d) ...; while (auto* e = readdir(d.get())) ...
using Dir = std::unique_ptr<DIR, DirCloser>;
// File f(fopen(path, "re")); if (!f) ...; fgets(buf, sizeof buf, f.get())
using File = std::unique_ptr<FILE, FileCloser>;
// Pipe p(popen(cmd, "re")); ... the status: int st = pclose(p.release());
using Pipe = std::unique_ptr<FILE, PipeCloser>;

}  // namespace sbx::core
