#!/usr/bin/env bash
# bench/all.sh: the whole comparison in one command, on this machine, each group in one run of its
# own script (interleaved rounds inside each):
#   start-up     bench/startup.sh  sbx default / --privileged / limits against bwrap, util-linux
#                                  unshare, the hand launcher's floor, runc (crun where it runs);
#                                  the work before any namespace; the phase breakdown of the trace
#   OCI          bench/oci.sh      sbx-oci run against runc and crun, and under podman
#   exec         bench/exec.sh     sbx exec NAME /bin/true against nsenter -a
#   density      bench/density.sh  N idle detached sandboxes: memory each, a supervisor's own
#                                  memory, sbx ps, sbx rm -f of all
#   churn        bench/churn.sh    N sandboxes with a network namespace back to back
#   notify       bench/notify.sh   a seccomp notify round trip through a Lua handler
#   bench/all.sh [SBX] [--quick]   (--quick: fewer runs, about a minute; figures are rougher)
# firejail and systemd-nspawn are timed where installed (neither is on these machines: said so).
set -euo pipefail
cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.."
SBX=./build/sbx QUICK=
while [[ $# -gt 0 ]]; do
  case "$1" in
    --quick) QUICK=1; shift ;;
    -h|--help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) SBX="$1"; shift ;;
  esac
done
echo "bench/all.sh $(date -u +%Y-%m-%dT%H:%MZ): $(nproc) cpus, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo), kernel $(uname -r), $(. /etc/os-release && echo "$PRETTY_NAME")"
echo "sbx $("$SBX" --version 2>/dev/null | head -n1); bwrap $(bwrap --version 2>/dev/null | cut -d' ' -f2); runc $(runc --version 2>/dev/null | head -n1 | cut -d' ' -f3); crun $(crun --version 2>/dev/null | head -n1 | cut -d' ' -f3)"
for tool in firejail systemd-nspawn; do command -v "$tool" >/dev/null || echo "note: $tool is not installed: no row"; done
section() { printf '\n== %s\n' "$1"; }
if [[ -n "$QUICK" ]]; then
  section "start-up (bench/startup.sh --runs 30 --rounds 3)"; bench/startup.sh "$SBX" --runs 30 --rounds 3 --warmup 3
  section "OCI (bench/oci.sh --runs 10 --podman-runs 4 --rounds 2)"; bench/oci.sh "$SBX-oci" --runs 10 --podman-runs 4 --rounds 2
  section "exec (bench/exec.sh --runs 30)"; bench/exec.sh "$SBX" --runs 30
  section "density (bench/density.sh -n 50)"; bench/density.sh "$SBX" -n 50
  section "churn (bench/churn.sh -n 200)"; bench/churn.sh "$SBX" -n 200
  section "notify (bench/notify.sh -n 20000)"; bench/notify.sh "$SBX" -n 20000
else
  section "start-up (bench/startup.sh)"; bench/startup.sh "$SBX"
  section "OCI (bench/oci.sh)"; bench/oci.sh "$SBX-oci"
  section "exec (bench/exec.sh)"; bench/exec.sh "$SBX"
  section "density (bench/density.sh -n 500)"; bench/density.sh "$SBX" -n 500
  section "churn (bench/churn.sh -n 1000)"; bench/churn.sh "$SBX" -n 1000
  section "notify (bench/notify.sh)"; bench/notify.sh "$SBX"
fi
