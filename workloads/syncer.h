// Syncer: calls the sync operation on a fixed schedule, logs its start (the promise point's sequence
// number is taken before the call) and end (duration, errno), and records the latency.
#pragma once

#include <map>
#include <string>

#include "core/latency_histogram.h"
#include "workloads/workload_context.h"

namespace longpin {

struct SyncerTally {
  LatencyHistogram latency;
  LiveLatency live;  // the same samples, for the progress line while the phase runs
  std::map<std::string, uint64_t> errors;  // "fsync EIO" -> count
};

// Runs one sync op now, logged. Returns the errno (0 on success). Also used for the final sync.
int RunOneSync(WorkloadContext& ctx, SyncOpKind op, uint16_t syncer, LogLane* lane, OpSlot* slot,
               SyncerTally* tally);
void RunSyncer(WorkloadContext& ctx, int syncer_id, LogLane* lane, OpSlot* slot, SyncerTally* tally);

}  // namespace longpin
