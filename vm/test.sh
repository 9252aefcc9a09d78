#!/bin/bash
# Self-check of vm/run. Exit 0 = all passed, 77 = qemu or the kernel cannot be had, 1 = a check failed.
# usage: vm/test.sh [--kernel debian-6.1|debian-6.12] [--cache DIR]
set -u -o pipefail

HERE=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
RUN=$HERE/run
KERNEL=debian-6.1
RUNOPTS=()
while [[ $# -gt 0 ]]; do
    case $1 in
        --kernel) KERNEL=$2; shift 2 ;;
        --cache)  RUNOPTS+=(--cache "$2"); shift 2 ;;
        *) echo "usage: vm/test.sh [--kernel debian-6.1|debian-6.12] [--cache DIR]" >&2; exit 2 ;;
    esac
done
case $KERNEL in
    debian-6.1)  WANT_RE='^6\.1\.' ;;
    debian-6.12) WANT_RE='^6\.12\.' ;;
    *) echo "test.sh: --kernel must be debian-6.1 or debian-6.12" >&2; exit 2 ;;
esac
RUNOPTS+=(--kernel "$KERNEL" --timeout 300)

WORK=$(mktemp -d "${TMPDIR:-/tmp}/longpin-vm-test.XXXXXX")
trap 'rm -rf -- "$WORK"' EXIT
FAILED=0
T_ALL=$(date +%s.%N)

since() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }'; }
pass() { printf 'PASS  %-44s %6ss\n' "$1" "$(since "$T0")"; }
fail() { printf 'FAIL  %-44s %6ss  %s\n' "$1" "$(since "$T0")" "$2"; FAILED=1; }
# vm NAME ARGS...: run vm/run, stdout -> $WORK/NAME.out, stderr -> $WORK/NAME.err, sets RC.
vm() {
    local name=$1; shift
    T0=$(date +%s.%N)
    if [[ $name == badkernel ]]; then
        "$RUN" "$@" >"$WORK/$name.out" 2>"$WORK/$name.err"
    else
        "$RUN" --results "$WORK/$name.results" "$@" >"$WORK/$name.out" 2>"$WORK/$name.err"
    fi
    RC=$?
}
show_err() { sed 's/^/      | /' "$WORK/$1.err" | tail -n 15; }

# qemu processes that were there before us (other users of the machine) are not ours.
BASELINE=" $(pgrep -d ' ' qemu-system) "

# 0. prepare (fetch the kernel, build the initramfs)
T0=$(date +%s.%N)
"$RUN" "${RUNOPTS[@]}" --fetch-only 2>"$WORK/fetch.err"
RC=$?
if [[ $RC -eq 77 ]]; then
    echo "SKIP  $(head -n 1 "$WORK/fetch.err")"
    exit 77
elif [[ $RC -ne 0 ]]; then
    fail "fetch and prepare ($KERNEL)" "exit $RC"; show_err fetch; exit 1
fi
pass "fetch and prepare ($KERNEL)"

# 1. uname -r prints the guest kernel's version
vm uname "${RUNOPTS[@]}" --timing -- uname -r
if [[ $RC -eq 0 ]] && grep -Eq "$WANT_RE" "$WORK/uname.out"; then
    pass "uname -r -> $(head -n 1 "$WORK/uname.out")"
    grep -h '^vm: timing:' "$WORK/uname.err" | sed 's/^/      /'
else
    fail "uname -r" "exit $RC, stdout '$(head -c 200 "$WORK/uname.out")'"; show_err uname
fi

# 2. the command's exit code comes back; arguments with spaces and quotes survive
vm exit3 "${RUNOPTS[@]}" -- sh -c 'printf "%s|" "$@"; exit 3' sh 'a b' "it's" '$HOME'
if [[ $RC -eq 3 && $(cat "$WORK/exit3.out") == "a b|it's|\$HOME|" ]]; then
    pass "exit code 3 and argument quoting"
else
    fail "exit code 3 and argument quoting" "exit $RC, stdout '$(cat "$WORK/exit3.out")'"; show_err exit3
fi

# 3. Soft-RoCE: rxe0 on a dummy netdev, no IPv4 address on it
vm rdma "${RUNOPTS[@]}" --rdma -- sh -c 'ibv_devices && ip -4 -o addr show dev d0 | wc -l'
if [[ $RC -eq 0 ]] && grep -q 'rxe0' "$WORK/rdma.out" && [[ $(tail -n 1 "$WORK/rdma.out") == 0 ]]; then
    pass "--rdma: ibv_devices lists rxe0, d0 has no IPv4"
else
    fail "--rdma: ibv_devices lists rxe0" "exit $RC"; sed 's/^/      > /' "$WORK/rdma.out"; show_err rdma
fi

# 4. dm-log-writes on two loop devices (tmpfs files), xfs, a mark
read -r -d '' DMSCRIPT <<'EOF'
set -e
d=$(mktemp -d /tmp/dmlw.XXXXXX)
truncate -s 300M "$d/data"; truncate -s 200M "$d/log"
DATA=$(losetup -f --show "$d/data"); LOG=$(losetup -f --show "$d/log")
SECTORS=$(blockdev --getsz "$DATA")
export DM_DISABLE_UDEV=1
dmsetup create lw --table "0 $SECTORS log-writes $DATA $LOG"
mkfs.xfs -q -f /dev/mapper/lw
mkdir "$d/mnt"
mount /dev/mapper/lw "$d/mnt"
dd if=/dev/urandom of="$d/mnt/file" bs=64k count=32 conv=fsync status=none
dmsetup message lw 0 mark m1
umount "$d/mnt"
dmsetup remove lw
losetup -d "$DATA" "$LOG"
echo dm-log-writes-ok
EOF
vm dm "${RUNOPTS[@]}" -- bash -c "$DMSCRIPT"
if [[ $RC -eq 0 ]] && grep -q dm-log-writes-ok "$WORK/dm.out"; then
    pass "dm-log-writes + xfs + mark"
else
    fail "dm-log-writes + xfs + mark" "exit $RC"; show_err dm
fi

# 5. an unknown --kernel name: exit 2 with one line on stderr
vm badkernel --kernel debian-2.4 -- true
if [[ $RC -eq 2 && $(wc -l <"$WORK/badkernel.err") -eq 1 && ! -s $WORK/badkernel.out ]]; then
    pass "bad --kernel: exit 2, one line"
else
    fail "bad --kernel: exit 2, one line" "exit $RC"; show_err badkernel
fi

# 6. a kernel alarm in the console log is reported, and fails the run with --fail-on-kernel-event
vm event "${RUNOPTS[@]}" --fail-on-kernel-event -- sh -c 'echo "<2>BUG: vm/test.sh fake alarm" >/dev/kmsg'
if [[ $RC -eq 1 ]] && grep -q '^vm: kernel event: .*BUG: vm/test.sh fake alarm' "$WORK/event.err"; then
    pass "kernel event reported, --fail-on-kernel-event"
else
    fail "kernel event reported, --fail-on-kernel-event" "exit $RC"; show_err event
fi

# 7. a guest that does not finish: exit 124, no qemu left
vm timeout "${RUNOPTS[@]}" --timeout 15 -- sleep 600
if [[ $RC -eq 124 ]]; then
    pass "--timeout 15: exit 124"
else
    fail "--timeout 15: exit 124" "exit $RC"; show_err timeout
fi

# 8. no stray qemu
T0=$(date +%s.%N)
stray=
for _ in 1 2 3 4 5 6 7 8 9 10; do
    stray=
    for p in $(pgrep qemu-system); do
        [[ $BASELINE == *" $p "* ]] || stray+=" $p"
    done
    [[ -z $stray ]] && break
    sleep 0.3
done
if [[ -z $stray ]]; then
    pass "no qemu-system process left"
else
    fail "no qemu-system process left" "pids:$stray"
fi

printf 'total %ss\n' "$(since "$T_ALL")"
if [[ $FAILED -ne 0 ]]; then echo "vm/test.sh: FAILED"; exit 1; fi
echo "vm/test.sh: all passed"
exit 0
