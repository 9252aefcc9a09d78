# Packaging: `cpack -G DEB` in a build directory makes a Debian package of what `cmake --install` installs, so
# that a lab installs longpin with apt and gets its libraries with it.
#
# The libraries' packages (libibverbs1, liburing2, libfuse3-3, libstdc++6, ...) are not listed here:
# dpkg-shlibdeps (dpkg-dev) reads them off the binary, so a build without RDMA or FUSE does not depend on them
# and a library's package is named as the distribution names it. What longpin runs rather than links (mkfs of
# each filesystem, the qemu harness) is recommended: a run that lacks one skips or falls back with the reason.
set(LONGPIN_PACKAGE_MAINTAINER "longpin developers <longpin@localhost>"
    CACHE STRING "Maintainer field of the Debian package")

set(CPACK_PACKAGE_NAME longpin)
set(CPACK_PACKAGE_VENDOR longpin)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "${LONGPIN_PACKAGE_MAINTAINER}")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "workload generator for long-term pinned file-backed pages under writeback and fsync")
set(CPACK_GENERATOR DEB)
# The debug information of a RelWithDebInfo build is most of the binary's size; a lab's package does not need it.
set(CPACK_STRIP_FILES ON)

set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${LONGPIN_PACKAGE_MAINTAINER}")
set(CPACK_DEBIAN_PACKAGE_SECTION utils)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# The installed vm/run (other kernels under qemu) needs qemu-system-x86 and busybox-static.
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS
    "e2fsprogs, xfsprogs, btrfs-progs, f2fs-tools, fuse3, rdma-core, ibverbs-providers, dmsetup, kmod, iproute2, \
qemu-system-x86, busybox-static")
# fio runs the baseline comparisons of bench/ (not installed), by hand from the source tree.
set(CPACK_DEBIAN_PACKAGE_SUGGESTS fio)
# The extended description; CPack puts CPACK_PACKAGE_DESCRIPTION_SUMMARY above it as the synopsis.
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION
    "Holds pages of a file mapping under long-term pins (vmsplice, io_uring fixed buffers, O_DIRECT in flight,
a FUSE device, RDMA memory regions, CUDA host registration) while writer threads write the mapped file and
syncer threads fsync it, then checks what is on the disk against an expected log after a sync or a crash.
Reports fsync latency under pins, kernel warnings, hangs, pin leaks and data a successful sync promised.
Presets in /usr/share/longpin/presets; the qemu harness for other kernels in /usr/share/longpin/vm.")

include(CPack)
