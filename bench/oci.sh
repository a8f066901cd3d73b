#!/usr/bin/env bash
# bench/oci.sh: an OCI runtime's whole container life, sbx-oci against runc and crun, in one run:
#   run     RUNTIME run -b BUNDLE ID (create, start, wait, delete) on one bundle made by `runc spec`
#           (busybox root, read-only, /bin/true, memory 64M + 0.5 CPU + 64 pids)
#   podman  podman run --rm --runtime RUNTIME with the same limits, on an image imported offline
#           from the same busybox root into a storage of the benchmark's own (cgroupfs, vfs,
#           --network none, nofile/nproc 1024)
#
#   bench/oci.sh [SBX_OCI] [--runs N] [--podman-runs M] [--rounds R]
#
# crun 1.8 refuses a hybrid cgroup host (v1 controllers with a cgroup2 at /sys/fs/cgroup/unified),
# so the whole benchmark runs in a private mount namespace (unshare -m --propagation private) with
# /sys/fs/cgroup/unified unmounted there: every runtime sees the same v1 host. The runs (default
# 50 per runtime, 20 under podman) are split over R interleaved rounds (default 5): each round
# times every command in turn, and the samples are pooled. hyperfine -N. Prints medians and the
# ratios (target sbx-oci/runc <= 0.5); a missing crun or podman is a note and its rows are left out.
# What podman makes is removed after: its storage, libpod_parent groups, /run/sbx-oci, /run/runc
# and /run/crun when this made them.
set -euo pipefail
cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.."
OCI=./build/sbx-oci
RUNS=50
PRUNS=20
ROUNDS=5
ARGS=("$@")
while [[ $# -gt 0 ]]; do
  case "$1" in
    --runs) RUNS="${2:?}"; shift 2 ;;
    --podman-runs) PRUNS="${2:?}"; shift 2 ;;
    --rounds) ROUNDS="${2:?}"; shift 2 ;;
    -h|--help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "oci.sh: unknown option $1" >&2; exit 2 ;;
    *) OCI="$1"; shift ;;
  esac
done
for n in "$RUNS" "$PRUNS" "$ROUNDS"; do
  [[ "$n" =~ ^[0-9]+$ && "$n" -ge 1 ]] || { echo "oci.sh: --runs, --podman-runs and --rounds take a positive number" >&2; exit 2; }
done
OCI="$(cd "$(dirname "$OCI")" && pwd)/$(basename "$OCI")"

if [[ -z "${SBX_OCI_BENCH_TMP:-}" ]]; then
  # the outside: what is there before, the private mount namespace, and the cleaning after
  for tool in runc hyperfine unshare python3; do
    command -v "$tool" >/dev/null || { echo "oci.sh: $tool is not installed (scripts/setup.sh installs it)"; exit 1; }
  done
  [[ $(id -u) -eq 0 ]] || { echo "oci.sh: needs root (an OCI runtime runs as root here)"; exit 1; }
  TMP=$(mktemp -d /tmp/sbx-ocibench.XXXXXX)
  hierarchies=$(awk '$3 == "cgroup" || $3 == "cgroup2" { print $2 }' /proc/self/mounts)
  had=""
  for h in $hierarchies; do [[ -d "$h/libpod_parent" ]] && had="$had $h/libpod_parent"; done
  for d in /run/sbx-oci /run/runc /run/crun; do [[ -d "$d" ]] && had="$had $d"; done
  cleanup() {
    for h in $hierarchies; do
      case " $had " in *" $h/libpod_parent "*) continue ;; esac
      [[ -d "$h/libpod_parent" ]] && { find "$h/libpod_parent" -depth -type d -exec rmdir {} + 2>/dev/null || true; }
    done
    for d in /run/sbx-oci /run/runc /run/crun; do
      case " $had " in *" $d "*) continue ;; esac
      [[ -d "$d" ]] && { rmdir "$d" 2>/dev/null || true; }
    done
    rm -rf "$TMP"
  }
  trap cleanup EXIT
  rc=0
  SBX_OCI_BENCH_TMP=$TMP unshare -m --propagation private "$BASH" "$0" "${ARGS[@]}" || rc=$?
  exit "$rc"
fi

# the inside: a private mount namespace
TMP=$SBX_OCI_BENCH_TMP
if mountpoint -q /sys/fs/cgroup/unified; then umount /sys/fs/cgroup/unified; fi
ROOTFS=$("${OCI%-oci}" -e 'io.write(assert(sbx.rootfs.busybox()))')
(cd "$TMP" && runc spec)
python3 bench/oci-bundle.py "$TMP/config.json" "$ROOTFS"
declare -A PATHS=([sbx-oci]="$OCI" [runc]="$(command -v runc)" [crun]="$(command -v crun || true)")
RUNTIMES=()
RUN_CMDS=()
for rt in sbx-oci runc crun; do
  [[ -n "${PATHS[$rt]}" ]] || { echo "note: crun is not installed (scripts/setup.sh installs it): no crun rows"; continue; }
  cmd="${PATHS[$rt]} --root $TMP/$rt-state run -b $TMP bench-$rt"
  if ! $cmd </dev/null >/dev/null 2>"$TMP/$rt.err"; then
    echo "oci.sh: $rt run failed here: $(head -c 300 "$TMP/$rt.err")"; exit 1
  fi
  RUNTIMES+=("$rt")
  RUN_CMDS+=("$cmd")
done
POD_CMDS=()
if command -v podman >/dev/null; then
  podman="podman --root $TMP/proot --runroot $TMP/prun --cgroup-manager=cgroupfs --storage-driver vfs"
  tar -C "$ROOTFS" -cf "$TMP/bb.tar" .
  $podman import -q "$TMP/bb.tar" sbxbench:1 >/dev/null
  flags="--network none --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 --memory 64m --cpus 0.5 --pids-limit 64"
  for rt in "${RUNTIMES[@]}"; do
    cmd="$podman --runtime ${PATHS[$rt]} run --rm $flags sbxbench:1 /bin/true"
    if ! $cmd </dev/null >/dev/null 2>"$TMP/podman-$rt.err"; then
      echo "oci.sh: podman with $rt failed here: $(head -c 300 "$TMP/podman-$rt.err")"; exit 1
    fi
    POD_CMDS+=("$cmd")
  done
else
  echo "note: podman is not installed (scripts/setup.sh installs it): no podman rows"
fi

echo "machine: $(nproc) cpus, kernel $(uname -r), load average $(cut -d" " -f1-3 /proc/loadavg)"
echo "timing:  hyperfine -N, $ROUNDS interleaved round(s); run: $RUNS runs each, podman: $PRUNS runs each"
per=$(( (RUNS + ROUNDS - 1) / ROUNDS ))
pper=$(( (PRUNS + ROUNDS - 1) / ROUNDS ))
for (( r = 0; r < ROUNDS; r++ )); do
  hyperfine -N --style none --warmup 3 --runs "$per" --export-json "$TMP/run.$r.json" "${RUN_CMDS[@]}" >/dev/null
  if [[ ${#POD_CMDS[@]} -gt 0 ]]; then
    hyperfine -N --style none --warmup 1 --runs "$pper" --export-json "$TMP/podman.$r.json" "${POD_CMDS[@]}" >/dev/null
  fi
done
if [[ ${#POD_CMDS[@]} -gt 0 ]]; then
  $podman rm -a -f >/dev/null 2>&1 || true
  $podman rmi -a -f >/dev/null 2>&1 || true
fi

python3 - "$TMP" "${RUNTIMES[@]}" <<'PY'
import glob, json, statistics, sys
tmp, rts = sys.argv[1], sys.argv[2:]
def medians(kind):
    pooled = {}
    for f in sorted(glob.glob(f"{tmp}/{kind}.*.json")):
        for i, r in enumerate(json.load(open(f))["results"]):
            pooled.setdefault(i, []).extend(t * 1000 for t in r["times"])
    return {rts[i]: statistics.median(t) for i, t in pooled.items()}
for kind, label in (("run", "run -b (create, start, wait, delete)"), ("podman", "podman run --rm --runtime")):
    m = medians(kind)
    if not m:
        continue
    print(f"{label}:")
    for rt in rts:
        print(f"  {rt:8s} median {m[rt]:7.2f} ms")
    for other in rts[1:]:
        target = " (target <= 0.5)" if kind == "run" and other == "runc" else ""
        print(f"  ratio sbx-oci/{other} = {m['sbx-oci'] / m[other]:.2f}{target}")
PY
