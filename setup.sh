#!/usr/bin/env bash
# One-command set-up on Debian 12: installs what longpin needs (as root, with apt-get), configures and builds.
#   ./setup.sh            build into ./build (RelWithDebInfo)
#   BUILD_DIR=dir ./setup.sh    another build directory
# Environment: LONGPIN_CMAKE_ARGS adds -D options (e.g. -DLONGPIN_WITH_CUDA=OFF).
set -euo pipefail
cd "$(dirname "$0")"

# Build tools and libraries; the filesystems' mkfs tools; fio and stress-ng for the benchmarks; the qemu
# harness's packages (vm/packages.txt); dpkg-dev and file for `cpack -G DEB`.
packages=(cmake ninja-build g++ clang-14 libclang-rt-14-dev pkg-config
          liburing-dev libgtest-dev libgmock-dev libbenchmark-dev libcli11-dev libfmt-dev nlohmann-json3-dev
          libxxhash-dev libfuse3-dev fuse3 libibverbs-dev rdma-core ibverbs-providers
          e2fsprogs xfsprogs btrfs-progs f2fs-tools util-linux fio kmod iproute2 dmsetup
          libtomlplusplus-dev libmount-dev libdevmapper-dev clang-format-14 chromium groff-base
          dpkg-dev file)
if [[ -f vm/packages.txt ]]; then
  while read -r p; do [[ -n "$p" && "$p" != \#* ]] && packages+=("$p"); done < vm/packages.txt
fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "setup: missing packages: ${missing[*]} (run ./setup.sh as root, or apt-get install them)" >&2
    exit 77
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

build=${BUILD_DIR:-build}
# shellcheck disable=SC2086
cmake -S . -B "$build" -G Ninja ${LONGPIN_CMAKE_ARGS:-}
cmake --build "$build"
ln -sf "$build/compile_commands.json" compile_commands.json
# The qemu harness's kernel (Debian's 6.1, from the package registry), cached for the tests. Not fatal: the
# VM tests skip with the reason when it cannot be had.
if [[ $(id -u) -eq 0 && -x vm/run ]]; then
  vm/run --fetch-only || echo "setup: qemu harness kernel not fetched (the VM tests will skip)" >&2
  vm/run --kernel debian-6.12 --fetch-only || echo "setup: Debian 6.12 kernel not fetched (its VM checks will skip)" >&2
fi
echo "setup: built $build/longpin"
