#!/usr/bin/env bash
# bench/exec.sh: entering a running sandbox, in one run on this machine:
#   sbx exec   SBX exec NAME /bin/true        (all its namespaces, its cgroup, root inside)
#   nsenter    nsenter -t PID -a /bin/true    (util-linux: the namespaces only)
# against one long-running busybox sandbox (sbx run -d, 64M memory limit). hyperfine -N, --runs N
# (default 100). Exits 0 whatever the figures are.
set -euo pipefail
cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.."
SBX=./build/sbx RUNS=100
while [[ $# -gt 0 ]]; do
  case "$1" in
    --runs) RUNS="$2"; shift 2 ;;
    -h|--help) sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) SBX="$1"; shift ;;
  esac
done
command -v hyperfine >/dev/null || { echo "bench/exec.sh: hyperfine is missing" >&2; exit 1; }
SBX=$(readlink -f "$SBX")
name="bench-exec-$$"
"$SBX" run --busybox -d --name "$name" --memory 64M -- sleep 3600 >/dev/null
trap '"$SBX" rm -f "$name" >/dev/null' EXIT
pid=$("$SBX" inspect "$name" | python3 -c 'import json, sys; print(json.load(sys.stdin)[0]["pid"])')
work=$(mktemp -d /tmp/sbx-bench-exec.XXXXXX)
hyperfine -N --runs "$RUNS" --warmup 5 --export-json "$work/exec.json" \
  -n "sbx exec" "$SBX exec $name /bin/true" \
  -n nsenter "nsenter -t $pid -a /bin/true" >/dev/null
python3 - "$work/exec.json" <<'PY'
import json, sys, statistics
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
for k, v in r.items():
    print(f"  {k:9s} median {statistics.median(v['times'])*1e3:6.2f} ms  mean {v['mean']*1e3:6.2f} ms")
print(f"  sbx exec / nsenter = {statistics.median(r['sbx exec']['times']) / statistics.median(r['nsenter']['times']):.2f}")
PY
rm -rf "$work"
