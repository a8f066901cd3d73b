#!/bin/sh
# The host-hygiene guard: `snapshot DIR` records the host's mount table, cgroup directories,
# network links, named netns, nftables ruleset, forwarding sysctls, sbx's runtime state (network
# records, leases, owner records of dead processes) and sbx processes; `check DIR`
# fails when they differ afterwards.
set -eu
mode=$1 dir=$2
mkdir -p "$dir"
state() {
  # mount points with their fs type and source (mount ids change with every remount: left out)
  awk '{ sep = 0; for (i = 7; i <= NF; i++) if ($i == "-") { sep = i; break }
         print $5, $(sep + 1), $(sep + 2) }' /proc/self/mountinfo | sort > "$1/mounts"
  find /sys/fs/cgroup -mindepth 1 -maxdepth 4 -type d 2>/dev/null | sort > "$1/cgroups"
  ip -o link show 2>/dev/null | awk -F': ' '{ print $2 }' | sed 's/@.*//' | sort > "$1/links"
  ls /run/netns 2>/dev/null | sort > "$1/netns" || true
  { nft list ruleset 2>/dev/null || true; } > "$1/nft"
  for f in /proc/sys/net/ipv4/ip_forward /proc/sys/net/ipv4/conf/all/forwarding /proc/sys/net/ipv6/conf/all/forwarding \
           /proc/sys/net/ipv4/conf/all/route_localnet; do echo "$f $(cat $f 2>/dev/null)"; done > "$1/sysctl"
  # sbx's host-wide runtime state: network records, leases, owner records (of processes now gone)
  # (and what sbx keeps in /tmp for users: runtime, state and cache fallbacks, test scratch)
  { ls -A /run/sbx/net /run/sbx/net/bridges 2>/dev/null; cat /run/sbx/net/ipam/*.leases 2>/dev/null
    ls -d /tmp/sbx-* 2>/dev/null
    for f in /run/sbx/owners/*; do [ -e "$f" ] || continue; p=${f##*/}; [ -d /proc/$p ] || echo "owner record $p"; done
  } > "$1/runtime" || true
  # processes running an sbx binary or init (sbx-init), other than this script's own
  # (zombies are not running: this VM's PID 1 reaps orphans only after a few seconds)
  ps -eo stat=,comm= 2>/dev/null | awk '$1 !~ /^Z/ && $2 ~ /^sbx/ { print $2 }' | sort > "$1/procs" || true
}
case "$mode" in
  snapshot) state "$dir"; mkdir -p "$dir/before"; mv "$dir"/mounts "$dir"/cgroups "$dir"/links "$dir"/netns "$dir"/nft "$dir"/sysctl "$dir"/runtime "$dir"/procs "$dir/before/" ;;
  check)
    mkdir -p "$dir/after"
    state "$dir/after"
    bad=0
    for f in mounts cgroups links netns nft sysctl runtime; do
      if ! diff -u "$dir/before/$f" "$dir/after/$f" > "$dir/$f.diff"; then
        echo "host hygiene: $f changed during the test run:"; cat "$dir/$f.diff"; bad=1
      fi
    done
    # processes: only new ones count (one that ended during the run is not a leak)
    left=$(comm -13 "$dir/before/procs" "$dir/after/procs")
    if [ -n "$left" ]; then echo "host hygiene: sbx processes left running:"; echo "$left"; bad=1; fi
    [ $bad -eq 0 ] && echo "host hygiene: mounts, cgroups, links, netns, nftables, sysctls, sbx runtime state and processes unchanged"
    exit $bad ;;
  *) echo "usage: hygiene.sh snapshot|check DIR" >&2; exit 2 ;;
esac
