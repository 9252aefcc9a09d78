#!/bin/bash
# Builds the libFuzzer targets of tests/fuzz (clang, ASan+UBSan, -DLONGPIN_FUZZ=ON) and runs each for N seconds
# from its seed corpus (tests/fuzz/corpus/NAME, never written: new inputs go to a scratch copy). Fails on the
# first crash, leak, sanitizer report or timeout; the reproducer is kept and named.
#
# Usage: tests/fuzz/run.sh [SECONDS_EACH (default 30)] [BUILD_DIR (default build-fuzz)]
set -u
SECONDS_EACH=${1:-30}
SRC=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${2:-$SRC/build-fuzz}
CXX=${CXX:-clang++-14}
CC=${CC:-clang-14}
command -v "$CXX" >/dev/null || { echo "SKIP: $CXX not found (libFuzzer needs clang)"; exit 77; }
TARGETS=(expected_log run_state job_file classify_block)

if [ ! -f "$BUILD/CMakeCache.txt" ]; then
  cmake -S "$SRC" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER="$CXX" \
    -DCMAKE_C_COMPILER="$CC" -DLONGPIN_FUZZ=ON -DLONGPIN_SANITIZE=address,undefined -DLONGPIN_WITH_CUDA=OFF \
    -DLONGPIN_BUILD_TESTS=OFF -DLONGPIN_BUILD_BENCH=OFF >/dev/null || exit 1
fi
cmake --build "$BUILD" --target "${TARGETS[@]/#/fuzz_}" || exit 1

OUT=$(mktemp -d /tmp/longpin-fuzz.XXXXXX)
status=0
for t in "${TARGETS[@]}"; do
  mkdir -p "$OUT/$t/corpus" "$OUT/$t/artifacts"
  cp "$SRC/tests/fuzz/corpus/$t/"* "$OUT/$t/corpus/"
  # Logs are the largest inputs (a chunk is 128 KiB; the seed log is 50 KiB).
  max_len=4096
  [ "$t" = expected_log ] && max_len=262144
  if "$BUILD/fuzz/fuzz_$t" -max_total_time="$SECONDS_EACH" -max_len="$max_len" -timeout=10 -rss_limit_mb=4096 \
    -artifact_prefix="$OUT/$t/artifacts/" -print_final_stats=1 "$OUT/$t/corpus" >"$OUT/$t/log" 2>&1; then
    runs=$(grep -m1 -o 'stat::number_of_executed_units: *[0-9]*' "$OUT/$t/log" | grep -o '[0-9]*$')
    echo "PASS fuzz_$t: $runs inputs in $SECONDS_EACH s"
  else
    echo "FAIL fuzz_$t: $(grep -m1 -E 'ERROR|SUMMARY|runtime error' "$OUT/$t/log")"
    echo "  log: $OUT/$t/log; reproducer: $(ls "$OUT/$t/artifacts/"* 2>/dev/null | head -1)"
    status=1
  fi
done
[ "$status" = 0 ] && rm -rf "$OUT"
exit "$status"
