// Syncer: calls the sync operation on a fixed schedule, logs its start (the promise point's sequence
// number is taken before the call) and end (duration, errno), and records the latency.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "core/latency_histogram.h"
#include "core/live_counter.h"
#include "core/writeback_trace.h"
#include "workloads/workload_context.h"

namespace longpin {

struct SyncerTally {
  LatencyHistogram latency;
  LiveLatency live;                        // the same samples, for the progress line while the phase runs
  std::map<std::string, uint64_t> errors;  // "fsync EIO" -> count
  // Set before the thread starts, both optional: how pages written are measured, and the pages pinned now.
  WritebackTrace* writeback = nullptr;
  const LiveCounter* pinned_pages = nullptr;
  // One record per sync, preallocated by RunSyncer before its first sync (the sync path never allocates);
  // syncs beyond the capacity are counted, not recorded. The probe lives on the syncer thread's stack.
  std::vector<SyncCallRecord> records;
  uint64_t records_dropped = 0;
  SyncProbe* probe = nullptr;
};

// The records of every syncer of a phase, with their pages written (tracefs events attributed now that the
// threads are joined), in start order; *events_lost: tracefs events the kernel dropped.
std::vector<SyncCallRecord> CollectSyncRecords(WritebackTrace& trace, std::vector<SyncerTally>& tallies,
                                               uint64_t* dropped, uint64_t* events_lost);

// Calls op on [offset, offset+len) of the file fd mapped at map (msync and sync_file_range use the range; the
// others sync the whole file or filesystem). The errno, 0 on success.
int CallSyncOp(SyncOpKind op, int fd, std::byte* map, uint64_t offset, uint64_t len);

// Runs one sync op now, logged. Returns the errno (0 on success). Also used for the final sync.
int RunOneSync(WorkloadContext& ctx, SyncOpKind op, uint16_t syncer, LogLane* lane, OpSlot* slot,
               SyncerTally* tally);
void RunSyncer(WorkloadContext& ctx, int syncer_id, LogLane* lane, OpSlot* slot, SyncerTally* tally);

}  // namespace longpin
