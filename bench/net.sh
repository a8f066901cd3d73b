#!/usr/bin/env bash
# bench/net.sh: networking figures of sbx, taken in one run on this machine.
#
#   bench/net.sh [SBX] [--runs N] [--seconds S] [--rounds R]
#
# 1. Start of a bridged sandbox (veth pair, address, route, /etc/hosts, on an existing sbx0):
#      sbx      SBX run --busybox --net bridge -- /bin/true
#    against the same plumbing done by hand with util-linux and iproute2 (no mount, pid or user
#    namespace, no files: a floor):
#      by hand  unshare --net sleep & ip link add ... type veth peer name eth0 netns PID;
#               ip link set ... master sbx0 up; nsenter -n ip addr/link/route; kill
#    hyperfine, --runs N (default 60) each; a background sandbox keeps sbx0 up throughout.
# 2. HTTP requests per second with wrk (1 thread, 8 connections, S seconds, default 5) against
#    busybox httpd on the host (127.0.0.1) and against the same httpd in a sandbox through a port
#    published on 127.0.0.1 (DNAT in nftables, route_localnet on sbx0); R interleaved rounds
#    (default 3); the ratio is sandbox / host (target: at least 0.9).
# Exits 0 whatever the figures are (a benchmark, not a test).
set -euo pipefail
cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.."

SBX=./build/sbx RUNS=60 SECONDS_EACH=5 ROUNDS=3
while [[ $# -gt 0 ]]; do
  case "$1" in
    --runs) RUNS="$2"; shift 2 ;;
    --seconds) SECONDS_EACH="$2"; shift 2 ;;
    --rounds) ROUNDS="$2"; shift 2 ;;
    -h|--help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) SBX="$1"; shift ;;
  esac
done
for t in hyperfine wrk ip nsenter unshare busybox; do
  command -v "$t" >/dev/null || { echo "bench/net.sh: $t is missing (scripts/setup.sh installs it)" >&2; exit 1; }
done
SBX=$(readlink -f "$SBX")
[[ $(id -u) == 0 ]] || { echo "bench/net.sh: needs root (host bridge, nftables)" >&2; exit 1; }

work=$(mktemp -d /tmp/sbx-bench-net.XXXXXX)
chmod 755 "$work"  # the sandbox (root only in its user namespace) reads the site
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# keeps sbx0 (and the nft table) up for the whole run
"$SBX" run --busybox --net bridge -- sleep 3600 & pids+=($!)
for _ in $(seq 50); do ip link show sbx0 >/dev/null 2>&1 && break; sleep 0.1; done

net=$("$SBX" -e 'io.write((assert(sbx.net.subnet()):match("^(%d+%.%d+)%.")))')  # sbx0's, e.g. 10.199
cat > "$work/by-hand.sh" <<SH
#!/bin/sh
unshare --net sleep 5 & pid=\$!
sleep 0.001
while [ "\$(readlink /proc/\$pid/ns/net)" = "\$(readlink /proc/self/ns/net)" ]; do :; done
v=bh\$pid
ip link add \$v type veth peer name eth0 netns \$pid
ip link set \$v master sbx0 up
nsenter -t \$pid -n ip addr add $net.250.2/16 dev eth0
nsenter -t \$pid -n ip link set eth0 up
nsenter -t \$pid -n ip route add default via $net.0.1
kill \$pid; wait \$pid 2>/dev/null
ip link del \$v 2>/dev/null || true
SH
chmod +x "$work/by-hand.sh"

echo "== start of a bridged sandbox (sbx0 kept up) =="
hyperfine -N --runs "$RUNS" --warmup 5 --export-json "$work/start.json" \
  -n sbx "$SBX run --busybox --net bridge -- /bin/true" \
  -n by-hand "$work/by-hand.sh" >/dev/null
python3 - "$work/start.json" <<'PY'
import json, sys, statistics
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
for k, v in r.items():
    print(f"  {k:8s} median {statistics.median(v['times'])*1e3:7.2f} ms  mean {v['mean']*1e3:7.2f} ms")
print(f"  sbx / by-hand = {statistics.median(r['sbx']['times']) / statistics.median(r['by-hand']['times']):.2f}")
PY

echo "== HTTP requests/s, wrk -t1 -c8 -d${SECONDS_EACH}s, busybox httpd =="
mkdir -p "$work/www"
head -c 1024 /dev/urandom | base64 > "$work/www/index.html"
HOST_PORT=$((30000 + $$ % 1000)) BOX_PORT=$((31000 + $$ % 1000))
busybox httpd -f -p 127.0.0.1:$HOST_PORT -h "$work/www" & pids+=($!)
"$SBX" run --busybox --ro-bind "$work/www:/www" -p 127.0.0.1:$BOX_PORT:80 -- httpd -f -p 80 -h /www & pids+=($!)
for _ in $(seq 50); do curl -sf -o /dev/null http://127.0.0.1:$BOX_PORT/ && break; sleep 0.1; done
host_all=() box_all=()
for r in $(seq "$ROUNDS"); do
  h=$(wrk -t1 -c8 -d"${SECONDS_EACH}s" http://127.0.0.1:$HOST_PORT/ | awk '/Requests\/sec/ { print $2 }')
  b=$(wrk -t1 -c8 -d"${SECONDS_EACH}s" http://127.0.0.1:$BOX_PORT/ | awk '/Requests\/sec/ { print $2 }')
  echo "  round $r: host $h req/s, sandbox (published 127.0.0.1 port) $b req/s"
  host_all+=("$h") box_all+=("$b")
done
python3 - "${host_all[*]}" "${box_all[*]}" <<'PY'
import sys, statistics
h = [float(x) for x in sys.argv[1].split()]; b = [float(x) for x in sys.argv[2].split()]
print(f"  median: host {statistics.median(h):.0f} req/s, sandbox {statistics.median(b):.0f} req/s, "
      f"sandbox / host = {statistics.median(b) / statistics.median(h):.2f} (target >= 0.9)")
PY
