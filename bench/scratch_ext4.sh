# Sourced by the bench scripts: a scratch ext4 of 2 GiB on a loop device, mounted in a private mount namespace
# (nothing is visible to, or left behind for, the rest of the system, even if the script is killed).
#
#   source "$(dirname "$0")/scratch_ext4.sh"
#   scratch_ext4 NAME TOOL...   checks root and the tools, re-runs the script in its own mount namespace, and
#                               sets $work (a temp dir, removed on exit), $loop and $mnt (the mounted ext4)
# LOOP_DIRECT_IO=1 attaches the loop device with --direct-io=on: the I/O then reaches the host disk instead of
# the host's page cache of the image file.

scratch_ext4() {
  local name=$1
  shift
  [[ $(id -u) == 0 ]] || { echo "$name: needs root (loop device, mount)" >&2; exit 77; }
  local tool
  for tool in mkfs.ext4 losetup unshare python3 "$@"; do
    command -v "$tool" >/dev/null || { echo "$name: $tool not installed" >&2; exit 77; }
  done
  if [[ -z ${LONGPIN_BENCH_IN_NS:-} ]]; then
    exec env LONGPIN_BENCH_IN_NS=1 unshare -m --propagation private "$0" "${SCRIPT_ARGS[@]}"
  fi
  work=$(mktemp -d "/var/tmp/longpin-$name.XXXXXX")
  loop=
  mnt=$work/mnt
  trap 'umount "$mnt" 2>/dev/null || true; [[ -n $loop ]] && losetup -d "$loop" 2>/dev/null; rm -rf "$work"' EXIT
  truncate -s 2G "$work/img"
  mkfs.ext4 -q -F "$work/img"
  loop=$(losetup -f --show --direct-io="$([[ ${LOOP_DIRECT_IO:-0} == 1 ]] && echo on || echo off)" "$work/img")
  mkdir "$mnt"
  mount -t ext4 "$loop" "$mnt"
}
