// Scenario: a named workload's extra actor (truncate under pin, fork under pin, O_DIRECT from a pinned
// mapping, memory pressure ...), run as one more thread of a phase next to the writers, syncers and pinner.
// A scenario logs what it does to the target through its own lane (kPunch for truncates and hole punches, so
// the oracle knows which data must never come back) and counts into its phase's report.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/expected_log.h"
#include "core/hang_watchdog.h"
#include "pinners/pinner.h"
#include "workloads/workload_context.h"

namespace longpin {

struct ScenarioEnv {
  WorkloadContext& ctx;
  Pinner* pinner;  // the phase's pinner; nullptr in an unpinned phase
  LogLane* lane;
  OpSlot* slot;
  uint64_t seed;
  bool pinned_phase;
  // Written only by the scenario thread during the phase, read after it is joined.
  std::map<std::string, uint64_t> counters;
  std::vector<std::string> notes;
  std::vector<std::string> failures;  // checks the scenario itself makes (coherence); each fails the run
};

struct ScenarioInfo {
  const char* name;
  const char* description;
  void (*run)(ScenarioEnv& env);  // returns when ctx.phase_stop is set
};

// Every scenario (workloads/scenarios/*.cc), by name; nullptr when unknown.
const ScenarioInfo* FindScenario(const std::string& name);
const std::vector<ScenarioInfo>& ScenarioRegistry();

}  // namespace longpin
