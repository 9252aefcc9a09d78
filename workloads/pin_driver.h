// PinDriver: the pinner thread of a pinned phase. Holds --pin-windows windows of --pin-window bytes at
// seeded random offsets, releases the oldest and pins a new one every --pin-rotate, logs every pin and
// unpin (refusals with their errno), and, for pinners that can write, writes stamped blocks it owns into
// the held windows through the pin (writer kind dma) between rotations.
#pragma once

#include "pinners/pinner.h"
#include "report/run_report.h"
#include "workloads/workload_context.h"
#include "workloads/writers.h"

namespace longpin {

struct PinDriverTally {
  PinStats pins;
  WriterTally dma;
  LiveCounter held_pages;      // pages pinned right now (the progress line)
  std::vector<PinSpan> spans;  // for the timeline (appended on pin and unpin: not a hot path)
  uint64_t run_start_ns = 0;
};

// dma_writer_id < 0: the pinner does not write. pinner_index: the pinner's registry index (in the log).
void RunPinDriver(WorkloadContext& ctx, Pinner& pinner, uint8_t pinner_index, int dma_writer_id,
                  uint64_t seed, LogLane* lane, OpSlot* slot, PinDriverTally* tally);

}  // namespace longpin
