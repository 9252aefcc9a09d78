#include "workloads/verify.h"

#include <unistd.h>

#include "core/kernel_release.h"
#include "verifiers/disk_reader.h"
#include "verifiers/expected_state.h"
#include "workloads/run.h"
#include "workloads/run_state.h"

namespace longpin {

RunReport VerifyFromState(const std::string& state_dir, const std::string& target_override) {
  RunReport r;
  r.kernel = KernelRelease();
  r.root = ::geteuid() == 0;
  auto state = ReadRunState(state_dir);
  if (!state.ok()) {
    // No state there: a wrong --state-dir (usage). A state that is there but damaged: an error.
    RaiseVerdict(r, state.status().err() == ENOENT ? Verdict::kBadInput : Verdict::kError,
                 state.status().message());
    return r;
  }
  r.run_id = state->run_id;
  r.seed = state->seed;
  r.fs = state->fs;
  r.mapping = state->mapping;
  r.pinner = state->pinner;
  r.sync_op = state->sync_op;
  r.block_size = state->block_size;
  r.target_size = state->block_size * state->block_count;
  r.target_path = target_override.empty() ? state->target_path : target_override;
  r.fs_detail = "target " + r.target_path + " (" + state->fs + ")";
  // The log next to the state, not the path the run stored: a moved state directory still checks, and a
  // copied one checks its own copy, never the original.
  const std::string log_path = state_dir + "/" + kStateLogName;
  r.expected_log_path = log_path;
  auto log = ReadExpectedLog(log_path);
  if (!log.ok()) {
    RaiseVerdict(r, Verdict::kError, log.status().message());
    return r;
  }
  if (log->header.run_id != state->run_id) {
    RaiseVerdict(r, Verdict::kBadInput,
                 "expected log " + log_path + " belongs to another run than " + state_dir + "/state.json");
    return r;
  }
  if (!log->clean_end)
    r.notes.push_back(
        "the expected log has no end record (the run was cut): records lost in the cut make the check "
        "weaker, never wrong; newer generations than the log knows are counted as beyond_log");
  if (log->header.block_size != state->block_size || log->header.block_count != state->block_count) {
    RaiseVerdict(r, Verdict::kError,
                 "expected log " + log_path + " and " + state_dir +
                     "/state.json disagree on the block geometry: one of them is damaged");
    return r;
  }
  if (log->truncated)
    r.notes.push_back("the expected log lost " + std::to_string(log->lost_bytes) +
                      " byte(s) in the cut, from byte " + std::to_string(log->first_lost_offset) +
                      ": records known up to sequence number " + std::to_string(log->known_below - 1) +
                      "; later syncs promise nothing");
  else if (log->clean_end && !log->complete())
    r.notes.push_back("the expected log misses records below its end (first missing: sequence number " +
                      std::to_string(log->known_below) + "): judged as a cut log");
  // A pass over a log that promised nothing checks nothing: the verdict must not be read as "the kernel kept
  // its promises" when there were none.
  if (log->records.empty())
    r.notes.push_back(
        "the expected log holds no records (cut before the first write was logged): nothing was "
        "promised, so nothing could be checked");
  if (log->header.version == kLogVersionV1)
    r.notes.push_back("the expected log is format v1 (no checksums): damage to it cannot be told from a cut");
  ExpectedState expected = BuildExpectedState(*log);
  r.sync_errors_total = expected.sync_errors;
  StampPattern pattern(state->run_id, state->block_size);
  auto disk = ReadAndClassify(r.target_path, pattern, state->block_count, 0, &expected);
  if (!disk.ok()) {
    RaiseVerdict(r, Verdict::kError, disk.status().message() + " (give the target with --target PATH)");
    return r;
  }
  r.verify_method = disk->method;
  r.verify_seconds = disk->seconds;
  r.verify_bytes = disk->bytes_read;
  r.verification = Judge(expected, *disk, VerifyMode::kCrash);
  CrashReport cr;
  cr.model = state->crash_model.empty() ? "power-cut" : state->crash_model;
  cr.seq = expected.crash_seq;
  r.crash = cr;
  // Errors logged before the cut are real errors; ConcludeVerdict treats a crash's errors as expected.
  ConcludeVerdict(r);
  return r;
}

}  // namespace longpin
