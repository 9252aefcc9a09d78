// `longpin list`: what this machine offers (pinners with the pin kind measured on this kernel, filesystems,
// mappings, presets), each with its availability and the reason when it is unavailable.
#pragma once

#include <optional>
#include <string>

#include "workloads/target.h"

namespace longpin {

struct MappingAvailability {
  std::optional<std::string> why_not;  // nullopt: usable here
  std::string detail;                  // what the mapping is here, when usable
};
// Checked the way the run's Target would set each mapping up (workloads/target.cc), so that `list` says
// before a run what the run would otherwise find out, or silently fall back from.
MappingAvailability MappingHere(MappingKind m);

// Prints the list named by `what` (pinners, filesystems, mappings, workloads; empty: all); 2 for another
// name.
int ListCommand(const std::string& what);

}  // namespace longpin
