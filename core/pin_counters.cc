#include "core/pin_counters.h"

#include <fcntl.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

namespace longpin {
namespace {
bool RefreshVmStat() {
  int fd = ::open("/proc/sys/vm/stat_refresh", O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  bool ok = ::write(fd, "1\n", 2) == 2;
  ::close(fd);
  return ok;
}
}  // namespace

PinCounterSnapshot ReadPinCounters() {
  PinCounterSnapshot s;
  s.refreshed = RefreshVmStat();
  std::ifstream f("/proc/vmstat");
  std::string key;
  uint64_t value = 0;
  int found = 0;
  while (f >> key >> value) {
    if (key == "nr_foll_pin_acquired") {
      s.acquired = value;
      ++found;
    } else if (key == "nr_foll_pin_released") {
      s.released = value;
      ++found;
    }
  }
  s.available = found == 2;
  return s;
}

DirtySnapshot ReadDirtyCounters() {
  DirtySnapshot s;
  std::ifstream f("/proc/vmstat");
  std::string key;
  uint64_t value = 0;
  while (f >> key >> value) {
    if (key == "nr_dirty") s.dirty = value;
    else if (key == "nr_writeback") s.writeback = value;
  }
  return s;
}

}  // namespace longpin
