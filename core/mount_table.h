// The mount table of this mount namespace, read with util-linux's libmount (which unescapes every field and
// follows the kernel's format changes), for the parts that must tell their own mounts from the user's.
#pragma once

#include <string>
#include <vector>

namespace longpin {

struct MountEntry {
  std::string point;              // where it is mounted
  std::string source;             // the device or "fusectl", "tmpfs" ...
  std::string fstype;             // "ext4", "fuse.longpin" ...
  unsigned major = 0, minor = 0;  // the st_dev of files on it (FUSE connections are named by the minor)
};

// Empty when /proc/self/mountinfo cannot be read.
std::vector<MountEntry> MountTable();
std::vector<std::string> MountPoints();

}  // namespace longpin
