#!/usr/bin/env bash
# bench/notify.sh: the cost of a seccomp notify round trip (issue 15): mkdir(2) calls per second
# inside a sandbox with the default filter (the call allowed: EEXIST from the kernel), and with
# mkdir notified to a Lua handler that answers each one (deny EEXIST), in one run, 3 rounds.
#   bench/notify.sh [SBX] [-n CALLS]     (default 200000 calls; bench/all.sh --quick uses 20000)
set -euo pipefail
cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.."
SBX=./build/sbx N=200000
while [[ $# -gt 0 ]]; do
  case "$1" in
    -n) N="${2:?}"; shift 2 ;;
    -h|--help) sed -n '2,5p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) SBX="$1"; shift ;;
  esac
done
SBX=$(readlink -f "$SBX")
PROBE=$(readlink -f "${SBX_PROBE:-$(dirname "$SBX")/sbx-probe}")
[[ -x "$PROBE" ]] || { echo "bench/notify.sh: no probe at $PROBE (build sbx-probe, or set SBX_PROBE)"; exit 1; }
SBX_PROBE="$PROBE" N="$N" "$SBX" -e '
local probe, n = os.getenv("SBX_PROBE"), os.getenv("N")
local root = assert(sbx.rootfs.busybox())
local plain = sbx.container{ rootfs = root, mounts = { sbx.ro_bind(probe, "/tmp/probe") } }
local handled = 0
local notified = sbx.container{ rootfs = root, mounts = { sbx.ro_bind(probe, "/tmp/probe") },
  seccomp = { notify = { "mkdir" }, on_call = function() handled = handled + 1; return "deny", "EEXIST" end } }
local rates = { plain = {}, notified = {} }
for round = 1, 3 do
  for _, which in ipairs({ "plain", "notified" }) do
    local box = which == "plain" and plain or notified
    local st = assert(box:run{ "/tmp/probe", "mkdirs", n, stdout = "pipe" })
    rates[which][#rates[which] + 1] = tonumber(st.stdout:match("^(%d+) calls/s"))
  end
end
local function median(t) table.sort(t); return t[2] end
local a, b = median(rates.plain), median(rates.notified)
print(("mkdir(2), %s calls per run, median of 3 rounds:"):format(n))
print(("  default filter (allowed in the kernel)   %9.0f calls/s  %6.2f us each"):format(a, 1e6 / a))
print(("  notified, answered by a Lua handler      %9.0f calls/s  %6.2f us each"):format(b, 1e6 / b))
print(("  a notify round trip costs %.1f us (%.0fx the plain call); %d calls handled"):format(1e6 / b - 1e6 / a, a / b, handled))
'
