#!/bin/bash
# Every bad input a user can give longpin (options, conflicts, names, race scripts, damaged or missing run
# state), each checked for: exactly one line on stderr, the documented exit code (README "Exit codes"), and
# nothing left behind: no new run directory, mount, loop device, cgroup or process.
#
# Usage: tests/bad_input.sh PATH/TO/longpin   (as root; exit 77 otherwise)
# BAD_INPUT_DAMAGED_LOGS=N: seeded bit flips of a real expected log that `verify` must refuse (default 50).
set -u

LONGPIN=${1:?usage: $0 PATH/TO/longpin}
if [ "$(id -u)" != 0 ]; then
  echo "SKIP: needs root (scratch filesystems, loop devices, power-cut state)"
  exit 77
fi
[ -x "$LONGPIN" ] || { echo "FAIL: $LONGPIN is not an executable"; exit 1; }

TMP=$(mktemp -d /var/tmp/bad-input-of-longpin.XXXXXX) || exit 1
# The power-cut fixture's target must not share a filesystem with its state directory.
SHM=$(mktemp -d /dev/shm/bad-input-of-longpin.XXXXXX 2>/dev/null) || SHM=
cleanup() {
  "$LONGPIN" cleanup --workdir "$TMP/work" >/dev/null 2>&1
  rm -rf "$TMP" ${SHM:+"$SHM"}
}
trap cleanup EXIT
WORK=$TMP/work
mkdir -p "$WORK"
export LONGPIN_WORKDIR=$WORK  # where a command that is not given --workdir would make its run directory
REPORT=$TMP/report.json
failures=0

loops_of_ours() { losetup -a 2>/dev/null | grep -F -e "$TMP" -e "${SHM:-$TMP}" | sort; }
mounts_of_ours() { findmnt -rn -o TARGET 2>/dev/null | grep -F -e "$TMP" -e "${SHM:-$TMP}" | sort; }
cgroups() { ls -d /sys/fs/cgroup/longpin-* 2>/dev/null | sort; }

# check NAME EXIT_CODE STDERR_LINES ARGS...: runs longpin ARGS in a session of its own and checks it.
check() {
  local name=$1 want_rc=$2 want_lines=$3
  shift 3
  local before_dirs before_loops before_mounts before_cgroups
  before_dirs=$(ls -A "$WORK")
  before_loops=$(loops_of_ours)
  before_mounts=$(mounts_of_ours)
  before_cgroups=$(cgroups)
  # Not a process group leader, so setsid execs timeout itself: its pid is the session's id, and longpin and
  # whatever it forks stay in that session.
  setsid timeout -s KILL 120 "$LONGPIN" "$@" >"$TMP/out" 2>"$TMP/err" </dev/null &
  local sid=$! rc
  wait "$sid"
  rc=$?
  local why=() lines
  lines=$(wc -l <"$TMP/err")
  [ "$rc" = "$want_rc" ] || why+=("exit $rc, want $want_rc")
  [ "$lines" = "$want_lines" ] || why+=("$lines lines on stderr, want $want_lines")
  if grep -q "terminate called\|Assertion\|Sanitizer" "$TMP/err"; then why+=("crashed"); fi
  local left
  left=$(pgrep -s "$sid" 2>/dev/null | tr '\n' ' ')
  [ -z "$left" ] || why+=("processes left: $left")
  [ "$(ls -A "$WORK")" = "$before_dirs" ] ||
    why+=("left in the work directory: $(ls -A "$WORK" | tr '\n' ' ')")
  [ "$(loops_of_ours)" = "$before_loops" ] || why+=("loop device left: $(loops_of_ours | tr '\n' ' ')")
  [ "$(mounts_of_ours)" = "$before_mounts" ] || why+=("mount left: $(mounts_of_ours | tr '\n' ' ')")
  [ "$(cgroups)" = "$before_cgroups" ] ||
    why+=("cgroup left: $(comm -13 <(echo "$before_cgroups") <(cgroups) | tr '\n' ' ')")
  if [ ${#why[@]} = 0 ]; then
    echo "PASS $name"
  else
    local IFS=';'
    echo "FAIL $name: ${why[*]} (stderr: $(head -c 300 "$TMP/err" | tr '\n' ' '))"
    failures=$((failures + 1))
    # The next case starts clean: what this one left must not be blamed on it.
    "$LONGPIN" cleanup --workdir "$WORK" >/dev/null 2>&1
    rm -rf "${WORK:?}"/*
  fi
}

run() { check "$1" "$2" 1 run --workdir "$WORK" --json "$REPORT" "${@:3}"; }

# Options: malformed, out of range, empty, unknown names.
run "unknown option" 2 --bogus
run "malformed size" 2 --size 12Q
run "block size not a power of two" 2 --block-size 3000
run "block size too large" 2 --block-size 4M
run "duration zero" 2 --duration 0
run "negative duration" 2 --duration=-2s
run "rounds zero" 2 --rounds 0
run "pin windows zero" 2 --pin-windows 0
run "negative rate" 2 --rate -5
run "seed not a number" 2 --seed abc
run "negative writer count" 2 --writers cpu:-1
run "unknown writer kind" 2 --writers gpu:2
run "size larger than free space" 2 --size 1024T
for opt in --size --duration --fs --pinner --block-size --mapping --sync --writers --race; do
  run "empty value of $opt" 2 "$opt" ""
done
run "unknown pinner" 2 --pinner no-such-pinner
run "--pinner-option with an unknown key" 2 --pinner vmsplice --pinner-option foo=1
run "unknown filesystem" 2 --fs zfs
run "missing dir: filesystem" 2 --fs dir:/nonexistent/longpin
run "unknown mapping" 2 --mapping bogus
run "unknown sync op" 2 --sync bogus
run "unknown sync schedule" 2 --sync fsync:never
run "unknown phase" 2 --phases warmup
run "unknown crash model" 2 --crash bogus
run "unknown contract" 2 --contract bogus
run "unknown workload preset" 2 --workload no-such
run "job file that does not exist" 2 "$TMP/no-such-job.toml"
run "directory as job file" 2 "$TMP"

# Conflicting options.
run "--target with --fs" 2 --target "$TMP/target-file" --fs xfs
run "memory mapping with --fs" 2 --fs xfs --mapping memfd
run "--state-dir without a two-phase crash" 2 --state-dir "$TMP/state-unused"
run "--pin-hold for a pinner that does not hold" 2 --pinner odirect --pin-hold 1s
run "--pin-access ro for io_uring" 2 --pinner io_uring --pin-access ro
run "--race with --mapping private" 2 --race pin,store,sync,verify --mapping private

# Output paths that cannot be written.
run "--json in a directory that does not exist" 2 --json /nonexistent/dir/r.json
run "--json naming a directory" 2 --json "$TMP"
run "--html in a directory that does not exist" 2 --html /nonexistent/dir/r.html

# Race scripts that make no sense.
run "race: unknown step" 2 --race bogus
run "race: steps after verify" 2 --race verify,pin
run "race: pin twice" 2 --race pin,pin,verify
run "race: dma-finish before dma-start" 2 --race pin,dma-finish,verify
run "race: dma-start with a pinner that cannot write" 2 --race pin,dma-start,verify --pinner vmsplice

# Unavailable combinations: cannot run here (77), found before any work.
if [ "$(awk '/^HugePages_Free/ {print $2}' /proc/meminfo)" = 0 ]; then
  run "hugetlb mapping without free huge pages" 77 --mapping hugetlb
else
  echo "SKIP hugetlb mapping without free huge pages: this machine has free huge pages"
fi
if "$LONGPIN" list filesystems 2>/dev/null | grep -q '^ *btrfs *available'; then
  # btrfs gained FS_IOC_SHUTDOWN in 6.8 (and only with the ioctl built in); probe it as longpin does.
  run "--crash shutdown on btrfs without FS_IOC_SHUTDOWN" 77 --crash shutdown --fs btrfs --duration 1s \
    --size 16M --rounds 1
fi

# Other commands.
check "matrix: empty pinner list" 2 1 matrix --pinners "" --workdir "$WORK"
check "matrix: empty filesystem list" 2 1 matrix --fs "" --workdir "$WORK"
check "matrix: unknown kernel" 2 1 matrix --kernels bogus --workdir "$WORK"
check "matrix: unknown pinner" 2 1 matrix --pinners no-such-pinner --workdir "$WORK"
check "list: unknown topic" 2 1 list bogus
check "no subcommand" 2 1
check "unknown subcommand" 2 1 bogus-command
check "verify without --state-dir" 2 1 verify
check "verify: empty --state-dir" 2 1 verify --state-dir ""
check "verify: a directory that is no run" 2 1 verify --state-dir "$TMP"
check "verify: a directory that does not exist" 2 1 verify --state-dir "$TMP/no-such-state"

# Damaged run state: a real power-cut run's state directory, then each damage on a copy of it.
if [ -n "$SHM" ]; then
  STATE=$TMP/state
  if "$LONGPIN" run --target "$SHM/target" --crash power-cut --state-dir "$STATE" --duration 1s --size 4M \
    --rounds 1 --quiet --workdir "$WORK" >"$TMP/out" 2>"$TMP/err"; then
    damaged() { rm -rf "$TMP/damaged" && cp -r "$STATE" "$TMP/damaged"; }
    flip_byte() { printf '\xa5' | dd of="$1" bs=1 seek="$2" conv=notrunc status=none; }
    damaged && flip_byte "$TMP/damaged/expected.log" 50000
    check "verify: a byte of expected.log changed" 3 1 verify --state-dir "$TMP/damaged"
    damaged && truncate -s 100001 "$TMP/damaged/expected.log"
    check "verify: expected.log truncated inside a chunk" 3 1 verify --state-dir "$TMP/damaged"
    damaged && : >"$TMP/damaged/expected.log"
    check "verify: empty expected.log" 3 1 verify --state-dir "$TMP/damaged"
    damaged && rm "$TMP/damaged/expected.log"
    check "verify: expected.log missing" 3 1 verify --state-dir "$TMP/damaged"
    damaged && sed -i 's/"state_version": *2/"state_version": 7/' "$TMP/damaged/state.json"
    check "verify: state.json of an unknown version" 3 1 verify --state-dir "$TMP/damaged"
    damaged && sed -i 's/"block_count": *\([0-9]*\)/"block_count": 1\1/' "$TMP/damaged/state.json"
    check "verify: state.json field changed" 3 1 verify --state-dir "$TMP/damaged"
    damaged && echo '{' >"$TMP/damaged/state.json"
    check "verify: state.json not JSON" 3 1 verify --state-dir "$TMP/damaged"
    # A cut at a page boundary is what a power cut leaves: weaker, never a verdict against the kernel.
    damaged && truncate -s 102400 "$TMP/damaged/expected.log"
    check "verify: expected.log cut at a page boundary (not damage)" 0 0 verify --state-dir "$TMP/damaged"
    # A moved state directory reads its own log, not the path recorded at the run.
    damaged && mv "$TMP/damaged" "$TMP/moved" && flip_byte "$STATE/expected.log" 50000
    check "verify: moved state directory reads its own log" 0 0 verify --state-dir "$TMP/moved"
    cp "$TMP/moved/expected.log" "$STATE/expected.log"
    # Seeded bit flips anywhere in the log: every one an error of the log (3), never a kernel verdict (1).
    size=$(stat -c %s "$STATE/expected.log")
    RANDOM=12
    flips=${BAD_INPUT_DAMAGED_LOGS:-50}
    not_refused=""
    for _ in $(seq 1 "$flips"); do
      off=$(((RANDOM * 32768 + RANDOM) % size))
      bit=$((RANDOM % 8))
      damaged
      byte=$(od -An -tu1 -j "$off" -N1 "$TMP/damaged/expected.log" | tr -d ' ')
      printf "$(printf '\\%03o' $((byte ^ (1 << bit))))" |
        dd of="$TMP/damaged/expected.log" bs=1 seek="$off" conv=notrunc status=none
      "$LONGPIN" verify --state-dir "$TMP/damaged" >/dev/null 2>&1
      rc=$?
      [ "$rc" = 3 ] || not_refused="$not_refused offset $off bit $bit: exit $rc;"
    done
    if [ -z "$not_refused" ]; then
      echo "PASS verify: $flips seeded bit flips of expected.log, each exit 3"
    else
      echo "FAIL verify: seeded bit flips not refused:$not_refused"
      failures=$((failures + 1))
    fi
  else
    echo "FAIL power-cut fixture run: $(head -c 300 "$TMP/err" | tr '\n' ' ')"
    failures=$((failures + 1))
  fi
else
  echo "SKIP damaged run state: no /dev/shm for a target apart from the state directory"
fi

if [ "$failures" != 0 ]; then
  echo "$failures case(s) failed"
  exit 1
fi
exit 0
