#!/usr/bin/env bash
# bench/gpu-check.sh: the CUDA pinner's whole check on a GPU machine, prepared to fit a short window (under 8
# minutes, every step under `timeout`). Fail soft: every step's outcome goes to OUTDIR/summary.txt as it ends,
# whatever the others did; a table of the runs and the pin cost follow at the end.
#
#   bench/gpu-check.sh [--build-dir DIR] [--fs-dir PATH] [--budget SECONDS] OUTDIR
#   bench/gpu-check.sh --bundle DIR [--build-dir BUILD]     (here: binaries + their libraries, to carry)
#
# Steps: env (kernel, filesystems, loop devices); driver (nvidia-smi, /proc/driver/nvidia/version); build
# (cmake + ninja of longpin, the tests and pin_cost_bench, unless --build-dir names a build or a bundle);
# cuda-available (`longpin list pinners`); tests (ctest -R Cuda, or the test binaries' *Cuda* tests for a
# bundle); run/<target>/<write>/<flags> (`longpin run --pinner cuda` on memfd, a shared file in --fs-dir, a
# loop ext4 where root and loop devices allow; --cuda-write copy|kernel x --cuda-flags default|mapped|readonly);
# pin-kind (nr_foll_pin_* deltas around one registration, and whether a shared file mapping is refused);
# pin-cost (pin_cost_bench: the pinner's cudaHostRegister against the bare call).
#
# Exit: 0 every step passed (or skipped for a reason of this machine, e.g. no loop devices); 1 a step failed
# or timed out; 77 no GPU here (no driver, no device): every step skipped with the reason; 2 bad usage.
set -u

here=$(cd "$(dirname "$0")/.." && pwd)
build_dir=""
fs_dir=/var/tmp
budget=470
bundle=""
out=""
while [ $# -gt 0 ]; do
  case "$1" in
    --build-dir) build_dir=$2; shift 2 ;;
    --fs-dir) fs_dir=$2; shift 2 ;;
    --budget) budget=$2; shift 2 ;;
    --bundle) bundle=$2; shift 2 ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    -*) echo "gpu-check.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    *) [ -z "$out" ] || { echo "gpu-check.sh: one OUTDIR only" >&2; exit 2; }; out=$1; shift ;;
  esac
done

# Finds a built program in a build tree (DIR/tests/x, DIR/bench/x) or a bundle (DIR/bin/x).
find_bin() {
  local d
  for d in "$build_dir" "$build_dir/tests" "$build_dir/bench" "$build_dir/bin"; do
    [ -x "$d/$1" ] && { echo "$d/$1"; return 0; }
  done
  return 1
}

# ---- --bundle: what to carry to a machine that lacks the build dependencies ----
if [ -n "$bundle" ]; then
  [ -n "$build_dir" ] || build_dir=$here/build-b
  mkdir -p "$bundle/bin" "$bundle/lib" || exit 3
  for p in longpin longpin_unit_tests longpin_integration_tests pin_cost_bench; do
    src=$(find_bin "$p") || { echo "gpu-check.sh: $p not built in $build_dir" >&2; exit 3; }
    strip -o "$bundle/bin/$p" "$src" 2>/dev/null || cp "$src" "$bundle/bin/$p"
    # Every library but the C library's own and the driver's (libcuda comes from the GPU machine).
    ldd "$src" | awk '$3 ~ /^\// {print $3}' |
      grep -Ev '/(libc|libm|libdl|librt|libpthread|ld-linux[^/]*|libcuda)\.so' |
      while read -r lib; do cp -L "$lib" "$bundle/lib/" 2>/dev/null; done
  done
  echo "bundle in $bundle ($(du -sh "$bundle" | cut -f1)); on the GPU machine: bench/gpu-check.sh --build-dir $bundle OUTDIR"
  exit 0
fi

[ -n "$out" ] || { echo "usage: bench/gpu-check.sh [--build-dir DIR] [--fs-dir PATH] [--budget S] OUTDIR" >&2; exit 2; }
mkdir -p "$out" || exit 2
out=$(cd "$out" && pwd)
summary=$out/summary.txt
: >"$summary"
start=$(date +%s)
failed=0
no_gpu=""     # the reason, once known: every later step skips with it
have_build=0
n=0
[ -d "$build_dir/lib" ] && export LD_LIBRARY_PATH="$build_dir/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

elapsed() { echo $(( $(date +%s) - start )); }

# record STEP STATUS SECONDS DETAIL: one summary line, written as soon as the step ends.
record() {
  printf '%-34s %-7s %5ss  %s\n' "$1" "$2" "$3" "$4" >>"$summary"
  printf '%-34s %-7s %5ss  %s\n' "$1" "$2" "$3" "$4" >&2
  case "$2" in FAIL|TIMEOUT) failed=1 ;; esac
}
skip() { record "$1" SKIP 0 "$2"; }

# step NAME TIMEOUT CMD...: runs CMD under timeout (capped by what is left of the budget), output in
# OUTDIR/NN-NAME.log; status PASS (0), SKIP (77), TIMEOUT (124/137), FAIL (anything else). Sets step_rc and
# step_log for the caller's detail.
step() {
  local name=$1 limit=$2; shift 2
  local left=$(( budget - $(elapsed) ))
  n=$((n + 1))
  step_log=$out/$(printf '%02d' $n)-${name//\//-}.log
  if [ "$left" -lt 5 ]; then step_rc=124; skip "$name" "out of the ${budget}s budget"; return; fi
  [ "$limit" -gt "$left" ] && limit=$left
  local t0; t0=$(date +%s)
  timeout -k 5 "$limit" "$@" >"$step_log" 2>&1
  step_rc=$?
  step_secs=$(( $(date +%s) - t0 ))
  case $step_rc in
    0) step_status=PASS ;;
    77) step_status=SKIP ;;
    124|137) step_status=TIMEOUT ;;
    *) step_status=FAIL ;;
  esac
}
# The last non-empty line of the step's log, for the summary.
last_line() { grep -v '^[[:space:]]*$' "$step_log" 2>/dev/null | tail -n 1 | cut -c1-160; }

# ---- env ----
{
  echo "date: $(date -u +%FT%TZ)"
  echo "kernel: $(uname -r)"
  echo "uname: $(uname -a)"
  echo "user: $(id)"
  echo "cpus: $(nproc)"
  echo "fs-dir: $fs_dir ($(stat -f -c %T "$fs_dir" 2>/dev/null || echo missing))"
  echo "loop: $(losetup -f 2>&1 || true)"
  echo "build-dir: ${build_dir:-(none: build here)}"
} >"$out/env.txt" 2>&1
record env PASS 0 "kernel $(uname -r), fs-dir $fs_dir is $(stat -f -c %T "$fs_dir" 2>/dev/null || echo missing)"

# ---- driver ----
t0=$(date +%s)
if [ ! -r /proc/driver/nvidia/version ] && ! command -v nvidia-smi >/dev/null 2>&1; then
  no_gpu="no NVIDIA driver loaded (/proc/driver/nvidia/version missing, no nvidia-smi)"
  skip driver "$no_gpu"
else
  cat /proc/driver/nvidia/version >"$out/driver-version.txt" 2>&1
  step driver 30 nvidia-smi
  cp "$step_log" "$out/nvidia-smi.txt" 2>/dev/null
  gpu=$(timeout 20 nvidia-smi --query-gpu=name,driver_version,compute_cap,memory.total --format=csv,noheader 2>/dev/null | head -n 1)
  if [ "$step_status" != PASS ] || [ -z "$gpu" ]; then
    no_gpu="nvidia-smi: $(last_line)"
    [ -r /proc/driver/nvidia/version ] || no_gpu="no NVIDIA driver loaded (/proc/driver/nvidia/version missing); $no_gpu"
    skip driver "$no_gpu"
  else
    echo "$gpu" >"$out/gpu.txt"
    record driver PASS "$step_secs" "$gpu; $(head -n 1 /proc/driver/nvidia/version 2>/dev/null | tr -s ' ' | cut -c1-90)"
  fi
fi

# ---- build ----
if [ -n "$build_dir" ] && find_bin longpin >/dev/null; then
  have_build=1
  record build PASS 0 "carried: $build_dir"
elif [ -n "$no_gpu" ]; then
  skip build "$no_gpu"
else
  [ -n "$build_dir" ] || build_dir=$here/build-gpu
  arch=$(echo "$gpu" | awk -F', ' '{gsub(/\./, "", $3); print $3}')
  gen=Ninja; command -v ninja >/dev/null || gen="Unix Makefiles"
  step build 300 bash -c "cmake -S '$here' -B '$build_dir' -G '$gen' -DCMAKE_BUILD_TYPE=Release \
      -DLONGPIN_WITH_CUDA=ON -DLONGPIN_WERROR=OFF ${arch:+-DCMAKE_CUDA_ARCHITECTURES=$arch} &&
    cmake --build '$build_dir' -j$(nproc) --target longpin longpin_unit_tests longpin_integration_tests pin_cost_bench"
  if [ "$step_status" = PASS ]; then
    have_build=1
    record build PASS "$step_secs" "$build_dir (sm_${arch:-default})"
  else
    record build "$step_status" "$step_secs" "$(grep -m1 -E 'Could not find|not found|error' "$step_log" | cut -c1-120); carry a bundle (--bundle here, --build-dir there)"
  fi
fi

# ---- cuda-available: the pinner's own verdict, with its reason ----
if [ "$have_build" = 1 ]; then
  longpin=$(find_bin longpin)
  step cuda-available 20 "$longpin" list pinners
  line=$(grep -E '^ *cuda ' "$step_log" | tr -s ' ' | sed -E 's/^ //' | cut -c1-200)
  if echo "$line" | grep -q '^cuda available'; then
    record cuda-available PASS "$step_secs" "$line"
  else
    # Columns: name, state, pin kind, measured here ("not yet measured", "-" or "KIND (release, date)"), reason.
    reason=$(echo "$line" | sed -E 's/^cuda unavailable [^ ]+ (not yet measured|-|[^ ]+ \([^)]*\)) //')
    [ -n "$reason" ] || reason="longpin list pinners: $(last_line)"
    no_gpu=${no_gpu:-$reason}
    skip cuda-available "${reason}"
  fi
else
  skip cuda-available "${no_gpu:-no build}"
fi

# Every step below needs a GPU and a build.
why_not=""
[ -n "$no_gpu" ] && why_not=$no_gpu
[ -z "$why_not" ] && [ "$have_build" != 1 ] && why_not="no build"

# ---- tests: ctest -R Cuda in a build tree, the binaries' *Cuda* tests in a bundle ----
if [ -n "$why_not" ]; then
  skip tests "$why_not"
else
  export LONGPIN_GPU_CHECK_OUT=$out LONGPIN_CUDA_PROBE_DIR=$fs_dir
  if [ -f "$build_dir/CTestTestfile.cmake" ] && ctest --test-dir "$build_dir" -N -R Cuda 2>/dev/null | grep -q 'Total Tests: [1-9]'; then
    step tests 150 ctest --test-dir "$build_dir" -R Cuda --output-on-failure --timeout 60 --output-junit "$out/ctest-cuda.xml"
    record tests "$step_status" "$step_secs" "ctest -R Cuda: $(grep -E 'tests passed|tests failed' "$step_log" | tail -n 1)"
  else
    step tests 150 bash -c "'$(find_bin longpin_unit_tests)' --gtest_filter='*Cuda*' --gtest_output=xml:'$out/unit-cuda.xml' &&
      '$(find_bin longpin_integration_tests)' --gtest_filter='*Cuda*' --gtest_output=xml:'$out/integration-cuda.xml'"
    record tests "$step_status" "$step_secs" "gtest *Cuda*: $(grep -E '^\[  (PASSED|FAILED|SKIPPED) ' "$step_log" | tr '\n' ' ' | cut -c1-120)"
  fi
fi

# ---- runs ----
run_detail() {  # JSON report -> one line: verdict, pins granted/refused, dma writes, violations
  python3 - "$1" <<'PY' 2>/dev/null || echo "exit $step_rc (no JSON report; see the log)"
import json, sys
d = json.load(open(sys.argv[1]))
p = d["phases"][-1]
pins = p.get("pins", {})
ref = ",".join(f'{r["errno"]} {r["count"]}' for r in pins.get("refused", [])) or "none"
w = p.get("writes", {})
v = d.get("verification") or {}
kv = v.get("kernel_contract", {}).get("violations", "?")
sm = v.get("strict_contract", {}).get("misses", "?")
print(f'verdict {d.get("verdict")}; pins granted {pins.get("granted_pages")} pages, refused {ref}; '
      f'dma writes {w.get("dma", 0)}; verified {v.get("checked_blocks", "?")} blocks, kernel violations {kv}, '
      f'strict misses {sm}')
PY
}
ext4_why=""
[ "$(id -u)" = 0 ] || ext4_why="not root: no loop ext4"
[ -z "$ext4_why" ] && ! losetup -f >/dev/null 2>&1 && ext4_why="loop devices do not work here: $(losetup -f 2>&1 | head -n 1)"
for target in memfd dir ext4; do
  case $target in
    memfd) topts="--fs dir:$fs_dir --mapping memfd" ;;
    dir) topts="--fs dir:$fs_dir" ;;
    ext4) topts="--fs ext4" ;;
  esac
  for write in copy kernel; do
    for flags in default mapped readonly; do
      name=run/$target/$write/$flags
      if [ -n "$why_not" ]; then skip "$name" "$why_not"; continue; fi
      if [ "$target" = ext4 ] && [ -n "$ext4_why" ]; then skip "$name" "$ext4_why"; continue; fi
      json=$out/run-$target-$write-$flags.json
      step "$name" 45 "$longpin" run --pinner cuda $topts --size 64M --writers cpu:1,dma:1 --duration 2s \
        --phases pinned --pin-window 1M --pin-rotate 200ms --cuda-write "$write" --cuda-flags "$flags" -q \
        --json "$json" --workdir "$out/work"
      record "$name" "$step_status" "$step_secs" "$(run_detail "$json")"
    done
  done
done

# ---- pin-kind ----
if [ -n "$why_not" ]; then
  skip pin-kind "$why_not"
else
  step pin-kind 60 env LONGPIN_GPU_CHECK_OUT="$out" LONGPIN_CUDA_PROBE_DIR="$fs_dir" \
    "$(find_bin longpin_integration_tests)" --gtest_filter='CudaPinKind.*'
  record pin-kind "$step_status" "$step_secs" "$(grep -m1 '^pin kind:' "$step_log" | cut -c1-160)"
fi

# ---- pin-cost: the pinner against the bare cudaHostRegister/cudaHostUnregister ----
if [ -n "$why_not" ]; then
  skip pin-cost "$why_not"
else
  step pin-cost 120 "$(find_bin pin_cost_bench)" --benchmark_filter='PinUnpin/cuda' --benchmark_min_time=0.1 \
    --benchmark_out="$out/pin-cost.json" --benchmark_out_format=json
  python3 - "$out/pin-cost.json" >"$out/pin-cost.txt" 2>/dev/null <<'PY'
import json, sys
rows = {}
for b in json.load(open(sys.argv[1]))["benchmarks"]:
    name, arg = b["name"].rsplit("/", 1)
    if "ns_per_page" in b: rows.setdefault((name.split("/")[-1], int(arg)), {})[name.split("/")[1]] = b["ns_per_page"]
print(f'{"mapping":8} {"window":>10} {"pinner ns/page":>15} {"bare ns/page":>13} {"ratio":>6}')
for (m, w), v in sorted(rows.items()):
    p, b = v.get("cuda"), v.get("cuda-bare")
    r = f"{p / b:.2f}" if p and b else "-"
    print(f'{m:8} {w >> 10:>8}Ki {p or 0:>15.1f} {b or 0:>13.1f} {r:>6}')
PY
  record pin-cost "$step_status" "$step_secs" "$(awk '$2=="262144Ki"||$2=="1048576Ki"{print $1" "$2" ratio "$5}' "$out/pin-cost.txt" 2>/dev/null | tr '\n' ';')"
fi

# ---- the table ----
{
  echo
  echo "gpu-check: $(uname -r), $(cat "$out/gpu.txt" 2>/dev/null || echo 'no GPU'), $(elapsed)s"
  printf '%-34s %-7s %6s  %s\n' STEP STATUS TIME DETAIL
  cat "$summary"
  [ -s "$out/pin-kind.txt" ] && { echo; cat "$out/pin-kind.txt"; }
  [ -s "$out/pin-cost.txt" ] && { echo; cat "$out/pin-cost.txt"; }
} >"$out/table.txt"
cat "$out/table.txt"

if [ -n "$no_gpu" ]; then exit 77; fi
[ "$failed" = 0 ] || exit 1
exit 0
