#!/bin/bash
# Verification throughput against dd and fio reading the same file, back to back, on one scratch ext4.
#
#   sudo bench/verify_vs_dd.sh BUILD_DIR [SIZE] [ROUNDS]      e.g. bench/verify_vs_dd.sh build-bench 1G 5
#
# Makes a 2 GiB ext4 image under a temp dir, loop-mounts it in a private mount namespace (nothing is visible
# to, or left behind for, the rest of the system), stamps a SIZE target with verify_bench --stamp, then runs
# ROUNDS rounds of: verify_bench (ReadAndClassify: O_DIRECT, 1 MiB requests, the verifier's own code;
# BM_ODirectRead: plain O_DIRECT preads of 8 MiB, no classification), dd bs=8M iflag=direct, fio --rw=read
# --direct=1 --bs=8M. Every reader uses O_DIRECT, so no cache drop is needed between them. Prints
# the median MB/s of each and the ratios. LOOP_DIRECT_IO=1 attaches the loop device with --direct-io=on, so
# the reads reach the host disk instead of the host's page cache of the image file.
set -euo pipefail

build=${1:?usage: verify_vs_dd.sh BUILD_DIR [SIZE] [ROUNDS]}
size=${2:-1G}
rounds=${3:-5}
bench=$(realpath "$build")/bench/verify_bench
[[ -x $bench ]] || { echo "verify_vs_dd.sh: $bench not built" >&2; exit 2; }
SCRIPT_ARGS=("$@")
# shellcheck source=bench/scratch_ext4.sh
source "$(dirname "$0")/scratch_ext4.sh"
scratch_ext4 verify_vs_dd.sh dd fio
target=$mnt/target.dat
"$bench" --target="$target" --size="$size" --stamp

echo "# $(uname -r), $(nproc) CPUs, loop $(losetup -n -O DIO "$loop" | tr -d ' ' | sed 's/1/direct-io/;s/0/buffered/') on $(df --output=source "$work" | tail -1), target $size, $(date -u +%FT%TZ)"
# Every measurement is one pass over the file (--benchmark_min_time=0: one iteration), like dd's and fio's,
# and they alternate: on a shared machine a one-second benchmark and a 0.1 s dd would otherwise see
# different shares of the CPUs.
for ((r = 1; r <= rounds; r++)); do
  for b in 'BM_ReadAndClassify/threads:1/' 'BM_ReadAndClassify/threads:2/' 'BM_ReadAndClassify/threads:0/' \
    'BM_ODirectRead/threads:1/' 'BM_ODirectRead/threads:2/'; do
    "$bench" --target="$target" --size="$size" --benchmark_format=json --benchmark_filter="^$b" \
      --benchmark_min_time=0 >"$work/verify.$r.${b//[\/:]/_}json"
    dd if="$target" of=/dev/null bs=8M iflag=direct 2>>"$work/dd.$r.txt"
    fio --name=seqread --filename="$target" --rw=read --direct=1 --bs=8M --ioengine=psync --numjobs=1 \
      --output-format=json >"$work/fio.$r.${b//[\/:]/_}json"
  done
done

python3 - "$work" "$rounds" <<'EOF'
import glob, json, re, statistics, sys
work, rounds = sys.argv[1], int(sys.argv[2])
rates = {}
def add(name, bps):
    rates.setdefault(name, []).append(bps / 1e6)
for path in sorted(glob.glob(f"{work}/verify.*json")):
    for b in json.load(open(path))["benchmarks"]:
        if b.get("run_type") == "iteration" and "bytes_per_second" in b:
            add(b["name"].replace("/real_time", ""), b["bytes_per_second"])
for r in range(1, rounds + 1):
    for m in re.finditer(r"(\d+) bytes .* copied, ([\d.]+) s", open(f"{work}/dd.{r}.txt").read()):
        add("dd bs=8M iflag=direct", int(m.group(1)) / float(m.group(2)))
for path in sorted(glob.glob(f"{work}/fio.*json")):
    add("fio read bs=8M direct=1", json.load(open(path))["jobs"][0]["read"]["bw_bytes"])
med = {k: statistics.median(v) for k, v in rates.items()}
print(f"{'reader':40} {'median MB/s':>12}  every pass (MB/s)")
for k, v in rates.items():
    print(f"{k:40} {med[k]:12.0f}  " + " ".join(f"{x:.0f}" for x in v))
dd, fio = med["dd bs=8M iflag=direct"], med["fio read bs=8M direct=1"]
print(f"\n{'ours':40} {'vs dd':>8} {'vs fio':>8}")
for k in med:
    if k.startswith("BM_"):
        print(f"{k:40} {med[k] / dd:8.2f} {med[k] / fio:8.2f}")
EOF
