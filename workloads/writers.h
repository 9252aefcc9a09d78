// Writers (mutators): each writes stamped blocks it owns through one channel, logs the completion, and
// counts. A write is complete when its stores are done (CPU) or the syscall returned (pwrite).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "core/expected_log.h"
#include "core/hang_watchdog.h"
#include "core/live_counter.h"
#include "core/split_mix.h"
#include "workloads/syncer.h"
#include "workloads/workload_context.h"

namespace longpin {

struct WriterTally {
  LiveCounter completed;                   // read by the progress line while the writer runs
  std::map<std::string, uint64_t> errors;  // "pwrite ENOSPC" -> count
  // Failures the workload caused on purpose (a write into a tail a scenario had truncated away): reported,
  // and still logged as failed writes for the oracle, but not IO errors of the run.
  std::map<std::string, uint64_t> expected_errors;
  // --sync OP:each-write: the writer's own syncs (nullptr otherwise).
  std::unique_ptr<SyncerTally> own_syncs;
};

// Installs the SIGBUS handler that turns a fault on a mapped store (ENOSPC, EIO, a shut-down filesystem)
// into a failed write of the writer that made it. Call once before writers start.
void InstallMappedStoreGuard();

// writer_id: the writer's index among all writers (decides its blocks). seed: its random stream.
void RunCpuWriter(WorkloadContext& ctx, int writer_id, uint64_t seed, LogLane* lane, OpSlot* slot,
                  WriterTally* tally);
void RunPwriteWriter(WorkloadContext& ctx, int writer_id, uint64_t seed, LogLane* lane, OpSlot* slot,
                     WriterTally* tally);

// Paces a writer at --rate writes per second (no-op at 0): sleeps until the next slot is due.
class WritePacer {
 public:
  explicit WritePacer(double rate);
  void Wait();

 private:
  uint64_t interval_ns_ = 0;
  uint64_t next_ns_ = 0;
};

}  // namespace longpin
