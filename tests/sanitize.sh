#!/bin/sh
# The sanitizer and fuzzing lane: sbx built a second time with clang 14, AddressSanitizer,
# UndefinedBehaviorSanitizer and libFuzzer's coverage (-DSBX_SANITIZE=ON -DSBX_FUZZ=ON), with
# warnings as errors (-DSBX_WERROR=ON), in BUILD/sanitize, then used for
#   tests/sanitize.sh BUILD build                 configure and build it (sbx, the unit tests, the fuzzers)
#   tests/sanitize.sh BUILD unit                  the unit tests
#   tests/sanitize.sh BUILD isolation             a representative set of isolation tests, with that sbx
#   tests/sanitize.sh BUILD fuzz TARGET [SECS]    one libFuzzer target on a copy of tests/fuzz/corpus/TARGET
# Any sanitizer report fails the run. Exit 77: skipped (clang-14 or its runtime missing).
set -eu
build=$(cd "$1" && pwd)
what=$2
src=$(cd "$(dirname "$0")/.." && pwd)
lane=$build/sanitize
if ! command -v clang++-14 > /dev/null || [ ! -e /usr/lib/llvm-14/lib/clang/14.0.6/lib/linux/libclang_rt.fuzzer-x86_64.a ]; then
  echo "SKIP: clang-14 and libclang-rt-14-dev are needed (scripts/setup.sh installs them)"
  exit 77
fi
# leaks are not checked: LeakSanitizer cannot stop the world inside a pid namespace
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=0:halt_on_error=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export SBX_SANITIZED=1
case "$what" in
  build)
    CC=clang-14 CXX=clang++-14 cmake -S "$src" -B "$lane" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSBX_SANITIZE=ON -DSBX_FUZZ=ON -DSBX_WERROR=ON > /dev/null
    cmake --build "$lane" -j2 --target sbx sbx-unit sbx-probe fuzz-plan fuzz-seccomp_json fuzz-cli fuzz-image_json fuzz-layer_tar ;;
  unit)
    "$lane/tests/sbx-unit" ;;
  isolation)
    # the cases that walk the most of the core: every set-up step failing, signals and kills,
    # hostile users, identities, namespaces, mounts and the detached lifecycle
    ctest --test-dir "$lane" --output-on-failure \
      -R '^isolation\.(namespaces|hygiene|mounts|detached|faults|inject|trust|owners|bridge)$' ;;
  fuzz)
    target=$3 secs=${4:-20}
    work=$(mktemp -d /tmp/sbx-fuzz.XXXXXX)
    trap 'rm -rf "$work"' EXIT INT TERM
    cp -r "$src/tests/fuzz/corpus/$target" "$work/corpus"
    seeds=$(ls "$work/corpus" | wc -l)
    # the harnesses keep their scratch (temporary stores) under TMPDIR
    mkdir "$work/tmp"
    TMPDIR=$work/tmp "$lane/fuzz-$target" -max_total_time="$secs" -timeout=20 -rss_limit_mb=2048 -print_final_stats=1 \
      -artifact_prefix="$work/" "$work/corpus" > "$work/log" 2>&1 || { tail -n 60 "$work/log"; exit 1; }
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log")
    echo "fuzz-$target: $execs executions in ${secs}s, corpus $seeds seeds -> $(ls "$work/corpus" | wc -l) inputs, no crash, no sanitizer report" ;;
  *) echo "usage: sanitize.sh BUILD build|unit|isolation|fuzz TARGET [SECS]" >&2; exit 2 ;;
esac
