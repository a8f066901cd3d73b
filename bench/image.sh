#!/usr/bin/env bash
# bench/image.sh: layer import and commit throughput on a 100 MB layer, against tar on the
# same data, in one run. Import: `sbx image import-layer L.tar` vs `tar -xf L.tar`. Commit:
# `sbx image from-dir DIR` (tar + digest + store) vs `tar -cf` of DIR.
#   bench/image.sh [SBX] [--mb N] [--runs N]
set -euo pipefail
cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.."
SBX=./build/sbx MB=100 RUNS=3
while [[ $# -gt 0 ]]; do
  case "$1" in
    --mb) MB=$2; shift 2 ;;
    --runs) RUNS=$2; shift 2 ;;
    *) SBX=$1; shift ;;
  esac
done
SBX=$(readlink -f "$SBX")
W=$(mktemp -d /var/tmp/sbx-image-bench.XXXXXX)
trap 'rm -rf "$W"' EXIT
mkdir -p "$W/data"
# 100 MB in files of 64 KB to 4 MB (incompressible), a few directories
python3 - "$W/data" "$MB" <<'PY'
import os, random, sys
root, mb = sys.argv[1], int(sys.argv[2])
random.seed(1)
left, i = mb << 20, 0
while left > 0:
    d = os.path.join(root, "d%02d" % (i % 16))
    os.makedirs(d, exist_ok=True)
    n = min(left, random.choice([64 << 10, 256 << 10, 1 << 20, 4 << 20]))
    with open(os.path.join(d, "f%04d" % i), "wb") as f:
        f.write(os.urandom(n))
    left -= n; i += 1
PY
tar -C "$W/data" -cf "$W/layer.tar" .
sync
median() { python3 -c 'import statistics,sys; print("%.3f" % statistics.median(float(x) for x in sys.argv[1:]))' "$@"; }
t() { local s e; s=$(date +%s.%N); "$@" >/dev/null 2>&1; e=$(date +%s.%N); python3 -c "print($e-$s)"; }
ti=() tt=() ci=() ct=()
for ((r = 0; r < RUNS; r++)); do
  rm -rf "$W/state" "$W/x"; mkdir -p "$W/x"
  ti+=("$(t env SBX_STATE="$W/state" "$SBX" image import-layer "$W/layer.tar" bench:1)")
  tt+=("$(t tar -C "$W/x" -xf "$W/layer.tar")")
  rm -rf "$W/state" "$W/out.tar"
  ci+=("$(t env SBX_STATE="$W/state" "$SBX" image from-dir "$W/data" bench:2)")
  ct+=("$(t tar -C "$W/data" -cf "$W/out.tar" .)")
done
mi=$(median "${ti[@]}") mt=$(median "${tt[@]}") mc=$(median "${ci[@]}") mct=$(median "${ct[@]}")
echo "layer: ${MB} MB, $(find "$W/data" -type f | wc -l) files; medians of $RUNS runs"
printf '%-28s %8s s  %8.1f MB/s\n' "sbx image import-layer" "$mi" "$(python3 -c "print($MB/$mi)")"
printf '%-28s %8s s  %8.1f MB/s\n' "tar -xf" "$mt" "$(python3 -c "print($MB/$mt)")"
printf '%-28s %8s s  %8.1f MB/s\n' "sbx image from-dir (commit)" "$mc" "$(python3 -c "print($MB/$mc)")"
printf '%-28s %8s s  %8.1f MB/s\n' "tar -cf" "$mct" "$(python3 -c "print($MB/$mct)")"
echo "import throughput ratio sbx/tar = $(python3 -c "print('%.2f' % ($mt/$mi))") (target >= 0.80)"
echo "commit throughput ratio sbx/tar = $(python3 -c "print('%.2f' % ($mct/$mc))") (target >= 0.80)"
