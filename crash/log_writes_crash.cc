#include <cstdio>

#include "core/expected_log.h"
#include "crash/crash_model.h"
#include "crash/dm_log_writes.h"

namespace longpin {

namespace {

std::string MarkSummary(const LogWritesStack& stack) {
  return std::to_string(stack.marks_placed()) + " mark(s) placed (" +
         std::to_string(int(stack.mark_seconds_mean() * 1e6)) + " us mean, " +
         std::to_string(int(stack.mark_seconds_max() * 1e6)) + " us max per mark)";
}

std::string ReplaySummary(const std::string& marks, const LogWritesCheck& r) {
  char line[512];
  std::snprintf(
      line, sizeof line,
      "log-writes: %s; %zu crash state(s) checked in %.2f s (%.2f states/s); %llu kernel-contract "
      "violation(s), %llu strict miss(es); log: %llu entries, %llu writes (%.1f MiB), %llu flushes, "
      "%llu FUA, %llu discards",
      marks.c_str(), r.states.size(), r.seconds, r.states_per_second,
      static_cast<unsigned long long>(r.kernel_violations), static_cast<unsigned long long>(r.strict_misses),
      static_cast<unsigned long long>(r.entries), static_cast<unsigned long long>(r.writes),
      double(r.bytes_replayed) / (1 << 20), static_cast<unsigned long long>(r.flushes),
      static_cast<unsigned long long>(r.fua), static_cast<unsigned long long>(r.discards));
  return line;
}

// Each state's findings join the run's own sync check: one verification, every violation in it.
void AddStates(const LogWritesCheck& r, RunReport& report) {
  Verification& v = *report.verification;
  for (const CrashStateCheck& st : r.states) {
    if (!st.error.empty()) {
      RaiseVerdict(report, Verdict::kFail, "log-writes: crash state at mark " + st.mark + ": " + st.error);
      continue;
    }
    v.kernel_violations += st.verification.kernel_violations;
    v.strict_misses += st.verification.strict_misses;
    for (const Violation& x : st.verification.violations) {
      if (v.violations.size() < 1000) v.violations.push_back(x);
      else ++v.violations_dropped;
    }
    if (st.verification.kernel_violations > 0) {
      const Violation& f = st.verification.violations.front();
      report.reasons.push_back(
          "log-writes: crash state at mark " + st.mark + " (log entry " + std::to_string(st.entry) +
          "): " + std::to_string(st.verification.kernel_violations) +
          " kernel-contract violation(s); first: block " + std::to_string(f.block) + " " + f.kind +
          ", promised generation " + std::to_string(f.expected_generation) + " by sync " +
          std::to_string(f.sync_id) + ", found " + f.found);
    }
  }
}

// The scratch filesystem on a dm-log-writes device over two loop devices: every write goes to the log, a
// mark after every successful sync. After the run the log is replayed to every mark and each of those crash
// states is verified against the syncs marked before it (docs/log-writes.md).
class LogWritesCrash final : public CrashModel {
 public:
  CrashKind kind() const override { return CrashKind::kLogWrites; }
  bool wants_sync_marks() const override { return true; }
  void OnSync(uint64_t sync_id) override { stack_->MarkSync(sync_id); }

  Result<std::unique_ptr<ScratchFs>> MakeScratchFs(const ScratchSpec& spec, std::string* detail) override {
    auto stack = LogWritesStack::Create(spec.run_dir, spec.run_tag, spec.image_bytes,
                                        std::max<uint64_t>(16ull << 30, 8 * spec.image_bytes));
    if (!stack.ok()) return stack.status();
    stack_ = std::move(*stack);
    auto fs =
        ScratchFs::CreateOnDevice(stack_->device(), spec.run_dir + "/mnt", spec.fs, true, spec.mount_options);
    // A filesystem this kernel cannot make is a skip, told by what() alone like the device's.
    if (!fs.ok()) return fs.status().err() == ENOTSUP ? Status(ENOTSUP, fs.status().message()) : fs.status();
    *detail = std::string(FsTypeName(spec.fs)) + " on dm-log-writes " + stack_->dm_name() + " (data " +
              stack_->data_image() + ", log " + stack_->log_image() + ", sparse)";
    return std::move(*fs);
  }

  void VerifyCrashStates(const CrashStatesInput& in, RunReport& report) override {
    if (!stack_ || !report.verification) return;
    in.release_fs();
    const std::string marks = MarkSummary(*stack_);
    if (stack_->mark_failures() > 0)
      RaiseVerdict(report, Verdict::kError,
                   "log-writes: " + std::to_string(stack_->mark_failures()) +
                       " mark(s) failed: " + stack_->first_mark_error());
    // Removing the device completes the log.
    if (Status s = stack_->Teardown(); !s.ok())
      return RaiseVerdict(report, Verdict::kError, "log-writes: " + s.message());
    auto contents = ReadExpectedLog(in.expected_log);
    if (!contents.ok()) return RaiseVerdict(report, Verdict::kError, contents.status().message());
    auto r = CheckLogWritesStates(CheckConfig(in, *contents));
    if (!r.ok()) return RaiseVerdict(report, Verdict::kError, "log-writes replay: " + r.status().message());
    report.notes.push_back(ReplaySummary(marks, *r));
    if (!r->log_complete)
      RaiseVerdict(
          report, Verdict::kError,
          "log-writes: the log does not end with the target's end mark (log device full?): later states "
          "unchecked");
    if (r->states.size() != stack_->marks_placed())
      RaiseVerdict(report, Verdict::kError,
                   "log-writes: " + std::to_string(stack_->marks_placed()) + " mark(s) placed but " +
                       std::to_string(r->states.size()) + " found in the log");
    AddStates(*r, report);
  }

  Status Cleanup(bool keep) override {
    if (!stack_) return {};
    Status s = keep ? stack_->Teardown() : stack_->Remove();
    stack_.reset();
    return s;
  }

 private:
  LogWritesCheckConfig CheckConfig(const CrashStatesInput& in, const LogContents& log) const {
    LogWritesCheckConfig c;
    c.log_image = stack_->log_image();
    c.data_bytes = stack_->data_bytes();
    c.work_dir = in.work_dir;
    c.fs = in.fs;
    c.mount_options = in.mount_options;
    c.target_name = "target";
    c.mark_prefix = LogWritesStack::kSyncMarkPrefix;
    c.log = &log;
    c.pattern = in.pattern;
    c.block_count = in.block_count;
    c.plant = in.plant;
    return c;
  }

  std::unique_ptr<LogWritesStack> stack_;  // the device under the scratch filesystem (outlives it)
};

}  // namespace

std::unique_ptr<CrashModel> MakeLogWritesCrash() {
  return std::make_unique<LogWritesCrash>();
}

}  // namespace longpin
