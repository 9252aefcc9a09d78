#!/bin/bash
# Writes the markdown table of what the race-script presets find per kernel, for docs/kernels.md: each cell is
# found (kernel violations / strict misses / kernel alarms, in how many attempts), clean (attempts), or
# refused ERRNO. Kernels: this host's, Debian 6.1 and Debian 6.12 in qemu (vm/run --rdma), one boot each.
# Rows: both presets as shipped, and their step lists with the other pinners that can run them. In a guest the
# run directories go to /dev/shm: its /var/tmp is an overlay that refuses O_TMPFILE (io_uring's source file).
# usage: vm/findings-table.sh [--binary PATH] [--kernels host,debian-6.1,debian-6.12] [--out FILE]
set -u -o pipefail

HERE=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
BIN=${LONGPIN_BINARY:-$HERE/../build/longpin}
KERNELS=host,debian-6.1,debian-6.12
OUT=/dev/stdout
while [[ $# -gt 0 ]]; do
    case $1 in
        --binary)  BIN=$2; shift 2 ;;
        --kernels) KERNELS=$2; shift 2 ;;
        --out)     OUT=$2; shift 2 ;;
        *) echo "usage: vm/findings-table.sh [--binary PATH] [--kernels LIST] [--out FILE]" >&2; exit 2 ;;
    esac
done
BIN=$(realpath -- "$BIN" 2>/dev/null) && [[ -x $BIN ]] || { echo "findings-table: no longpin binary (pass --binary PATH)" >&2; exit 2; }
[[ $(id -u) -eq 0 ]] || { echo "findings-table: needs root (scratch filesystems)" >&2; exit 77; }
WORK=$(mktemp -d "${TMPDIR:-/tmp}/longpin-findings.XXXXXX")
trap 'rm -rf -- "$WORK"' EXIT

LIES='pin,store,sync,dma,sync,crash,verify'
BUFFERS_HELD='pin,store,sync,dma-start,sync,reclaim,dma-finish,sync,verify'
BUFFERS_IO='pin,store,sync,reclaim,dma,sync,verify'
# name|arguments: every row runs on every kernel.
ROWS=(
    "fsync-lies (rdma)|--workload fsync-lies"
    "fsync-lies steps, io_uring|--workload fsync-lies --pinner io_uring"
    "pinned-page-loses-buffers (fuse)|--workload pinned-page-loses-buffers"
    "its steps, reclaim:cgroup|--workload pinned-page-loses-buffers --race $BUFFERS_HELD --race-attempts 50"
    "odirect: $BUFFERS_IO|--workload pinned-page-loses-buffers --pinner odirect --race $BUFFERS_IO --race-attempts 100"
    "process-vm: $BUFFERS_IO|--workload pinned-page-loses-buffers --pinner process-vm --race $BUFFERS_IO --race-attempts 100"
)
ROWS[3]="its steps with reclaim:cgroup|--workload pinned-page-loses-buffers --race ${BUFFERS_HELD/reclaim/reclaim:cgroup} --race-attempts 50"
SCRIPT='i=0'
for r in "${ROWS[@]}"; do
    SCRIPT+=$'\n'"\"\$LP\" run ${r#*|} \${WORKDIR:+--workdir \$WORKDIR} --quiet --json \"\$R/row\$i.json\" >\"\$R/row\$i.out\" 2>\"\$R/row\$i.err\"; echo \$? >\"\$R/row\$i.exit\"; i=\$((i + 1))"
done

cell() {  # cell DIR INDEX
    local f=$1/row$2.json
    if [[ ! -s $f ]]; then echo "no report: $(tail -n 1 "$1/row$2.err" 2>/dev/null)"; return; fi
    python3 - "$f" "$(cat "$1/row$2.exit")" <<'PY'
import json, sys
d = json.load(open(sys.argv[1])); rc = sys.argv[2]
r = d.get("race") or {}
f = d["findings"]
if r.get("refused"):
    print("refused %s" % r["refused"].split(":")[0])
elif d["verdict"] == "skip":
    print("skip: %s" % (d["reasons"][0] if d["reasons"] else "?"))
elif f["kernel_violations"] or f["strict_misses"] or f["kernel_alarms"]:
    print("**found**: %d kernel violations, %d strict misses, %d alarms in %d/%d attempts (exit %s)" % (
        f["kernel_violations"], f["strict_misses"], f["kernel_alarms"], r.get("attempts_with_findings", 0),
        r.get("attempts", 0), rc))
elif d["verdict"] == "pass":
    print("clean, %d attempts, pin %s" % (r.get("attempts", 0), r.get("pin_reference", {}).get("measured", "?")))
else:
    print("%s: %s" % (d["verdict"], d["reasons"][0] if d["reasons"] else "?"))
PY
}

IFS=, read -ra KS <<<"$KERNELS"
declare -A RELEASE
for k in "${KS[@]}"; do
    mkdir -p "$WORK/$k"
    if [[ $k == host ]]; then
        R=$WORK/$k LP=$BIN bash -c "$SCRIPT"
        RELEASE[$k]=$(uname -r)
    else
        "$HERE/run" --kernel "$k" --rdma --timeout 900 --results "$WORK/$k" -- \
            env R="$WORK/$k" LP="$BIN" WORKDIR=/dev/shm bash -c "$SCRIPT; uname -r >\"\$R/release\"" >/dev/null 2>"$WORK/$k.err" ||
            true
        RELEASE[$k]=$(cat "$WORK/$k/release" 2>/dev/null || echo "did not run: $(tail -n 1 "$WORK/$k.err")")
    fi
done
{
    printf '| race script | %s |\n' "$(for k in "${KS[@]}"; do printf '%s (%s) | ' "$k" "${RELEASE[$k]}"; done | sed 's/ | $//')"
    printf '|---|%s\n' "$(for k in "${KS[@]}"; do printf -- '---|'; done)"
    i=0
    for r in "${ROWS[@]}"; do
        printf '| %s |' "${r%%|*}"
        for k in "${KS[@]}"; do printf ' %s |' "$(cell "$WORK/$k" $i)"; done
        printf '\n'
        i=$((i + 1))
    done
} >"$OUT"
