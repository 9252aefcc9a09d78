// The scenario actors of workloads/scenarios/*.cc, one ScenarioInfo each, listed in registry.cc.
#pragma once

#include "workloads/scenario.h"

namespace longpin {

extern const ScenarioInfo kTruncateUnderPin;
extern const ScenarioInfo kForkUnderPin;
extern const ScenarioInfo kDioJournal;
extern const ScenarioInfo kReclaimUnderPin;
extern const ScenarioInfo kCompactUnderPin;

}  // namespace longpin
