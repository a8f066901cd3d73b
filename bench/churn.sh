#!/usr/bin/env bash
# bench/churn.sh: N sandboxes with a network namespace of their own, back to back (sbx run
# --busybox /bin/true: user, mnt, uts, ipc, pid, net, cgroup namespaces), each timed: the median
# and 99th percentile of the first 100 against the last 100 (flat: no slow-down as the kernel's
# deferred namespace clean-up piles up), and the host's network namespaces (lsns -t net) and links
# (ip -o link) against their count before, polled for up to 5 s after the last run.
#
#   bench/churn.sh [SBX] [-n N]      (default N 1000; bench/all.sh --quick uses 200)
set -euo pipefail
cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.."
SBX=./build/sbx N=1000
while [[ $# -gt 0 ]]; do
  case "$1" in
    -n) N="${2:?}"; shift 2 ;;
    -h|--help) sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) SBX="$1"; shift ;;
  esac
done
SBX=$(readlink -f "$SBX")
python3 - "$SBX" "$N" <<'PY'
import statistics, subprocess, sys, time
sbx, n = sys.argv[1], int(sys.argv[2])
def counts():
    ns = len(subprocess.run(["lsns", "-t", "net", "-n", "-o", "NS"], capture_output=True, text=True).stdout.split())
    links = len(subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout.splitlines())
    return ns, links
base = counts()
times = []
for i in range(n):
    t0 = time.perf_counter()
    rc = subprocess.call([sbx, "run", "--busybox", "/bin/true"], stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    times.append((time.perf_counter() - t0) * 1000)
    if rc != 0:
        sys.exit("churn: run %d exited %d" % (i, rc))
def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100.0 * (len(xs) - 1))))]
k = min(100, n // 2)
first, last = times[:k], times[-k:]
print("runs: %d back to back (python3 subprocess timing, its own fork/exec included)" % n)
print("first %d: p50 %.2f ms, p99 %.2f ms" % (k, statistics.median(first), pct(first, 99)))
print("last  %d: p50 %.2f ms, p99 %.2f ms (last/first p50 %.2f)" % (k, statistics.median(last), pct(last, 99),
                                                                  statistics.median(last) / statistics.median(first)))
t0 = time.time()
while True:
    now = counts()
    if now == base or time.time() - t0 > 5:
        break
    time.sleep(0.1)
print("host net namespaces %d -> %d, links %d -> %d, %.1f s after the last run"
      % (base[0], now[0], base[1], now[1], time.time() - t0))
PY
