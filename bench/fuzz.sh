#!/bin/sh
# Longer fuzzing than the suite's 20 s per target: bench/fuzz.sh [SECONDS per target] (default 600).
# Builds the sanitizer lane in build/ when needed (tests/sanitize.sh) and prints each target's
# executions and corpus growth.
set -eu
cd "$(dirname "$0")/.."
secs=${1:-600}
[ -x build/sanitize/fuzz-plan ] || tests/sanitize.sh build build
for t in plan seccomp_json cli image_json layer_tar; do tests/sanitize.sh build fuzz "$t" "$secs"; done
