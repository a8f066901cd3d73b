#!/usr/bin/env bash
# bench/startup.sh: sandbox start-up time of sbx vs bubblewrap vs util-linux unshare, measured in
# one run on the same machine, all three running busybox's /bin/true inside sbx's busybox rootfs.
#
#   bench/startup.sh [SBX] [--runs N] [--warmup N] [--rounds R]
#
# Also timed: the hand launcher's floor (bench/launcher.c, built with cc), /bin/true and sbx run
# --print-spec (the work before any namespace). After the table: where the time of the default
# sbx row goes, from 20 runs of sbx run --trace-startup (each phase's median).
#
# SBX is the sbx binary (default: ./build/sbx relative to the repo root). The three commands:
#   sbx      SBX run --rootfs ROOTFS /bin/true       (default isolation: user, mnt, uts, ipc,
#                                                     pid + init, net, cgroup namespaces, and the
#                                                     default hardening: seccomp, caps, masks)
#   sbx_bare SBX run --rootfs ROOTFS --privileged /bin/true (the namespaces only, as bwrap)
#   bwrap    bwrap --unshare-all --bind ROOTFS / --proc /proc --dev /dev /bin/true
#   unshare  unshare -U -r -m -u -i -p -n -C -f --root ROOTFS /bin/true
# Note on unshare: --root ROOTFS works as is (it chroot()s into ROOTFS after unsharing; no extra
# flags are needed). It mounts no /proc or /dev and does a chroot rather than a pivot_root, so it
# does less work than the other two: treat it as a floor for "just create the namespaces".
#
# --runs N (default 100) runs per tool, split over --rounds R (default 5) interleaved rounds, each
# round preceded by --warmup N (default 10) untimed runs.
# Uses hyperfine (-N, no shell) when installed, otherwise a python3 loop (fork+exec+wait per run);
# HYPERFINE=/path/to/hyperfine picks the binary, HYPERFINE= (empty) forces the python3 loop.
# Prints median / mean / stddev per tool and the ratios. Exits 0 whatever the ratios are (it's a
# benchmark, not a test); non-zero if a command fails to run /bin/true or an argument is wrong.
set -euo pipefail

cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.."

RUNS=100
WARMUP=10
ROUNDS=5
SBX=./build/sbx
TARGET=0.60

usage() { sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; }

while [[ $# -gt 0 ]]; do
  case "$1" in
    --runs) RUNS="${2:?--runs needs a number}"; shift 2 ;;
    --runs=*) RUNS="${1#*=}"; shift ;;
    --warmup) WARMUP="${2:?--warmup needs a number}"; shift 2 ;;
    --warmup=*) WARMUP="${1#*=}"; shift ;;
    --rounds) ROUNDS="${2:?--rounds needs a number}"; shift 2 ;;
    --rounds=*) ROUNDS="${1#*=}"; shift ;;
    -h|--help) usage; exit 0 ;;
    -*) echo "startup.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
    *) SBX="$1"; shift ;;
  esac
done
[[ "$RUNS" =~ ^[0-9]+$ && "$RUNS" -ge 1 ]] || { echo "startup.sh: --runs must be a positive integer" >&2; exit 2; }
[[ "$ROUNDS" =~ ^[0-9]+$ && "$ROUNDS" -ge 1 ]] || { echo "startup.sh: --rounds must be a positive integer" >&2; exit 2; }
(( ROUNDS <= RUNS )) || ROUNDS=$RUNS
[[ "$WARMUP" =~ ^[0-9]+$ ]] || { echo "startup.sh: --warmup must be a non-negative integer" >&2; exit 2; }

command -v python3 >/dev/null || { echo "startup.sh: python3 is required" >&2; exit 2; }
[[ -x "$SBX" ]] || { echo "startup.sh: sbx binary '$SBX' not found or not executable (build it, or pass its path)" >&2; exit 2; }
SBX="$(readlink -f "$SBX")"
for tool in bwrap unshare; do
  command -v "$tool" >/dev/null || { echo "startup.sh: $tool is not installed" >&2; exit 2; }
done

if ! ROOTFS="$("$SBX" -e 'print(assert(sbx.rootfs.busybox()))' 2>&1)"; then
  echo "startup.sh: cannot get the busybox rootfs from sbx:" >&2
  echo "$ROOTFS" >&2
  exit 1
fi
ROOTFS="$(tail -n1 <<<"$ROOTFS")"
[[ -x "$ROOTFS/bin/true" ]] || { echo "startup.sh: $ROOTFS/bin/true is missing" >&2; exit 1; }

TMP="$(mktemp -d "${TMPDIR:-/tmp}/sbx-bench.XXXXXX")"
trap 'rm -rf "$TMP"' EXIT

NAMES=(sbx sbx_bare bwrap unshare)
# shellcheck disable=SC2034  # read through the nameref in cmd_of
CMD_sbx=("$SBX" run --rootfs "$ROOTFS" /bin/true)
# sbx without its default hardening (no seccomp filter, capabilities, masked/read-only paths):
# the same work bwrap does by default
# shellcheck disable=SC2034
CMD_sbx_bare=("$SBX" run --rootfs "$ROOTFS" --privileged /bin/true)
# shellcheck disable=SC2034
CMD_bwrap=(bwrap --unshare-all --bind "$ROOTFS" / --proc /proc --dev /dev /bin/true)
# shellcheck disable=SC2034
CMD_unshare=(unshare -U -r -m -u -i -p -n -C -f --root "$ROOTFS" /bin/true)

# With limits (memory 64M, 0.5 CPU, 64 pids): sbx against an OCI runtime given the same limits,
# crun where it works (it refuses cgroup v1/hybrid hosts), else runc. The bundle uses the same
# busybox root, read-only, with the runtime's default namespaces.
# shellcheck disable=SC2034
CMD_sbx_limits=("$SBX" run --rootfs "$ROOTFS" --memory 64M --cpus 0.5 --pids 64 /bin/true)
OCI=""
mkdir -p "$TMP/bundle"
for rt in crun runc; do
  command -v "$rt" >/dev/null || continue
  (cd "$TMP/bundle" && rm -f config.json && "$rt" spec >/dev/null 2>&1) || continue
  python3 bench/oci-bundle.py "$TMP/bundle/config.json" "$ROOTFS"
  if "$rt" run -b "$TMP/bundle" "sbx-bench-$$" </dev/null >/dev/null 2>"$TMP/$rt.err"; then OCI=$rt; break; fi
  echo "note:    $rt does not run here: $(head -c 200 "$TMP/$rt.err")"
done
if [[ -n "$OCI" ]]; then
  NAMES+=(sbx_limits "$OCI")
  # shellcheck disable=SC2034
  CMD_crun=(crun run -b "$TMP/bundle" "sbx-bench-$$")
  # shellcheck disable=SC2034
  CMD_runc=(runc run -b "$TMP/bundle" "sbx-bench-$$")
else
  echo "note:    neither crun nor runc runs here: no limits row"
fi

# The floor a hand-written launcher reaches (bench/launcher.c: clone3 with the namespaces, private
# root, bind, proc, pivot_root, detach, execve), and the work before any namespace exists: sbx's
# --print-spec (binary, Lua, the plan) against a bare /bin/true.
if command -v cc >/dev/null && cc -O2 -o "$TMP/launcher" bench/launcher.c 2>"$TMP/cc.err"; then
  NAMES+=(launcher)
  # shellcheck disable=SC2034
  CMD_launcher=("$TMP/launcher" "$ROOTFS" /bin/true)
else
  echo "note:    no hand launcher row (cc missing or failed: $(head -c 200 "$TMP/cc.err" 2>/dev/null))"
fi
NAMES+=(true sbx_spec)
# shellcheck disable=SC2034
CMD_true=(/bin/true)
# shellcheck disable=SC2034
CMD_sbx_spec=("$SBX" run --rootfs "$ROOTFS" --print-spec /bin/true)

# argv of tool $1 into the array CMD (bash 4.3 namerefs).
cmd_of() { local -n src="CMD_$1"; CMD=("${src[@]}"); }
# The same argv as one string for hyperfine -N, which splits it with POSIX shell-word rules.
cmd_string() { cmd_of "$1"; printf '%q ' "${CMD[@]}"; }

# Each command must run /bin/true successfully once before anything is timed.
failed=0
for n in "${NAMES[@]}"; do
  cmd_of "$n"
  rc=0
  out="$("${CMD[@]}" 2>&1 </dev/null)" || rc=$?
  if [[ $rc -ne 0 ]]; then
    echo "startup.sh: $n failed (exit $rc): ${CMD[*]}" >&2
    if [[ -n "$out" ]]; then printf '    %s\n' "$out" >&2; fi
    failed=1
  fi
done
[[ $failed -eq 0 ]] || exit 1

echo "rootfs:  $ROOTFS"
echo "sbx:     $SBX"
echo "machine: $(nproc) cpus, kernel $(uname -r), load average $(cut -d" " -f1-3 /proc/loadavg)"
# The runs are split into ROUNDS rounds; each round times every tool in turn (with its own warmup),
# so slow drift in background load (this is often a shared VM) hits all three tools alike instead
# of whichever happened to be timed last. The per-round samples are pooled before the statistics.
per_round=$(( (RUNS + ROUNDS - 1) / ROUNDS ))

time_hyperfine() {  # NAME OUT.json RUNS
  if ! "$HYPERFINE" -N --style none --warmup "$WARMUP" --runs "$3" \
      --export-json "$2" "$(cmd_string "$1")" >"$TMP/$1.log" 2>&1; then
    echo "startup.sh: hyperfine failed for $1:" >&2
    sed 's/^/    /' "$TMP/$1.log" >&2
    exit 1
  fi
}

time_python() {  # NAME OUT.json RUNS: the same JSON shape as hyperfine's export
  cmd_of "$1"
  if ! python3 - "$WARMUP" "$3" "$2" "${CMD[@]}" <<'EOF'; then
import json, subprocess, sys, time
warmup, runs, out, argv = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4:]
devnull = subprocess.DEVNULL
def once():
    t0 = time.perf_counter()
    rc = subprocess.call(argv, stdin=devnull, stdout=devnull, stderr=devnull)
    t = time.perf_counter() - t0
    if rc != 0:
        sys.exit("command exited %d: %s" % (rc, " ".join(argv)))
    return t
for _ in range(warmup):
    once()
times = [once() for _ in range(runs)]
json.dump({"results": [{"command": " ".join(argv), "times": times}]}, open(out, "w"))
EOF
    echo "startup.sh: timing loop failed for $1" >&2
    exit 1
  fi
}

HYPERFINE="${HYPERFINE-hyperfine}"
if [[ -n "$HYPERFINE" ]] && command -v "$HYPERFINE" >/dev/null; then
  timer=time_hyperfine
  echo "timing:  hyperfine -N, warmup $WARMUP per round, $ROUNDS round(s) x $per_round runs each"
else
  timer=time_python
  echo "timing:  no hyperfine: python3 subprocess loop (its own fork/exec overhead is included),"
  echo "         warmup $WARMUP per round, $ROUNDS round(s) x $per_round runs each"
fi
echo
for (( r = 0; r < ROUNDS; r++ )); do
  for n in "${NAMES[@]}"; do
    "$timer" "$n" "$TMP/$n.$r.json" "$per_round"
  done
done

python3 - "$TMP" "$TARGET" "${NAMES[@]}" <<'EOF'
import glob, json, statistics, sys
tmp, target, names = sys.argv[1], float(sys.argv[2]), sys.argv[3:]
stats = {}
for n in names:
    times = [t * 1000.0 for f in sorted(glob.glob("%s/%s.*.json" % (tmp, n)))
             for t in json.load(open(f))["results"][0]["times"]]
    stats[n] = dict(
        median=statistics.median(times),
        mean=statistics.fmean(times),
        stddev=statistics.stdev(times) if len(times) > 1 else 0.0,
        min=min(times),
        max=max(times),
        runs=len(times),
    )
print("%-10s %10s %10s %10s %10s %10s %6s" % ("tool", "median ms", "mean ms", "stddev", "min ms", "max ms", "runs"))
for n in names:
    s = stats[n]
    print("%-10s %10.2f %10.2f %10.2f %10.2f %10.2f %6d"
          % (n, s["median"], s["mean"], s["stddev"], s["min"], s["max"], s["runs"]))
print()
r_bwrap = stats["sbx"]["median"] / stats["bwrap"]["median"]
r_unshare = stats["sbx"]["median"] / stats["unshare"]["median"]
print("ratio sbx/bwrap = %.2f (target <= %.2f)%s"
      % (r_bwrap, target, "" if r_bwrap <= target else "  [target missed]"))
print("ratio sbx/unshare = %.2f" % r_unshare)
print("ratio sbx_bare/bwrap = %.2f (sbx --privileged: no seccomp, caps or masks, like bwrap's defaults)"
      % (stats["sbx_bare"]["median"] / stats["bwrap"]["median"]))
if "launcher" in stats:
    print("ratio sbx/launcher = %.2f (target <= 1.60; the hand launcher: %.2f ms)"
          % (stats["sbx"]["median"] / stats["launcher"]["median"], stats["launcher"]["median"]))
print("work before any namespace: sbx run --print-spec %.2f ms - /bin/true %.2f ms = %.2f ms (target <= 0.30)"
      % (stats["sbx_spec"]["median"], stats["true"]["median"], stats["sbx_spec"]["median"] - stats["true"]["median"]))
oci = [n for n in names if n in ("crun", "runc")]
if oci:
    for tool in oci:
        # issue 14's P2: at most 0.25x runc's run of the same bundle, 0.5x crun's where crun runs
        target = 0.25 if tool == "runc" else 0.50
        r_oci = stats["sbx_limits"]["median"] / stats[tool]["median"]
        print("ratio sbx_limits/%s = %.2f (target <= %.2f)%s"
              % (tool, r_oci, target, "" if r_oci <= target else "  [target missed]"))
EOF

# Where sbx's time goes: the start-up trace of TRACE_RUNS default runs (sbx run --trace-startup),
# each phase's median duration, in the order of the phases.
TRACE_RUNS=20
for (( i = 0; i < TRACE_RUNS; i++ )); do
  "$SBX" run --trace-startup --rootfs "$ROOTFS" /bin/true 2>"$TMP/trace.$i" </dev/null >/dev/null
done
python3 - "$TMP" "$TRACE_RUNS" <<'EOF'
import re, statistics, sys
tmp, n = sys.argv[1], int(sys.argv[2])
order, deltas, ends = [], {}, []
line = re.compile(r"^\s+([\d.]+)\s+\+([\d.]+)\s+\d+\s+(.*)$")
for i in range(n):
    seen = {}
    for text in open("%s/trace.%d" % (tmp, i)):
        m = line.match(text)
        if not m:
            continue
        phase = m.group(3).strip()
        seen[phase] = seen.get(phase, 0) + 1
        key = phase if seen[phase] == 1 else "%s (%d)" % (phase, seen[phase])
        if key not in deltas:
            order.append(key)
            deltas[key] = []
        deltas[key].append(float(m.group(2)))
        if phase == "end":
            ends.append(float(m.group(1)))
print()
print("where sbx run's time goes (median of %d traced runs of the default sbx row; ms):" % n)
for key in order:
    print("  %7.3f  %s" % (statistics.median(deltas[key]), key))
if ends:
    print("  %7.3f  total, exec to end (the trace's own cost included)" % statistics.median(ends))
EOF
