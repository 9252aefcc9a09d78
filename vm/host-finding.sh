#!/bin/bash
# Reproduces the data loss that `longpin run --workload pinned-page-loses-buffers` finds on 6.16+ kernels (ext4
# with large folios) and shows its cause with the kernel's own tracepoints (docs/kernels.md, "The host finding"):
# MADV_PAGEOUT of a window smaller than its folio splits the folio; the split releases the folio's buffer heads
# (filemap_release_folio) before it sees the FUSE direct-IO pin and gives up, so the pinned folio stays without
# buffers; the read's completion dirties it and ext4 writeback drops it ("does not have buffers attached").
# One ext4 image of its own, the preset once per readahead size of its loop device: large readahead builds folios
# larger than the window (found), 64 KiB readahead none (clean). Exit 1 when any run lost data, 0 when all clean.
# usage: vm/host-finding.sh [--binary PATH] [--window SIZE] [--readahead-kb LIST]
set -u -o pipefail

HERE=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
BIN=${LONGPIN_BINARY:-$HERE/../build/longpin}
WINDOW=64K
READAHEAD_KB=2560,64  # 2560: what a loop device gets here; 64: no folio larger than a 64 KiB window
while [[ $# -gt 0 ]]; do
    case $1 in
        --binary)       BIN=$2; shift 2 ;;
        --window)       WINDOW=$2; shift 2 ;;
        --readahead-kb) READAHEAD_KB=$2; shift 2 ;;
        *) echo "usage: vm/host-finding.sh [--binary PATH] [--window SIZE] [--readahead-kb LIST]" >&2; exit 2 ;;
    esac
done
BIN=$(realpath -- "$BIN" 2>/dev/null) && [[ -x $BIN ]] ||
    { echo "host-finding: no longpin binary (pass --binary PATH)" >&2; exit 2; }
[[ $(id -u) -eq 0 ]] || { echo "host-finding: needs root (loop device, tracefs)" >&2; exit 77; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/longpin-host-finding.XXXXXX")
LOOP= TRACEFS= OWN_TRACEFS= INSTANCE=
cleanup() {
    [[ -n $INSTANCE && -d $INSTANCE ]] && { echo 0 >"$INSTANCE/tracing_on"; rmdir "$INSTANCE"; }
    [[ -n $OWN_TRACEFS ]] && umount "$TRACEFS"
    mountpoint -q "$WORK/mnt" && umount "$WORK/mnt"
    [[ -n $LOOP ]] && losetup -d "$LOOP"
    rm -rf -- "$WORK"
}
trap cleanup EXIT

truncate -s 128M "$WORK/fs.img" && mkfs.ext4 -q -F "$WORK/fs.img" || exit 3
LOOP=$(losetup -f --show "$WORK/fs.img") || exit 3
mkdir "$WORK/mnt" && mount "$LOOP" "$WORK/mnt" || exit 3
RA_FILE=/sys/block/${LOOP#/dev/}/queue/read_ahead_kb
# ext4 tracepoints carry the device as the kernel's dev_t: major << 20 | minor.
DEV=$(( (0x$(stat -c %t "$LOOP") << 20) | 0x$(stat -c %T "$LOOP") ))

# A tracing instance of our own, so a tracer someone else runs on the top-level buffer keeps its settings.
TRACEFS=$(findmnt -n -t tracefs -o TARGET | head -n 1)
if [[ -z $TRACEFS ]]; then
    TRACEFS=$WORK/tracefs
    mkdir "$TRACEFS" && mount -t tracefs nodev "$TRACEFS" && OWN_TRACEFS=1 || exit 77
fi
INSTANCE=$TRACEFS/instances/longpin-host-finding-$$
mkdir "$INSTANCE" || { echo "host-finding: cannot create a tracing instance under $TRACEFS" >&2; INSTANCE=; exit 77; }
echo 8192 >"$INSTANCE/buffer_size_kb"
RELEASE=$INSTANCE/events/ext4/ext4_release_folio
ADD=$INSTANCE/events/filemap/mm_filemap_add_to_page_cache
echo "dev == $DEV" >"$RELEASE/filter"
echo "stacktrace if dev == $DEV" >"$RELEASE/trigger"
echo "s_dev == $DEV" >"$ADD/filter"
echo 1 >"$RELEASE/enable"
echo 1 >"$ADD/enable"

split_failed() {  # failed large-folio splits, all orders, system-wide
    cat /sys/kernel/mm/transparent_hugepage/hugepages-*/stats/split_failed 2>/dev/null |
        awk '{s += $1} END {print s + 0}'
}

echo "kernel $(uname -r); THP $(cat /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null);" \
    "ext4 on $LOOP; window $WINDOW"
STATUS=0
IFS=, read -r -a RAS <<<"$READAHEAD_KB"
for ra in "${RAS[@]}"; do
    echo "$ra" >"$RA_FILE" || exit 3
    echo >"$INSTANCE/trace"
    before=$(split_failed)
    echo 1 >"$INSTANCE/tracing_on"
    "$BIN" run --workload pinned-page-loses-buffers --fs "dir:$WORK/mnt" --pin-window "$WINDOW" --quiet \
        --json "$WORK/ra$ra.json" >"$WORK/ra$ra.out" 2>&1
    rc=$?
    echo 0 >"$INSTANCE/tracing_on"
    after=$(split_failed)
    cp "$INSTANCE/trace" "$WORK/ra$ra.trace"
    [[ $rc -eq 1 ]] && STATUS=1
    python3 - "$WORK/ra$ra.json" "$WORK/ra$ra.trace" "$ra" "$rc" "$((after - before))" <<'PY'
import json, re, sys
report, trace, ra, rc, failed_splits = sys.argv[1:]
try:
    d = json.load(open(report))
except (OSError, ValueError):
    print("readahead %s KiB: no report (exit %s)" % (ra, rc)); sys.exit(0)
r, f = d.get("race") or {}, d["findings"]
MiB = 1 << 20
first = (r.get("examples") or [{}])[0].get("offset")
print("readahead %s KiB: %s, %d kernel violations, %d kernel alarms in %d/%d attempts%s (exit %s)" % (
    ra, d["verdict"], f["kernel_violations"], f["kernel_alarms"], r.get("attempts_with_findings", 0),
    r.get("attempts", 0), ", first at offset %.2f MiB" % (first / MiB) if first is not None else "", rc))
# Page-cache folios of the target as they were added: the offset where each order first appears.
orders = {}
releases = {}
stack, in_stack = [], False
def flush():
    if stack:
        who = next((fn for fn in stack if fn in ("__folio_split", "shrink_folio_list", "truncate_cleanup_folio",
                                                 "invalidate_inode_pages2_range", "mapping_evict_folio")), stack[-1])
        caller = "madvise" if any("madvise" in fn for fn in stack) else ""
        key = who + (" <- MADV_PAGEOUT" if caller and who == "__folio_split" else "")
        releases[key] = releases.get(key, 0) + 1
for line in open(trace):
    if line.startswith(" => "):
        if in_stack:
            stack.append(line[4:].strip())
        continue
    if in_stack:
        flush(); stack.clear(); in_stack = False
    if "<stack trace>" in line:
        in_stack = True
        continue
    m = re.search(r"mm_filemap_add_to_page_cache: .* ofs=(\d+) order=(\d+)", line)
    if m:
        ofs, order = int(m.group(1)), int(m.group(2))
        orders[order] = min(orders.get(order, ofs), ofs)
flush()
print("  folio orders of the target (from offset): " + ", ".join(
    "%d (%d KiB) from %.2f MiB" % (o, 4 << o, orders[o] / MiB) for o in sorted(orders)))
print("  failed large-folio splits (system-wide): %s" % failed_splits)
print("  ext4 buffers released by: " + (", ".join("%s %d" % kv for kv in sorted(releases.items())) or "nothing"))
PY
done
exit "$STATUS"
