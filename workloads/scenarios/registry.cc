// The scenario table: one entry per workloads/scenarios/*.cc actor.
#include "workloads/scenario.h"
#include "workloads/scenarios/scenarios.h"

namespace longpin {

const std::vector<ScenarioInfo>& ScenarioRegistry() {
  static const std::vector<ScenarioInfo> table = {
      // [scenarios: entries]
      kTruncateUnderPin, kForkUnderPin, kDioJournal, kReclaimUnderPin, kCompactUnderPin,
  };
  return table;
}

const ScenarioInfo* FindScenario(const std::string& name) {
  for (const auto& s : ScenarioRegistry())
    if (name == s.name) return &s;
  return nullptr;
}

}  // namespace longpin
