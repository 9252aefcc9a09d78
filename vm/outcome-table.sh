#!/bin/bash
# Writes the markdown table of pinner x kernel x mapping outcomes for docs/kernels.md: each cell is what
# `longpin run --pinner P --mapping M --fs ext4` did on that kernel (pins granted or refused with the errno,
# the verdict). Kernels: this host's, and Debian's 6.1 in qemu (vm/run; --kernel adds more guests).
# usage: vm/outcome-table.sh [--binary PATH] [--kernel debian-6.1]... [--pinners vmsplice,io_uring,rdma]
#                            [--mappings shared,memfd] [--out FILE]
set -u -o pipefail

HERE=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
BIN=${LONGPIN_BINARY:-$HERE/../build/longpin}
KERNELS=()
PINNERS=vmsplice,io_uring,rdma
MAPPINGS=shared,memfd
OUT=/dev/stdout
while [[ $# -gt 0 ]]; do
    case $1 in
        --binary)   BIN=$2; shift 2 ;;
        --kernel)   KERNELS+=("$2"); shift 2 ;;
        --pinners)  PINNERS=$2; shift 2 ;;
        --mappings) MAPPINGS=$2; shift 2 ;;
        --out)      OUT=$2; shift 2 ;;
        *) echo "usage: vm/outcome-table.sh [--binary PATH] [--kernel NAME]... [--pinners LIST] [--mappings LIST] [--out FILE]" >&2; exit 2 ;;
    esac
done
[[ ${#KERNELS[@]} -gt 0 ]] || KERNELS=(debian-6.1)
BIN=$(realpath -- "$BIN" 2>/dev/null) && [[ -x $BIN ]] || { echo "outcome-table: no longpin binary (pass --binary PATH)" >&2; exit 2; }
[[ $(id -u) -eq 0 ]] || { echo "outcome-table: needs root (scratch filesystems)" >&2; exit 77; }
WORK=$(mktemp -d "${TMPDIR:-/tmp}/longpin-outcomes.XXXXXX")
trap 'rm -rf -- "$WORK"' EXIT

# In a guest the run directories go to /dev/shm (tmpfs): the guest's /var/tmp is an overlay, which refuses
# O_TMPFILE (the io_uring pinner's source file) on 6.1.
# The runs of one kernel, as a script that runs on the host and in a guest alike: one JSON per cell in $R.
CELLS=()
IFS=, read -ra PS <<<"$PINNERS"
IFS=, read -ra MS <<<"$MAPPINGS"
for p in "${PS[@]}"; do for m in "${MS[@]}"; do CELLS+=("$p:$m"); done; done
SCRIPT='
for cell in '"${CELLS[*]}"'; do
    p=${cell%%:*}; m=${cell#*:}
    "$LP" run --pinner "$p" --mapping "$m" --fs ext4 --size 16M --duration 1s --phases pinned -q \
        --json "$R/$p-$m.json" >"$R/$p-$m.out" 2>&1
    echo $? >"$R/$p-$m.rc"
done
uname -r >"$R/kernel"'

mkdir -p "$WORK/host"
R=$WORK/host LP=$BIN bash -c "$SCRIPT"
COLS=(host)
for k in "${KERNELS[@]}"; do
    mkdir -p "$WORK/$k"
    if ! "$HERE/run" --kernel "$k" --rdma --load ext4 --timeout 1200 --results "$WORK/$k" -- \
            env R="$WORK/$k" LP="$BIN" LONGPIN_WORKDIR=/dev/shm/longpin bash -c "$SCRIPT" >"$WORK/$k.log" 2>&1; then
        [[ -s $WORK/$k/kernel ]] || echo "outcome-table: $k did not run: $(tail -n 1 "$WORK/$k.log")" >&2
    fi
    COLS+=("$k")
done

python3 - "$WORK" "${COLS[@]}" -- "${CELLS[@]}" >"$OUT" <<'EOF'
import json, os, sys
work = sys.argv[1]
sep = sys.argv.index("--")
cols, cells = sys.argv[2:sep], sys.argv[sep + 1:]

def kernel(col):
    try:
        return open(os.path.join(work, col, "kernel")).read().strip()
    except OSError:
        return "did not run"

def cell(col, name):
    path = os.path.join(work, col, name + ".json")
    try:
        d = json.load(open(path))
    except (OSError, ValueError):
        out = os.path.join(work, col, name + ".out")
        last = open(out).read().strip().splitlines()[-1:] if os.path.exists(out) else ["not run"]
        return "no report: " + (last[0] if last else "")
    if d["verdict"] == "skip":
        return "skip: " + (d["reasons"][0] if d["reasons"] else "")
    pins = [p["pins"] for p in d["phases"] if p["pins"]["pinner"] != "none"]
    parts = []
    for p in pins:
        req, got = p["requested_pages"], p["granted_pages"]
        refused = ", ".join("%s x%d" % (r["errno"], r["count"]) for r in p.get("refused", []))
        if req == 0:
            parts.append("no pin taken")
        elif got == req:
            parts.append("granted %d/%d pages" % (got, req))
        elif got == 0:
            parts.append("refused (%s)" % refused)
        else:
            parts.append("granted %d/%d, refused %s" % (got, req, refused))
    v = d.get("verification") or {}
    verdict = d["verdict"]
    if v:
        verdict += ", %d kernel / %d strict misses" % (v.get("kernel_contract", {}).get("violations", 0), v.get("strict_contract", {}).get("misses", 0))
    return "; ".join(parts + [verdict])

print("| pinner | mapping (fs) | " + " | ".join("%s (%s)" % (c, kernel(c)) for c in cols) + " |")
print("|---|---|" + "---|" * len(cols))
for name in cells:
    p, m = name.split(":")
    where = "ext4" if m in ("shared", "private") else "shmem"
    print("| %s | %s (%s) | %s |" % (p, m, where, " | ".join(cell(c, p + "-" + m) for c in cols)))
EOF
