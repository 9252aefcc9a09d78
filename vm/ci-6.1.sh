#!/bin/bash
# CI job under Debian's 6.1 kernel (vm/run): the checks that need a kernel this machine lacks.
#   rdma        longpin run --pinner rdma --mapping shared --fs ext4 on Soft-RoCE rxe0: the writable long-term
#               pin of a file mapping is granted before 6.5; the run passes.
#   kmsg        fake WARNING lines written to the guest's /dev/kmsg during a run, one named to another
#               process and one to longpin: the run fails and each event says whose task it was.
#   log-writes  longpin run --crash log-writes --fs xfs: every mark's crash state checked, zero kernel-contract
#               violations.
#   selftest    longpin selftest --crash log-writes --fs xfs: faults planted into a replayed crash state are
#               all reported.
#   fsync-lies, buffers   the race-script presets find their failures on 6.1 (exit 1, findings in the JSON);
#   race-6.12   and on Debian 6.12 neither does (fsync-lies refused with EFAULT, the other clean).
#   matrix      `longpin matrix --kernels debian-6.1,debian-6.12` from the host: every judged cell as expected.
# One summary line per check; exit 0 if all passed, 1 if any failed, 77 if qemu or the kernel cannot be had.
# A check that cannot run in the guest (the rdma pinner not built or not available) is reported as SKIP with
# its reason and does not fail the job.
# usage: vm/ci-6.1.sh [--binary PATH] [--cache DIR] [--keep]
set -u -o pipefail

HERE=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
RUN=$HERE/run
BIN=${LONGPIN_BINARY:-$HERE/../build/longpin}
RUNOPTS=(--kernel debian-6.1 --timeout 600)
KEEP=0
while [[ $# -gt 0 ]]; do
    case $1 in
        --binary) BIN=$2; shift 2 ;;
        --cache)  RUNOPTS+=(--cache "$2"); shift 2 ;;
        --keep)   KEEP=1; shift ;;
        *) echo "usage: vm/ci-6.1.sh [--binary PATH] [--cache DIR] [--keep]" >&2; exit 2 ;;
    esac
done
BIN=$(realpath -- "$BIN" 2>/dev/null) || { echo "ci-6.1: no longpin binary (build it, or pass --binary PATH)" >&2; exit 2; }
[[ -x $BIN ]] || { echo "ci-6.1: $BIN is not executable" >&2; exit 2; }

# The results dir is shared with the guest, so it must be on a path the guest sees writable: vm/run binds it.
WORK=$(mktemp -d "${TMPDIR:-/tmp}/longpin-ci-6.1.XXXXXX")
if [[ $KEEP -eq 0 ]]; then trap 'rm -rf -- "$WORK"' EXIT; else echo "ci-6.1: results kept in $WORK"; fi
FAILED=0
T_ALL=$(date +%s.%N)
since() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }
line() { printf '%-5s %-12s %7ss  %s\n' "$1" "$2" "$(since "$T0")" "$3"; }
json() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))" "$@" 2>/dev/null; }

"$RUN" "${RUNOPTS[@]}" --fetch-only 2>"$WORK/fetch.err"
rc=$?
if [[ $rc -eq 77 ]]; then echo "SKIP  ci-6.1: $(head -n 1 "$WORK/fetch.err")"; exit 77; fi
if [[ $rc -ne 0 ]]; then echo "FAIL  ci-6.1: vm/run --fetch-only exit $rc: $(tail -n 1 "$WORK/fetch.err")"; exit 1; fi

# check NAME VMOPTS... -- GUEST-SCRIPT: runs the script in the guest with the results dir as $R.
guest() {
    local name=$1; shift
    local opts=()
    while [[ $1 != -- ]]; do opts+=("$1"); shift; done
    shift
    mkdir -p "$WORK/$name"
    T0=$(date +%s.%N)
    "$RUN" "${RUNOPTS[@]}" "${opts[@]}" --results "$WORK/$name" -- \
        env R="$WORK/$name" LP="$BIN" bash -c "$1" >"$WORK/$name/out" 2>"$WORK/$name/err"
    RC=$?
}

# 1. rdma on an ext4 shared mapping. `longpin list` first: the pinner may not be built or usable yet.
guest rdma --rdma --load ext4 -- '
    "$LP" list >"$R/list.txt" 2>&1
    if ! grep -Eq "^ *rdma +available" "$R/list.txt"; then exit 77; fi
    "$LP" run --pinner rdma --mapping shared --fs ext4 --size 32M --duration 2s --json "$R/report.json"'
if [[ $RC -eq 77 && ! -s $WORK/rdma/report.json ]]; then
    why=$(grep -E "^ *rdma" "$WORK/rdma/list.txt" | head -n 1 | sed 's/^ *//; s/  */ /g')
    line SKIP rdma "rdma pinner unavailable in the 6.1 guest: ${why:-not listed by longpin list}"
elif [[ -s $WORK/rdma/report.json ]]; then
    verdict=$(json "$WORK/rdma/report.json" 'd["verdict"]')
    pins=$(json "$WORK/rdma/report.json" \
        '"; ".join("%s %s/%s pages granted" % (p["name"], p["pins"]["granted_pages"], p["pins"]["requested_pages"]) for p in d["phases"] if p["pins"]["pinner"] != "none")')
    kv=$(json "$WORK/rdma/report.json" 'd.get("verification", {}).get("kernel_contract", {}).get("violations", "?")')
    if [[ $RC -eq 0 && $verdict == pass ]]; then
        line PASS rdma "verdict pass, $pins, $kv kernel-contract violation(s)"
    else
        line FAIL rdma "exit $RC, verdict $verdict, $pins: $(tail -n 1 "$WORK/rdma/err")"; FAILED=1
    fi
else
    line FAIL rdma "exit $RC, no report: $(tail -n 1 "$WORK/rdma/err")"; FAILED=1
fi

# 2. log-writes crash states on xfs. A sync every 250 ms keeps the number of states to check small enough for
# an emulated guest; every one of them is checked.
# /dev/kmsg is system-wide: a WARNING named to another process fails the run and says whose it was; one named
# to longpin's own PID says so too. Fake lines in the guest's log only, never the host's.
guest kmsg --load ext4 -- '
    sleep 300 & other=$!
    "$LP" run --fs ext4 --size 16M --duration 3s --pinner none --json "$R/report.json" & lp=$!
    sleep 3  # inside the run: its kernel log monitor starts after the scratch filesystem is made
    echo "<4>WARNING: CPU: 0 PID: $other at mm/gup.c:1 ci-6.1 fake warning of another process" >/dev/kmsg
    echo "<4>CPU: 0 UID: 0 PID: $other Comm: sleep Not tainted" >/dev/kmsg
    echo "<4>WARNING: CPU: 0 PID: $lp at mm/gup.c:2 ci-6.1 fake warning of longpin" >/dev/kmsg
    wait $lp; rc=$?
    kill $other
    echo "$other" >"$R/other.pid"
    exit $rc'
if [[ -s $WORK/kmsg/report.json ]]; then
    other=$(cat "$WORK/kmsg/other.pid" 2>/dev/null)
    origins=$(json "$WORK/kmsg/report.json" '" ".join("%s:%s:%s" % (e["pid"], e["comm"] or "-", e["origin"].replace(" ", "_")) for e in d["kernel_events"] if e["alarm"])')
    verdict=$(json "$WORK/kmsg/report.json" 'd["verdict"]')
    if [[ $RC -eq 1 && $verdict == fail && $origins == "$other:sleep:other_process "*":-:longpin" ]]; then
        line PASS kmsg "fake warnings fail the run and name their task: $origins"
    else
        line FAIL kmsg "exit $RC, verdict $verdict, events '$origins' (other pid $other): $(tail -n 1 "$WORK/kmsg/err")"
        FAILED=1
    fi
else
    line FAIL kmsg "exit $RC, no report: $(tail -n 1 "$WORK/kmsg/err")"; FAILED=1
fi

guest logwrites --load xfs -- '
    "$LP" run --crash log-writes --fs xfs --size 32M --duration 1s --sync fsync:250ms --json "$R/report.json"'
if [[ -s $WORK/logwrites/report.json ]]; then
    verdict=$(json "$WORK/logwrites/report.json" 'd["verdict"]')
    kv=$(json "$WORK/logwrites/report.json" 'd.get("verification", {}).get("kernel_contract", {}).get("violations", "?")')
    note=$(json "$WORK/logwrites/report.json" 'next((n for n in d["notes"] if n.startswith("log-writes:")), "")')
    placed=$(sed -n 's/^log-writes: \([0-9]*\) mark(s) placed.*/\1/p' <<<"$note")
    checked=$(sed -n 's/.*; \([0-9]*\) crash state(s) checked.*/\1/p' <<<"$note")
    rate=$(sed -n 's/.*checked in \([0-9.]* s (.*states\/s)\).*/\1/p' <<<"$note")
    if [[ $RC -eq 0 && $verdict == pass && $kv == 0 && -n $placed && $placed -gt 0 && $placed == "$checked" ]]; then
        line PASS log-writes "$placed marks placed, $checked crash states checked in $rate, 0 kernel-contract violations"
    else
        line FAIL log-writes "exit $RC, verdict $verdict, marks ${placed:-?}, checked ${checked:-?}, violations $kv: $(tail -n 1 "$WORK/logwrites/err")"
        FAILED=1
    fi
else
    line FAIL log-writes "exit $RC, no report: $(tail -n 1 "$WORK/logwrites/err")"; FAILED=1
fi

# 3. planted faults in a replayed crash state must all be reported.
guest selftest --load xfs -- '
    "$LP" selftest --crash log-writes --fs xfs --clean-runs 0 --size 32M --duration 1s --json "$R/selftest.json"'
if [[ -s $WORK/selftest/selftest.json ]]; then
    verdict=$(json "$WORK/selftest/selftest.json" 'd["verdict"]')
    found=$(json "$WORK/selftest/selftest.json" 'sum(1 for p in d["planted"] if p["detected"])')
    total=$(json "$WORK/selftest/selftest.json" 'len(d["planted"])')
    if [[ $RC -eq 0 && $verdict == pass ]]; then
        line PASS selftest "$found of $total faults planted into a replayed crash state reported"
    else
        line FAIL selftest "exit $RC, verdict $verdict, $found of $total reported: $(json "$WORK/selftest/selftest.json" '"; ".join(d["reasons"][:2])')"
        FAILED=1
    fi
else
    line FAIL selftest "exit $RC, no report: $(tail -n 1 "$WORK/selftest/err")"; FAILED=1
fi

# 4. The findings of the seed discussion, by the two race-script presets alone (no flags beyond --workload):
# on 6.1 both find; on 6.12 neither does (fsync-lies: the pin is refused with EFAULT; the other runs clean).
race_presets='
    for w in fsync-lies pinned-page-loses-buffers; do
        "$LP" run --workload $w --quiet --json "$R/$w.json" >"$R/$w.out" 2>"$R/$w.err"
        echo "$w $?" >>"$R/exits"
    done'
findings() {  # findings DIR PRESET: "violations strict alarms attempts exit"
    local f=$1/$2.json
    [[ -s $f ]] || { echo "no-report"; return; }
    printf '%s %s\n' "$(json "$f" '"%d %d %d %d" % (d["findings"]["kernel_violations"], d["findings"]["strict_misses"], d["findings"]["kernel_alarms"], d["findings"]["attempts"])')" \
        "$(awk -v w="$2" '$1 == w { print $2 }' "$1/exits")"
}
guest race61 --rdma -- "$race_presets"
read -r kv sm ka at ex <<<"$(findings "$WORK/race61" fsync-lies)"
if [[ $kv == no-report ]]; then
    line FAIL fsync-lies "6.1: no report: $(tail -n 1 "$WORK/race61/fsync-lies.err" 2>/dev/null)"; FAILED=1
elif [[ $sm -gt 0 && $ex == 1 ]]; then
    line PASS fsync-lies "6.1: found: $sm DMA blocks acknowledged before fsync returned 0 missing after the crash ($at attempts)"
else
    line FAIL fsync-lies "6.1: no finding (strict $sm, exit $ex, $at attempts): $(tail -n 1 "$WORK/race61/fsync-lies.err")"; FAILED=1
fi
read -r kv sm ka at ex <<<"$(findings "$WORK/race61" pinned-page-loses-buffers)"
if [[ $kv == no-report ]]; then
    line FAIL buffers "6.1: no report: $(tail -n 1 "$WORK/race61/pinned-page-loses-buffers.err" 2>/dev/null)"; FAILED=1
elif [[ $kv -gt 0 && $ka -gt 0 && $ex == 1 ]]; then
    line PASS buffers "6.1: found: $kv kernel-contract violations, $ka kernel alarms ($at attempts)"
else
    line FAIL buffers "6.1: no finding (violations $kv, alarms $ka, exit $ex)"; FAILED=1
fi
if "$RUN" --kernel debian-6.12 --fetch-only 2>"$WORK/fetch612.err" && echo ok >"$WORK/fetch612.ok"; then
    guest race612 --kernel debian-6.12 --rdma -- "$race_presets"
    read -r kv sm ka at ex <<<"$(findings "$WORK/race612" fsync-lies)"
    read -r kv2 sm2 ka2 at2 ex2 <<<"$(findings "$WORK/race612" pinned-page-loses-buffers)"
    if [[ $kv == 0 && $sm == 0 && $ka == 0 && $ex == 77 && $kv2 == 0 && $sm2 == 0 && $ka2 == 0 && $ex2 == 0 && $at2 -gt 0 ]]; then
        line PASS race-6.12 "6.12: fsync-lies refused ($(json "$WORK/race612/fsync-lies.json" 'd["race"]["refused"].split(":")[0]')), pinned-page-loses-buffers clean in $at2 attempts"
    else
        line FAIL race-6.12 "6.12: fsync-lies '$kv $sm $ka exit $ex', buffers '$kv2 $sm2 $ka2 exit $ex2'"; FAILED=1
    fi
else
    line SKIP race-6.12 "Debian 6.12 kernel not available: $(tail -n 1 "$WORK/fetch612.err")"
fi

# matrix: the same cells on 6.1 and 6.12 from one command (longpin boots each kernel once through vm/run), each
# judged by the kernel's rules: io_uring on a shared ext4 mapping refused EOPNOTSUPP on 6.1 and EFAULT on 6.12,
# a writable MR granted on 6.1 and refused on 6.12, memfd and private granted; no cell UNEXPECTED.
T0=$(date +%s.%N)
MK=debian-6.1
[[ -s $WORK/fetch612.ok ]] && MK=debian-6.1,debian-6.12
rc=0
"$BIN" matrix --kernels "$MK" --pinners io_uring,rdma --fs ext4 --mappings shared,private,memfd \
    --duration 1s --rounds 1 --size 32M --quiet --json "$WORK/matrix.json" >"$WORK/matrix.out" 2>"$WORK/matrix.err" || rc=$?
summary=$(json "$WORK/matrix.json" '"%d cells, %d as expected, %d unexpected; 6.1 io_uring/ext4/shared: %s" % (len(d["cells"]), sum(c["as_expected"] is True for c in d["cells"]), sum(c["as_expected"] is False for c in d["cells"]), [c["outcome"] for c in d["cells"] if c["kernel_name"] == "debian-6.1" and c["pinner"] == "io_uring" and c["mapping"] == "shared"][0])')
if [[ $rc -eq 0 && $summary == *" 0 unexpected; 6.1 io_uring/ext4/shared: refused EOPNOTSUPP" ]]; then
    line PASS matrix "$MK: $summary"
else
    line FAIL matrix "$MK: exit $rc; ${summary:-no matrix JSON: $(tail -n 1 "$WORK/matrix.err")}"; FAILED=1
fi

T0=$T_ALL
line "$([[ $FAILED -eq 0 ]] && echo PASS || echo FAIL)" total "all checks under debian-6.1 ($(uname -n), load $(cut -d' ' -f1 /proc/loadavg))"
exit $FAILED
