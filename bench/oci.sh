#!/usr/bin/env bash
# bench/oci.sh: an OCI runtime's whole container life - `RUNTIME run -b BUNDLE ID` (create, start,
# wait, delete) - with sbx-oci against runc, on one bundle made by `runc spec` (busybox root,
# read-only, /bin/true, memory 64M + 0.5 CPU + 64 pids), measured in one hyperfine run.
#
#   bench/oci.sh [SBX_OCI] [--runs N]
#
# crun refuses this hybrid cgroup host outside a private mount namespace without
# /sys/fs/cgroup/unified; it is left out here. Prints medians and the ratio (target <= 0.5).
set -euo pipefail
cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.."
OCI=./build/sbx-oci
RUNS=50
while [[ $# -gt 0 ]]; do
  case "$1" in
    --runs) RUNS="${2:?}"; shift 2 ;;
    *) OCI="$1"; shift ;;
  esac
done
OCI="$(cd "$(dirname "$OCI")" && pwd)/$(basename "$OCI")"
command -v runc >/dev/null || { echo "oci.sh: runc is not installed"; exit 1; }
command -v hyperfine >/dev/null || { echo "oci.sh: hyperfine is not installed"; exit 1; }
ROOTFS=$("${OCI%-oci}" -e 'io.write(assert(sbx.rootfs.busybox()))')
TMP=$(mktemp -d /tmp/lua_ocibench.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
(cd "$TMP" && runc spec)
python3 - "$TMP/config.json" "$ROOTFS" <<'PY'
import json, sys
path, rootfs = sys.argv[1], sys.argv[2]
c = json.load(open(path))
c["root"] = {"path": rootfs, "readonly": True}
c["process"]["args"] = ["/bin/true"]
c["process"]["terminal"] = False
c["linux"]["resources"] = {"memory": {"limit": 64 << 20}, "cpu": {"quota": 50000, "period": 100000},
                           "pids": {"limit": 64}}
json.dump(c, open(path, "w"))
PY
SBX_CMD="$OCI --root $TMP/sbx-state run -b $TMP bench-sbx"
RUNC_CMD="runc --root $TMP/runc-state run -b $TMP bench-runc"
for c in "$SBX_CMD" "$RUNC_CMD"; do $c </dev/null >/dev/null || { echo "oci.sh: $c failed"; exit 1; }; done
hyperfine -N --style none --warmup 5 --runs "$RUNS" --export-json "$TMP/out.json" "$SBX_CMD" "$RUNC_CMD" >/dev/null
python3 - "$TMP/out.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["results"]
m = [x["median"] * 1000 for x in r]
print(f"sbx-oci run  median {m[0]:.2f} ms")
print(f"runc run     median {m[1]:.2f} ms")
print(f"ratio sbx-oci/runc = {m[0]/m[1]:.2f} (target <= 0.5)")
PY
