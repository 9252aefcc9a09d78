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

// Calls op on [offset, offset+len) of the file fd mapped at map (msync and sync_file_range use the range; the
// others sync the whole file or filesystem). The errno, 0 on success.
int CallSyncOp(SyncOpKind op, int fd, std::byte* map, uint64_t offset, uint64_t len);

// Runs one sync op now, logged. Returns the errno (0 on success). Also used for the final sync.
int RunOneSync(WorkloadContext& ctx, SyncOpKind op, uint16_t syncer, LogLane* lane, OpSlot* slot,
               SyncerTally* tally);
void RunSyncer(WorkloadContext& ctx, int syncer_id, LogLane* lane, OpSlot* slot, SyncerTally* tally);

}  // namespace longpin
