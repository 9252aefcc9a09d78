#!/usr/bin/env bash
# Runs every test: the GoogleTest suite through ctest (unit and, as root, integration tests on real loop
# filesystems), then the unit tests again in an ASan+UBSan build, then the qemu harness self-check when
# its kernel is cached (vm/run --fetch-only, done by ./setup.sh). Exit 0 only if all passed.
#   ./run-tests.sh                 everything
#   LONGPIN_TEST_QUICK=1 ./run-tests.sh   skip the sanitizer build and the VM job
set -euo pipefail
cd "$(dirname "$0")"
build=${BUILD_DIR:-build}
[[ -f "$build/build.ninja" ]] || ./setup.sh
cmake --build "$build"

status=0
echo "== ctest ($build)"
ctest --test-dir "$build" --output-on-failure --timeout 900 || status=1

if [[ -z "${LONGPIN_TEST_QUICK:-}" ]]; then
  san=${build}-asan
  echo "== unit tests under ASan+UBSan ($san)"
  cmake -S . -B "$san" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DLONGPIN_SANITIZE=address,undefined \
        -DLONGPIN_BUILD_BENCH=OFF >/dev/null
  cmake --build "$san" --target longpin_unit_tests longpin
  ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
    ctest --test-dir "$san" -L unit --output-on-failure || status=1

  if [[ -x vm/test.sh ]]; then
    echo "== qemu harness (vm/test.sh)"
    rc=0
    vm/test.sh || rc=$?
    if [[ $rc -eq 77 ]]; then echo "vm: skipped (exit 77)"; elif [[ $rc -ne 0 ]]; then status=1; fi
    # The 6.1 guest job (rdma on ext4, log-writes crash states on xfs, planted faults in a replayed state,
    # the matrix), only when the harness itself passed; it skips (77) when the kernel is not cached.
    if [[ $rc -eq 0 && -x vm/ci-6.1.sh ]]; then
      echo "== 6.1 guest job (vm/ci-6.1.sh)"
      rc=0
      vm/ci-6.1.sh --binary "$build/longpin" || rc=$?
      if [[ $rc -eq 77 ]]; then echo "vm ci-6.1: skipped (exit 77)"; elif [[ $rc -ne 0 ]]; then status=1; fi
    fi
  fi
fi
exit $status
