#!/usr/bin/env bash
# bench/workspace.sh: what a workspace costs (issue 16). (1) A start with --workspace (the overlay,
# its directories made and the start mark) against a plain start of the same rootfs, paired
# (farm-bench), each run discarding its (empty) workspace; (2) promote of 1,000 changed files
# against cp -a of the same files, each 5 times.
#   bench/workspace.sh [SBX] [-n RUNS]     (default 100 paired runs: farm-bench takes at most 100)
set -euo pipefail
cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.."
SBX=./build/sbx N=100
while [[ $# -gt 0 ]]; do
  case "$1" in
    -n) N="${2:?}"; shift 2 ;;
    -h|--help) sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) SBX="$1"; shift ;;
  esac
done
SBX=$(readlink -f "$SBX")
ROOT=$("$SBX" -e 'io.write(assert(sbx.rootfs.busybox()))')
W=$(mktemp -d /var/tmp/sbx-bench-ws.XXXXXX)
trap 'rm -rf "$W"' EXIT
mkdir -p "$W/proj"
for i in $(seq 1 1000); do printf 'line %d\n' "$i" > "$W/proj/f$i"; done
echo "== start: sbx run --rootfs (busybox) --workspace DIR vs without, $N paired runs"
# (no change: the run's report removes the workspace again)
if command -v farm-bench >/dev/null; then
  farm-bench -n "$N" --vs "$SBX run --rootfs $ROOT -- true" -- "$SBX" run --rootfs "$ROOT" --workspace "$W/proj" -- true 2>&1 | grep -v "^note:"
else
  hyperfine -N -w 5 -r "$N" "$SBX run --rootfs $ROOT -- true" "$SBX run --rootfs $ROOT --workspace $W/proj -- true"
fi
echo "== promote of 1,000 changed files vs cp -a of them (5 rounds each)"
"$SBX" -e '
local dir, w = arg[1], arg[2]
local clock = require("sbx.core").monotonic
local tp, tc = {}, {}
for round = 1, 5 do
  local box = sbx.container{ rootfs = arg[3], workspace = { dir = dir, dest = "/p" } }
  local st, err = box:run{ "/bin/sh", "-c", "for f in /p/f*; do echo more >> $f; done" }
  assert(st and st.code == 0, tostring(err))
  local ws = assert(box:workspace())
  os.execute(("rm -rf %s/copy && mkdir %s/copy"):format(w, w))
  local t0 = clock()
  assert(os.execute(("cp -a %s/. %s/copy/"):format(ws.upper, w)) == 0)
  tc[round] = clock() - t0
  t0 = clock()
  local out = assert(box:promote())
  tp[round] = clock() - t0
  assert(#out == 1000, #out)
  box:discard()
end
table.sort(tp); table.sort(tc)
print(("promote 1000 files: median %.1f ms; cp -a of the same files: median %.1f ms; ratio %.2f"):format(tp[3] * 1e3, tc[3] * 1e3, tp[3] / tc[3]))
' "$W/proj" "$W" "$ROOT"
