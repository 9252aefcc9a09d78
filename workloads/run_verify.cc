// The end of a run's IO and its check: the final sync (the promise point of a sync check), the crash model's
// recovery after a crash, the oracle's judgement of the target against the expected log, and the crash
// model's own crash states.
#include <cstring>

#include "verifiers/disk_reader.h"
#include "workloads/run_session.h"
#include "workloads/syncer.h"

namespace longpin {

namespace {

// Private mappings never reach the file: their check is coherence, read from the mapping itself.
std::optional<DiskImage> ReadPrivateMapping(RunSession& s) {
  if (s.cfg.mapping != MappingKind::kPrivate || !s.target.map()) return std::nullopt;
  DiskImage img;
  img.method = "mapping (private: coherence in memory)";
  img.verdicts.resize(s.ctx.block_count);
  const auto v0 = std::chrono::steady_clock::now();
  for (uint64_t b = 0; b < s.ctx.block_count; ++b)
    img.verdicts[b] = ClassifyBlock(*s.ctx.pattern, b, s.target.map() + b * s.cfg.block_size);
  img.seconds = SecondsSince(v0);
  img.bytes_read = s.cfg.size;
  return img;
}

// The promise point of a sync check: one more sync after every writer stopped and every pin was released.
// Then no thread writes the log any more: it is closed.
SyncOpKind FinalSync(RunSession& s) {
  const SyncOpKind op = SyncOpPromises(s.cfg.sync_op) ? s.cfg.sync_op : SyncOpKind::kFsync;
  if (!s.crashed)
    s.final_sync_err =
        RunOneSync(s.ctx, op, uint16_t(s.cfg.syncers), s.main_worker.lane, s.main_worker.slot, nullptr);
  s.main_worker.lane->Publish();
  s.watchdog->Stop();
  s.log_status = s.elog->Close(true);
  s.report.expected_log_bytes = s.elog->bytes_written();
  s.report.hangs = s.watchdog->Reports();
  return op;
}

// Reads the target (or takes the private mapping's image) and judges it against the expected log.
void VerifyTarget(RunSession& s, std::optional<DiskImage> memory_image) {
  RunReport& report = s.report;
  auto contents = ReadExpectedLog(s.elog->path());
  if (!contents.ok()) return RaiseVerdict(report, Verdict::kError, contents.status().message());
  ExpectedState expected = BuildExpectedState(*contents);
  report.sync_errors_total = expected.sync_errors;
  for (const auto& y : expected.syncs)
    if (y.err >= 0)
      report.timeline.syncs.push_back({s.SinceStartMs(y.start_ns), double(y.duration_ns), double(y.phase)});
  Status hook_status;
  if (s.hook && s.crashed) {
    BeforeVerify args{s.scratch.get(), s.target.path(), *s.ctx.pattern, expected, &report.planted};
    hook_status = s.hook(args);
    if (!hook_status.ok()) RaiseVerdict(report, Verdict::kError, "before verify: " + hook_status.message());
  }
  s.progress->Update(s.Sample("verify", 0), true);
  auto v0 = std::chrono::steady_clock::now();
  Result<DiskImage> disk =
      memory_image ? Result<DiskImage>(std::move(*memory_image))
                   : ReadAndClassify(s.target.path(), *s.ctx.pattern, s.ctx.block_count, 0, &expected);
  if (!disk.ok()) return RaiseVerdict(report, Verdict::kError, disk.status().message());
  if (!hook_status.ok()) return;
  report.verify_method = disk->method;
  report.verify_seconds = disk->seconds;
  report.verify_bytes = disk->bytes_read;
  report.verification = Judge(expected, *disk, s.crashed ? VerifyMode::kCrash : VerifyMode::kSync);
  if (s.crashed) report.crash->verify_s = SecondsSince(v0);
}

// After the run's own check, the crash model's crash states (log-writes: one per sync mark).
void VerifyCrashStates(RunSession& s) {
  CrashStatesInput in;
  in.work_dir = s.run_dir->path();
  in.expected_log = s.elog->path();
  in.pattern = s.ctx.pattern.get();
  in.block_count = s.ctx.block_count;
  in.fs = *ParseFsType(s.cfg.fs);
  in.mount_options = s.cfg.mount_options;
  if (s.hook)
    in.plant = [&s](ScratchFs& fs, const std::string& target, const ExpectedState& ex) {
      BeforeVerify args{&fs, target, *s.ctx.pattern, ex, &s.report.planted};
      return s.hook(args);
    };
  in.release_fs = [&s] {
    s.target.Close(true);
    if (!s.scratch) return;
    if (Status r = s.scratch->Remove(); !r.ok()) s.report.notes.push_back("cleanup: " + r.message());
    s.scratch.reset();
  };
  s.crash->VerifyCrashStates(in, s.report);
}

}  // namespace

void FinalSyncAndVerify(RunSession& s) {
  RunReport& report = s.report;
  const SyncOpKind final_op = FinalSync(s);
  std::optional<DiskImage> memory_image = ReadPrivateMapping(s);
  s.target.Unmap();
  if (s.crashed) {
    // The filesystem comes back (log recovery) with the target closed, or the check is left to the user.
    if (s.scratch) s.target.Close(true);
    s.crash->Recover(s.scratch.get(), report);
  }
  if (report.verdict == Verdict::kPending) {
    // the second half is `longpin verify`
  } else if (!s.log_status.ok()) {
    RaiseVerdict(report, Verdict::kError, "expected log incomplete: " + s.log_status.message());
  } else if (s.final_sync_err) {
    RaiseVerdict(report, Verdict::kError,
                 std::string("final ") + SyncOpName(final_op) +
                     " failed: " + std::strerror(s.final_sync_err) + " (" +
                     std::string(ErrnoName(s.final_sync_err)) + "): nothing to verify against");
  } else if (report.verdict == Verdict::kError || report.verdict == Verdict::kSkip) {
    // a setup or crash-cycle failure, or a pinner that cannot run here: nothing to verify
  } else {
    VerifyTarget(s, std::move(memory_image));
  }
  if (report.verification) VerifyCrashStates(s);
}

}  // namespace longpin
