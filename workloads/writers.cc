#include "workloads/writers.h"

#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <ctime>
#include <memory>

namespace longpin {
namespace {

thread_local sigjmp_buf* t_store_guard = nullptr;

void OnSigbus(int sig, siginfo_t*, void*) {
  if (t_store_guard) siglongjmp(*t_store_guard, 1);
  // Not a guarded store: die as the default action would.
  ::signal(sig, SIG_DFL);
  ::raise(sig);
}

// Stamps a block through the mapping; false when the store faulted (SIGBUS). Kept apart from the writer loop
// so that no local of the loop lives across sigsetjmp.
[[gnu::noinline]] bool GuardedStamp(const StampPattern& pattern, const StampId& id, std::byte* dst) {
  sigjmp_buf guard;
  if (sigsetjmp(guard, 1) != 0) {
    t_store_guard = nullptr;
    return false;
  }
  t_store_guard = &guard;
  StampBlock(pattern, id, dst);
  t_store_guard = nullptr;
  return true;
}

}  // namespace

WritePacer::WritePacer(double rate)
    : interval_ns_(rate > 0 ? uint64_t(1e9 / rate) : 0), next_ns_(MonotonicNs()) {}

void WritePacer::Wait() {
  if (!interval_ns_) return;
  next_ns_ += interval_ns_;
  const uint64_t now = MonotonicNs();
  if (next_ns_ > now) {
    timespec ts{time_t((next_ns_ - now) / 1000000000ULL), long((next_ns_ - now) % 1000000000ULL)};
    ::nanosleep(&ts, nullptr);
  } else if (now - next_ns_ > 100 * interval_ns_) {
    next_ns_ = now;  // fell far behind (a long fsync stall): do not burst to catch up
  }
}

void InstallMappedStoreGuard() {
  struct sigaction sa {};
  sa.sa_sigaction = OnSigbus;
  sa.sa_flags = SA_SIGINFO | SA_NODEFER;
  sigemptyset(&sa.sa_mask);
  ::sigaction(SIGBUS, &sa, nullptr);
}

namespace {

// Logs a write's outcome and counts it (err 0: completed; the block's generation is then promised by the next
// sync that starts after this record); with --sync OP:each-write, syncs it at once.
void FinishWrite(WorkloadContext& ctx, WriterKind kind, int writer_id, uint64_t block, uint64_t generation,
                 int err, const char* error_key, LogLane* lane, OpSlot* slot, WriterTally* tally) {
  if (err) {
    lane->Append(RecordType::kWriteFailed, uint8_t(kind), uint16_t(writer_id), uint32_t(err), block,
                 generation);
    tally->errors[error_key]++;
    // A failing target (shut down, full, truncated) fails again at once: do not spin on it.
    ::usleep(10000);
    return;
  }
  lane->Append(RecordType::kWrite, uint8_t(kind), uint16_t(writer_id), 0, block, generation);
  ++tally->completed;
  if (tally->own_syncs)
    RunOneSync(ctx, ctx.config->sync_op, uint16_t(writer_id), lane, slot, tally->own_syncs.get());
}

}  // namespace

void RunCpuWriter(WorkloadContext& ctx, int writer_id, uint64_t seed, LogLane* lane, OpSlot* slot,
                  WriterTally* tally) {
  BindThreadToSlot(slot);
  SplitMix rng{seed};
  const uint64_t owned = ctx.OwnedCount(writer_id);
  if (owned == 0) return;
  const size_t bs = ctx.block_size();
  StampId id{ctx.run_id, 0, 0, WriterKind::kCpu, uint32_t(writer_id), 0};
  WritePacer pacer(ctx.config->rate);
  while (!ctx.phase_stop.load(std::memory_order_relaxed)) {
    pacer.Wait();
    const uint64_t b = ctx.OwnedBlock(writer_id, rng.Next() % owned);
    id.block = b;
    id.generation = ++ctx.generations[b];
    bool faulted;
    {
      OpScope op(slot, OpKind::kWrite);
      faulted = !GuardedStamp(*ctx.pattern, id, ctx.map + b * bs);
    }
    FinishWrite(ctx, WriterKind::kCpu, writer_id, b, id.generation, faulted ? EFAULT : 0, "cpu SIGBUS", lane,
                slot, tally);
  }
  lane->Publish();
}

void RunPwriteWriter(WorkloadContext& ctx, int writer_id, uint64_t seed, LogLane* lane, OpSlot* slot,
                     WriterTally* tally) {
  BindThreadToSlot(slot);
  SplitMix rng{seed};
  const uint64_t owned = ctx.OwnedCount(writer_id);
  if (owned == 0) return;
  const size_t bs = ctx.block_size();
  std::unique_ptr<std::byte, decltype(&std::free)> buf(
      static_cast<std::byte*>(std::aligned_alloc(4096, bs < 4096 ? 4096 : bs)), &std::free);
  StampId id{ctx.run_id, 0, 0, WriterKind::kPwrite, uint32_t(writer_id), 0};
  WritePacer pacer(ctx.config->rate);
  while (!ctx.phase_stop.load(std::memory_order_relaxed)) {
    pacer.Wait();
    const uint64_t b = ctx.OwnedBlock(writer_id, rng.Next() % owned);
    id.block = b;
    id.generation = ++ctx.generations[b];
    StampBlock(*ctx.pattern, id, buf.get());
    ssize_t n;
    int err = 0;
    {
      OpScope op(slot, OpKind::kWrite);
      do {
        n = ::pwrite(ctx.fd, buf.get(), bs, off_t(b * bs));
      } while (n < 0 && errno == EINTR);
      if (n < 0) err = errno;
    }
    if (n != ssize_t(bs) && n >= 0)
      err = EIO;  // a short write of one block: the rest may or may not be there
    const std::string key = err ? "pwrite " + std::string(ErrnoName(err)) : std::string();
    FinishWrite(ctx, WriterKind::kPwrite, writer_id, b, id.generation, err, key.c_str(), lane, slot, tally);
  }
  lane->Publish();
}

}  // namespace longpin
