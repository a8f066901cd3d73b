#!/bin/sh
# The OCI runtime conformance suite (opencontainers/runtime-tools' validation programs) against
# sbx-oci and against runc in the same run, inside a private mount namespace (one of the programs
# leaves mounts behind otherwise). Built offline with Debian's Go from the tarball beside the
# project (../shared/third_party); its report goes to BUILD/conformance/report.txt.
#   tests/conformance.sh BUILD_DIR        exit 77 = skipped (tarball, go or runc missing)
# Passes when sbx-oci fails no check that runc passes, exits 0 wherever runc does, and passes at
# least as many checks in each program - except where README.md explains why not (ALLOWED).
set -eu
build=$(cd "$1" && pwd)
src=$(cd "$(dirname "$0")/.." && pwd)
tarball=$src/../shared/third_party/runtime-tools-260e151.tar.gz
[ -f "$tarball" ] || { echo "SKIP: $tarball is not there (the conformance suite is kept outside the project)"; exit 77; }
command -v go > /dev/null || { echo "SKIP: go is not installed (apt-get install golang-go)"; exit 77; }
runc=$(command -v runc || true)
[ -n "$runc" ] || { echo "SKIP: runc is not installed (apt-get install runc): the comparison needs it"; exit 77; }
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root (an OCI runtime runs as root here)"; exit 77; }
# A deliberate difference: a container without a mount namespace gets its mounts refused (they
# would change the host's mount table); runc makes them in the caller's namespace.
ALLOWED="linux_ns_itype"

work=$build/conformance
suite=$work/runtime-tools-260e151
if [ ! -x "$suite/runtimetest" ] || [ ! -x "$suite/validation/state/state.t" ]; then
  rm -rf "$suite"
  mkdir -p "$work"
  tar -xzf "$tarball" -C "$work"
  (cd "$suite" && GOFLAGS=-mod=vendor GOPROXY=off GOCACHE="$work/gocache" \
     make runtimetest validation-executables > "$work/build.log" 2>&1) ||
    { tail -n 20 "$work/build.log"; echo "the suite did not build (log: $work/build.log)"; exit 1; }
fi

before=$(mktemp)
ls -d /tmp/ocitest* 2>/dev/null | sort > "$before" || true
# the cgroup programs make testdir/cgrouptest/container under the caller's groups; runc removes only
# the leaf (sbx-oci removes the parents it made): the groups made during this run go, deepest first
cgroups_before=$(mktemp)
find /sys/fs/cgroup -type d \( -name testdir -o -name cgrouptest \) 2>/dev/null | sort > "$cgroups_before"
made_sbx_root=; [ -e /run/sbx-oci ] || made_sbx_root=1
made_runc_root=; [ -e /run/runc ] || made_runc_root=1
cleanup() {
  # the programs leave their bundles under /tmp: only the ones made during this run go
  ls -d /tmp/ocitest* 2>/dev/null | sort | comm -13 "$before" - | while read -r d; do rm -rf "$d"; done
  rm -f "$before"
  find /sys/fs/cgroup -type d \( -name testdir -o -name cgrouptest \) 2>/dev/null | sort |
    comm -13 "$cgroups_before" - | awk '{ print length($0), $0 }' | sort -rn | cut -d' ' -f2- |
    while read -r d; do rmdir "$d" || echo "conformance: a group left by the suite is in use: $d"; done
  rm -f "$cgroups_before"
  [ -z "$made_sbx_root" ] || rm -rf /run/sbx-oci
  [ -z "$made_runc_root" ] || rm -rf /run/runc
}
trap cleanup EXIT INT TERM

# both runtimes, program by program, in one private mount namespace
rm -rf "$work/out-sbx" "$work/out-runc"
mkdir -p "$work/out-sbx" "$work/out-runc"
unshare -m --propagation private sh -c '
  cd "$1"
  for t in validation/*/*.t; do
    n=$(basename "$t" .t)
    for rt in sbx runc; do
      if [ $rt = sbx ]; then bin=$2; else bin=$3; fi
      RUNTIME=$bin timeout 120 "$t" > "$4/out-$rt/$n.tap" 2> "$4/out-$rt/$n.err" < /dev/null
      echo $? > "$4/out-$rt/$n.rc"
    done
  done' conformance "$suite" "$build/sbx-oci" "$runc" "$work"

report=$work/report.txt
bad=0
count() { grep -c "$1" "$2" || true; }
{
  printf '%-34s %22s   %22s\n' program "sbx-oci rc ok/not ok/skip" "runc rc ok/not ok/skip"
  for f in "$work"/out-sbx/*.tap; do
    n=$(basename "$f" .tap)
    r=$work/out-runc/$n.tap
    s_rc=$(cat "$work/out-sbx/$n.rc"); r_rc=$(cat "$work/out-runc/$n.rc")
    s_ok=$(count '^ok' "$f"); s_no=$(count '^not ok' "$f"); s_sk=$(count '# SKIP' "$f")
    r_ok=$(count '^ok' "$r"); r_no=$(count '^not ok' "$r"); r_sk=$(count '# SKIP' "$r")
    note=
    case " $ALLOWED " in *" $n "*) note="  (explained in README)";; esac
    if [ -z "$note" ]; then
      # a check runc passes that sbx-oci fails (by number and name, in runc's "ok" lines: a program
      # runc did not run to the end passes nothing); an exit runc does not make; fewer checks passed
      grep '^ok' "$r" | sed 's/^ok //' | sort -u > "$work/r.tmp"
      extra=$(grep '^not ok' "$f" | sed 's/^not ok //' | sort -u | comm -12 - "$work/r.tmp" |
              sed 's/^[0-9]* - //')
      if [ -n "$extra" ]; then note="  FAILS WHAT RUNC PASSES: $(echo "$extra" | head -n 3 | tr '\n' ';')"; fi
      if [ "$r_rc" = 0 ] && [ "$s_rc" != 0 ]; then note="$note  EXIT $s_rc (runc 0)"; fi
      if [ "$r_rc" = 0 ] && [ "$s_ok" -lt "$r_ok" ]; then note="$note  FEWER CHECKS PASSED"; fi
    fi
    printf '%-34s %4s %6s/%s/%s %12s %6s/%s/%s%s\n' "$n" "$s_rc" "$s_ok" "$s_no" "$s_sk" "$r_rc" "$r_ok" "$r_no" "$r_sk" "$note"
  done
  printf 'total checks: sbx-oci %s ok, %s not ok, %s skipped; runc %s ok, %s not ok, %s skipped\n' \
    "$(cat "$work"/out-sbx/*.tap | count '^ok' -)" "$(cat "$work"/out-sbx/*.tap | count '^not ok' -)" \
    "$(cat "$work"/out-sbx/*.tap | count '# SKIP' -)" "$(cat "$work"/out-runc/*.tap | count '^ok' -)" \
    "$(cat "$work"/out-runc/*.tap | count '^not ok' -)" "$(cat "$work"/out-runc/*.tap | count '# SKIP' -)"
  printf 'programs exiting 0: sbx-oci %s, runc %s (of %s)\n' "$(grep -lx 0 "$work"/out-sbx/*.rc | wc -l)" \
    "$(grep -lx 0 "$work"/out-runc/*.rc | wc -l)" "$(ls "$work"/out-sbx/*.rc | wc -l)"
} > "$report"
rm -f "$work/r.tmp"
cat "$report"
if grep -q 'FAILS WHAT RUNC PASSES\|EXIT [0-9]* (runc 0)\|FEWER CHECKS' "$report"; then
  echo "sbx-oci falls short of runc above (outputs: $work/out-sbx/NAME.tap and .err)"; exit 1
fi
