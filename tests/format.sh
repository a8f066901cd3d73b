#!/bin/sh
# Every C and C++ file of the project is as .clang-format lays it out (clang-format 14, Debian's).
# Fix with:  clang-format -i $(git ls-files '*.cc' '*.h' '*.c')
set -eu
src=$(cd "$(dirname "$0")/.." && pwd)
fmt=$(command -v clang-format-14 || command -v clang-format || true)
if [ -z "$fmt" ]; then echo "SKIP: clang-format is not installed (scripts/setup.sh installs it)"; exit 77; fi
cd "$src"
if [ -d .git ] || git rev-parse --git-dir >/dev/null 2>&1; then
  files=$(git ls-files '*.cc' '*.h' '*.c')
else
  files=$(find src tests -name '*.cc' -o -name '*.h' -o -name '*.c')
fi
bad=""
for f in $files; do
  "$fmt" --dry-run --Werror "$f" >/dev/null 2>&1 || bad="$bad $f"
done
if [ -n "$bad" ]; then
  echo "not formatted as .clang-format says:$bad"
  echo "fix: $fmt -i$bad"
  exit 1
fi
echo "ok: $(echo "$files" | wc -w) files formatted"
