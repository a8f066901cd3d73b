#!/usr/bin/env bash
# bench/density.sh: N idle detached sandboxes at once (sbx run -d --busybox -- sleep 3600):
#   the host memory each costs   (MemTotal - MemAvailable after, minus before) / N
#   a supervisor's own memory    Pss_Anon and Rss of /proc/PID/smaps_rollup (median over all N)
#   sbx ps                       the time to list all N
#   sbx rm -f                    the time to remove all N in one command, and how many were left
#   the kernel's floor           the same memory figure for N util-linux `unshare -U -r -m -u -i -p
#                                -n -C -f --mount-proc sleep 3600` (the same namespaces, no mounts
#                                beyond /proc, no supervisor of sbx's): what the namespaces and
#                                the processes cost before sbx adds anything
#
#   bench/density.sh [SBX] [-n N]      (default N 500; bench/all.sh --quick uses 50)
# Every sandbox is named bench-density-PID-I and removed on every exit path. Exits 0 whatever the
# figures are; non-zero when a sandbox does not start.
set -euo pipefail
cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.."
SBX=./build/sbx N=500
while [[ $# -gt 0 ]]; do
  case "$1" in
    -n) N="${2:?}"; shift 2 ;;
    -h|--help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) SBX="$1"; shift ;;
  esac
done
SBX=$(readlink -f "$SBX")
prefix="bench-density-$$"
names=()
floor_pids=()
cleanup() {
  [[ ${#names[@]} -eq 0 ]] || "$SBX" rm -f "${names[@]}" >/dev/null 2>&1 || true
  [[ ${#floor_pids[@]} -eq 0 ]] || kill -KILL "${floor_pids[@]}" 2>/dev/null || true
}
trap cleanup EXIT INT TERM
used_kb() { awk '/^MemTotal:/ { t = $2 } /^MemAvailable:/ { a = $2 } END { print t - a }' /proc/meminfo; }
now() { date +%s.%N; }

sync; sleep 1
before=$(used_kb)
t0=$(now)
for (( i = 0; i < N; i++ )); do
  "$SBX" run --busybox -d --name "$prefix-$i" -- sleep 3600 >/dev/null
  names+=("$prefix-$i")
done
t1=$(now)
sleep 2
after=$(used_kb)
sups=$("$SBX" inspect "${names[@]}" | python3 -c 'import json, sys; print(" ".join(str(x["supervisor"]) for x in json.load(sys.stdin)))')
python3 - "$sups" <<'PY'
import statistics, sys
pss, rss = [], []
for pid in sys.argv[1].split():
    try:
        for line in open("/proc/%s/smaps_rollup" % pid):
            k, v = line.split(":", 1)
            if k == "Pss_Anon": pss.append(int(v.split()[0]))
            if k == "Rss": rss.append(int(v.split()[0]))
    except OSError:
        pass
print("supervisors: %d read, Pss_Anon median %d kB (target <= 100), Rss median %d kB"
      % (len(pss), statistics.median(pss) if pss else -1, statistics.median(rss) if rss else -1))
PY
t2=$(now)
listed=$("$SBX" ps | grep -c "^$prefix-" || true)
t3=$(now)
"$SBX" rm -f "${names[@]}" >/dev/null
t4=$(now)
names=()
left=$("$SBX" ps | grep -c "^$prefix-" || true)
python3 - "$N" "$before" "$after" "$t0" "$t1" "$t2" "$t3" "$t4" "$listed" "$left" <<'PY'
import sys
n, before, after, t0, t1, t2, t3, t4, listed, left = sys.argv[1:]
n = int(n)
print("sandboxes: %d started in %.1f s (%.1f ms each)" % (n, float(t1) - float(t0), (float(t1) - float(t0)) * 1000 / n))
print("host memory per sandbox: %.3f MB (target <= 0.35)" % ((int(after) - int(before)) / 1024.0 / n))
print("sbx ps: %d listed in %.3f s (target < 0.5)" % (int(listed), float(t3) - float(t2)))
print("sbx rm -f of all: %.2f s (target < 10), %s left" % (float(t4) - float(t3), left))
PY
if command -v unshare >/dev/null; then
  sync; sleep 1
  before=$(used_kb)
  for (( i = 0; i < N; i++ )); do
    # (--kill-child: the sleep is PID 1 of its namespace and outlives a killed unshare otherwise)
    unshare -U -r -m -u -i -p -n -C -f --kill-child --mount-proc sleep 3600 </dev/null >/dev/null 2>&1 &
    floor_pids+=("$!")
  done
  sleep 2
  after=$(used_kb)
  kill -KILL "${floor_pids[@]}" 2>/dev/null || true
  wait "${floor_pids[@]}" 2>/dev/null || true
  floor_pids=()
  python3 -c 'import sys; n, b, a = map(int, sys.argv[1:]); print("the floor, util-linux unshare with the same namespaces: %.3f MB per sandbox" % ((a - b) / 1024.0 / n))' "$N" "$before" "$after"
fi
