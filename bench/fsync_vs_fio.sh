#!/bin/bash
# longpin's baseline-phase fsync latency against fio's write+fsync loop, back to back on one scratch ext4.
#
#   sudo bench/fsync_vs_fio.sh BUILD_DIR [ROUNDS] [INTERVAL_MS]     e.g. bench/fsync_vs_fio.sh build-bench 3 50
#
# fio:        one thread, pwrite 4 KiB at a random offset of a 256 MiB file, fsync, repeat (--fsync=1), 5 s:
#             the reference named in the issue, fsyncs back to back.
# fio paced:  the same at --rate_iops=1000/INTERVAL_MS for 10 s: one write+fsync per INTERVAL_MS, the load
#             longpin below generates, with the same idle time between fsyncs.
# longpin:    one pwrite writer at --rate 1000/INTERVAL_MS writes/s, one syncer calling fsync every INTERVAL_MS,
#             no pinner, baseline phase only, 10 s, 256 MiB target of 4 KiB blocks.
# longpin each-write: one pwrite writer that fsyncs after each of its writes (--sync fsync:each-write), 5 s:
#             fio's loop exactly, the comparison for the issue's target.
# Both files are fallocated, not written, before the run (fio lays a write-only job out with fallocate, longpin
# preallocates its target), so both convert unwritten extents as they go. longpin cannot express fio's loop
# exactly: its writers and syncers are separate threads on their own schedules, so with INTERVAL_MS above the
# fsync latency an fsync finds one dirty block (writes per fsync is printed), and the disk idles between
# fsyncs, which on a loop device makes each fsync slower than in fio's loop that never idles: compare longpin
# with "fio paced" for the cost longpin adds, and with "fio" for the issue's target. Each round runs the
# four on fresh files, in turn (odd rounds fio first, even rounds longpin first); each round gives a ratio, and
# the median of the rounds' ratios is printed with its spread (min..max).
# LOOP_DIRECT_IO=1 attaches the loop device with --direct-io=on (fsync then reaches the host disk through
# O_DIRECT writes of the image instead of the host's page cache plus an fsync of the image file).
set -euo pipefail

build=${1:?usage: fsync_vs_fio.sh BUILD_DIR [ROUNDS] [INTERVAL_MS]}
rounds=${2:-3}
interval_ms=${3:-50}
longpin=$(realpath "$build")/longpin
[[ -x $longpin ]] || { echo "fsync_vs_fio.sh: $longpin not built" >&2; exit 2; }
SCRIPT_ARGS=("$@")
# shellcheck source=bench/scratch_ext4.sh
source "$(dirname "$0")/scratch_ext4.sh"
scratch_ext4 fsync_vs_fio.sh fio
mkdir "$work/longpin-workdir"
rate=$(python3 -c "print(1000 / $interval_ms)")

echo "# $(uname -r), $(nproc) CPUs, loop $(losetup -n -O DIO "$loop" | tr -d ' ' | sed 's/1/direct-io/;s/0/buffered/') on $(df --output=source "$work" | tail -1), $(date -u +%FT%TZ), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# longpin: --writers pwrite:1 --rate $rate --sync fsync:${interval_ms}ms"
run_fio() {  # run_fio ROUND
  fio --name=f --filename="$mnt/fio.dat" --size=256M --rw=randwrite --bs=4k --fsync=1 --runtime=5 --time_based \
    --ioengine=psync --output-format=json >"$work/fio.$1.json"
  rm -f "$mnt/fio.dat"
}
run_fio_paced() {
  fio --name=f --filename="$mnt/fio.dat" --size=256M --rw=randwrite --bs=4k --fsync=1 --runtime=10 --time_based \
    --ioengine=psync --rate_iops="${rate%.*}" --output-format=json >"$work/fiopaced.$1.json"
  rm -f "$mnt/fio.dat"
}
run_longpin() {
  "$longpin" run --fs "dir:$mnt" --workdir "$work/longpin-workdir" --size 256M --block-size 4k --pinner none \
    --phases baseline --rounds 1 --writers pwrite:1 --rate "$rate" --sync "fsync:${interval_ms}ms" \
    --duration "${LONGPIN_DURATION:-10s}" --json "$work/longpin.$1.json" -q ||
    { echo "fsync_vs_fio.sh: longpin run exited $?" >&2; exit 1; }
}
run_longpin_each() {
  "$longpin" run --fs "dir:$mnt" --workdir "$work/longpin-workdir" --size 256M --block-size 4k --pinner none \
    --phases baseline --rounds 1 --writers pwrite:1 --sync fsync:each-write --duration 5s \
    --json "$work/longpineach.$1.json" -q || { echo "fsync_vs_fio.sh: longpin run (each-write) exited $?" >&2; exit 1; }
}
# Interleaved and counterbalanced: odd rounds run fio first, even rounds longpin first, so a drift of the machine
# (page cache, the image's allocation) weighs on both sides alike; each round gives its own ratios.
for ((r = 1; r <= rounds; r++)); do
  if ((r % 2)); then order="run_fio run_fio_paced run_longpin run_longpin_each"
  else order="run_longpin_each run_longpin run_fio_paced run_fio"; fi
  for step in $order; do
    "$step" "$r"
    sync -f "$mnt"
  done
done

python3 - "$work" "$rounds" <<'EOF'
import json, statistics, sys
work, rounds = sys.argv[1], int(sys.argv[2])
def fio_row(path):
    job = json.load(open(path))["jobs"][0]
    pct = job["sync"]["lat_ns"]["percentile"]
    return dict(n=job["sync"]["total_ios"], p50=pct["50.000000"], p99=pct["99.000000"], writes=job["write"]["total_ios"])
def longpin_row(path):
    phase = json.load(open(path))["phases"][0]
    s = phase["sync"]["fsync"]
    return dict(n=s["count"], p50=s["p50_ns"], p99=s["p99_ns"], writes=sum(phase["writes"].values()))
names = ["fio", "fio paced", "longpin", "longpin each-write"]
rows = []
for r in range(1, rounds + 1):
    rows.append([fio_row(f"{work}/fio.{r}.json"), fio_row(f"{work}/fiopaced.{r}.json"),
                 longpin_row(f"{work}/longpin.{r}.json"), longpin_row(f"{work}/longpineach.{r}.json")])
    for name, x in zip(names, rows[-1]):
        print(f"round {r} {name:18} fsyncs={x['n']:5} writes={x['writes']:5} writes/fsync={x['writes']/max(x['n'],1):.2f}"
              f" p50={x['p50']/1e3:8.0f} us p99={x['p99']/1e3:8.0f} us")
med = {(i, k): statistics.median(row[i][k] for row in rows) for i in range(len(names)) for k in ("p50", "p99")}
print(f"\nmedian over {rounds} rounds:")
for i, name in enumerate(names):
    print(f"  {name:18} p50 {med[i, 'p50']/1e3:8.0f} us  p99 {med[i, 'p99']/1e3:8.0f} us")
# The ratio of each round (the two sides ran next to each other), then their median and spread.
for ours, ref in ((3, 0), (2, 1), (2, 0)):
    out = []
    for k in ("p50", "p99"):
        per_round = sorted(row[ours][k] / row[ref][k] for row in rows)
        out.append(f"{k} {statistics.median(per_round):.2f} [{per_round[0]:.2f}..{per_round[-1]:.2f}]")
    print(f"ratio {names[ours]}/{names[ref]} (median of {rounds} rounds [min..max]): " + "  ".join(out))
print("(target: longpin p50 within 25% of fio's, ratio 0.75..1.25: longpin each-write against fio is the same loop)")
EOF
