// LogLane::Append per record, with the flusher thread running and writing a real log file in /var/tmp: the
// cost a writer pays per write for the expected log, including the waits when the flusher falls behind
// (counted as backpressure_waits). Writers here append as fast as they can, far faster than any real
// writer (a 4 KiB write costs ~1 us), so the waits are an upper bound of what a run sees.
//
//   log_append_bench --benchmark_repetitions=3
// Time is wall time per Append per thread (what each writer pays); appends_per_second is all threads
// together.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "core/block_stamp.h"
#include "core/expected_log.h"

namespace longpin {
namespace {

constexpr int kMaxThreads = 3;

// One log per benchmark run: made in Setup (before the threads start, as NewLane requires), closed and
// removed in Teardown (after they are joined, as Close requires).
std::unique_ptr<ExpectedLog> g_log;
LogLane* g_lanes[kMaxThreads];
std::string g_dir;

void MakeLog(const benchmark::State& state) {
  char tmpl[] = "/var/tmp/longpin-log-bench-XXXXXX";
  if (!::mkdtemp(tmpl)) {
    std::perror("mkdtemp /var/tmp/longpin-log-bench-XXXXXX");
    std::exit(1);
  }
  g_dir = tmpl;
  const bool durable = state.range(0) != 0;
  auto log = ExpectedLog::Create(g_dir + "/expected.log", 0x1234, 4096, 65536, durable);
  if (!log.ok()) {
    std::fprintf(stderr, "%s\n", log.status().message().c_str());
    std::exit(1);
  }
  g_log = std::move(*log);
  for (auto& lane : g_lanes) lane = g_log->NewLane();
}

void RemoveLog(const benchmark::State&) {
  for (LogLane* lane : g_lanes) lane->Publish();
  Status s = g_log->Close(true);
  if (!s.ok()) std::fprintf(stderr, "%s\n", s.message().c_str());
  const std::string path = g_log->path();
  g_log.reset();
  ::unlink(path.c_str());
  ::rmdir(g_dir.c_str());
}

void BM_LogAppend(benchmark::State& state) {
  LogLane* lane = g_lanes[state.thread_index()];
  const uint64_t waits_before = lane->backpressure_waits();
  const uint16_t writer = uint16_t(state.thread_index());
  uint64_t block = uint64_t(state.thread_index()) << 20, gen = 1;
  for (auto _ : state) {
    benchmark::DoNotOptimize(
        lane->Append(RecordType::kWrite, uint8_t(WriterKind::kPwrite), writer, 0, block, gen));
    if ((++block & 0xffff) == 0) ++gen;
  }
  state.counters["appends_per_second"] =
      benchmark::Counter(double(state.iterations()), benchmark::Counter::kIsRate);
  state.counters["backpressure_waits"] = double(lane->backpressure_waits() - waits_before);
  state.counters["waits_per_M_appends"] =
      benchmark::Counter(1e6 * double(lane->backpressure_waits() - waits_before) / double(state.iterations()),
                         benchmark::Counter::kAvgThreads);
}
// Arg: durable (0 = the sync-check log, 1 = the power-cut log whose flusher fdatasyncs every pass).
BENCHMARK(BM_LogAppend)
    ->ArgName("durable")
    ->Arg(0)
    ->Arg(1)
    ->DenseThreadRange(1, kMaxThreads)
    ->UseRealTime()
    ->Setup(MakeLog)
    ->Teardown(RemoveLog);

// The shared sequence number alone: the one contended cache line every Append touches, for reference.
std::atomic<uint64_t> g_seq{1};
void BM_SequenceNumberOnly(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(g_seq.fetch_add(1, std::memory_order_acq_rel));
}
BENCHMARK(BM_SequenceNumberOnly)->DenseThreadRange(1, kMaxThreads)->UseRealTime();

}  // namespace
}  // namespace longpin

BENCHMARK_MAIN();
