#include "core/kernel_release.h"

#include <sys/utsname.h>

namespace longpin {

std::string KernelRelease() {
  utsname u{};
  return ::uname(&u) == 0 ? u.release : "";
}

}  // namespace longpin
