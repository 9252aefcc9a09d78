#!/usr/bin/env bash
# bench/gpu-check.sh's no-GPU path: every step skips with its reason and the script exits 77, quickly, with
# and without a carried build. On a machine with an NVIDIA driver this test skips (77): there the script is
# the real check, run by hand (docs/rdma-cuda.md).
#   tests/unit/gpu_check_test.sh bench/gpu-check.sh BUILD_DIR
set -u
script=$1
build=$2
if [ -r /proc/driver/nvidia/version ]; then
  echo "SKIP: an NVIDIA driver is loaded here; run bench/gpu-check.sh by hand"
  exit 77
fi
tmp=$(mktemp -d /tmp/longpin-gpu-check-test-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fail=0
check() {  # check DESCRIPTION COMMAND...
  if "${@:2}"; then echo "ok: $1"; else echo "FAIL: $1"; fail=1; fi
}
has() { grep -qE "$2" "$1"; }

# 1. With the carried build: the pinner's own reason reaches the summary.
t0=$(date +%s)
"$script" --build-dir "$build" "$tmp/carried" >"$tmp/carried.out" 2>&1
rc=$?
secs=$(( $(date +%s) - t0 ))
s=$tmp/carried/summary.txt
check "exit 77 without a GPU (got $rc)" [ "$rc" = 77 ]
check "done in under 30 s (took ${secs}s)" [ "$secs" -lt 30 ]
check "summary written" [ -s "$s" ]
check "table written" [ -s "$tmp/carried/table.txt" ]
check "env recorded with the kernel" has "$s" "^env +PASS .*kernel $(uname -r)"
check "driver skipped: no NVIDIA driver loaded" has "$s" "^driver +SKIP .*no NVIDIA driver loaded \(/proc/driver/nvidia/version missing"
check "build: the carried one" has "$s" "^build +PASS .*carried: "
check "cuda-available skipped with the pinner's reason" \
  has "$s" "^cuda-available +SKIP .*(no CUDA device: no NVIDIA driver loaded \(/proc/driver/nvidia/version missing|built without CUDA)"
check "tests skipped with the reason" has "$s" "^tests +SKIP .*no NVIDIA driver loaded"
for target in memfd dir ext4; do
  for write in copy kernel; do
    for flags in default mapped readonly; do
      check "run/$target/$write/$flags skipped with the reason" \
        has "$s" "^run/$target/$write/$flags +SKIP .*no NVIDIA driver loaded"
    done
  done
done
check "pin-kind skipped with the reason" has "$s" "^pin-kind +SKIP .*no NVIDIA driver loaded"
check "pin-cost skipped with the reason" has "$s" "^pin-cost +SKIP .*no NVIDIA driver loaded"
check "every step skipped or passed (no FAIL/TIMEOUT)" bash -c "! grep -qE '^[^ ]+ +(FAIL|TIMEOUT) ' '$s'"
check "25 steps recorded" [ "$(wc -l <"$s")" = 25 ]
check "no run directory left behind" bash -c "! ls '$tmp/carried/work' >/dev/null 2>&1"

# 2. Without a build: nothing is built for a GPU that is not there.
"$script" "$tmp/bare" >"$tmp/bare.out" 2>&1
rc=$?
check "bare: exit 77 (got $rc)" [ "$rc" = 77 ]
check "bare: build skipped, not attempted" has "$tmp/bare/summary.txt" "^build +SKIP .*no NVIDIA driver loaded"
check "bare: cuda-available skipped" has "$tmp/bare/summary.txt" "^cuda-available +SKIP .*no NVIDIA driver loaded"

# 3. Bad usage is 2.
"$script" >/dev/null 2>&1
check "no OUTDIR: exit 2" [ $? = 2 ]
"$script" --no-such-option "$tmp/x" >/dev/null 2>&1
check "unknown option: exit 2" [ $? = 2 ]

if [ "$fail" != 0 ]; then
  echo "--- carried run output:"; cat "$tmp/carried.out"
fi
exit $fail
