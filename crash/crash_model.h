// CrashModel: what a run asks of the way it crashes the filesystem under its target and checks what the
// crash left. The run calls, in order: MakeScratchFs (a device of the model's own under the scratch fs),
// Prepare, OnSync after every successful promising sync, Fire at the crash point (models that fire()),
// Recover once the threads stopped, VerifyCrashStates after the run's own verification, Cleanup last.
// Models: none (a sync check), shutdown, power-cut, log-writes (docs/log-writes.md).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "core/block_stamp.h"
#include "core/scratch_fs.h"
#include "core/status.h"
#include "crash/log_writes_replay.h"
#include "report/run_report.h"

namespace longpin {

enum class CrashKind { kNone, kShutdown, kPowerCut, kLogWrites };
// The name on the command line and in reports: none, shutdown, power-cut, log-writes.
const char* CrashModelName(CrashKind c);

// Where a model that brings its own device makes the run's scratch filesystem.
struct ScratchSpec {
  std::string run_dir;  // images and the mount point go here
  std::string run_tag;  // names the run's devices (its dm device)
  FsType fs = FsType::kExt4;
  uint64_t image_bytes = 0;
  std::string mount_options;
};

// What a model that replays crash states needs of the finished run.
struct CrashStatesInput {
  std::string work_dir;      // replay images and mount points go here
  std::string expected_log;  // the run's expected log (closed)
  const StampPattern* pattern = nullptr;
  uint64_t block_count = 0;
  FsType fs = FsType::kExt4;
  std::string mount_options;
  PlantInState plant;  // the self-test's faults; empty: none
  std::function<void()>
      release_fs;  // closes the target and removes the scratch fs (the replay needs its device)
};

class CrashModel {
 public:
  virtual ~CrashModel() = default;
  virtual CrashKind kind() const = 0;
  const char* name() const { return CrashModelName(kind()); }

  // The scratch filesystem on a device of the model's own, with its description for the report
  // (report.fs_detail); nullptr: a plain scratch image will do.
  virtual Result<std::unique_ptr<ScratchFs>> MakeScratchFs(const ScratchSpec& spec, std::string* detail);
  // Checks that the scratch filesystem (of type fs_name) can take this crash; ENOTSUP: not here (a skip, its
  // what() says why).
  virtual Status Prepare(ScratchFs& scratch, const std::string& fs_name);
  // The expected log and the run state go durably to the state directory, for a `longpin verify` later.
  virtual bool durable_state() const { return false; }
  // After each successful promising sync, from the syncer threads: must be thread-safe.
  virtual bool wants_sync_marks() const { return false; }
  virtual void OnSync(uint64_t sync_id);
  // Whether the run stops at a crash point and calls Fire there.
  virtual bool fires() const { return false; }
  // The crash itself; scratch is null when the filesystem is the user's.
  virtual Status Fire(ScratchFs* scratch);
  // After the crash, once every thread stopped and the target is closed: bring the filesystem back so that
  // the target can be read, or say in the report why the check is left to `longpin verify`.
  virtual void Recover(ScratchFs* scratch, RunReport& report);
  // After the run's own verification: the model's crash states, each judged, added to the report.
  virtual void VerifyCrashStates(const CrashStatesInput& in, RunReport& report);
  // Removes the devices the model made; keep: their images stay.
  virtual Status Cleanup(bool keep);
};

struct CrashModelOptions {
  std::string
      user_mount_point;   // --allow-shutdown-of: the user's filesystem is shut down, not the scratch one
  std::string state_dir;  // where a durable state goes (power-cut, the user's filesystem)
};
std::unique_ptr<CrashModel> MakeCrashModel(CrashKind kind, const CrashModelOptions& options);

// Whether the filesystem mounted at mount_point takes FS_IOC_SHUTDOWN (ext4, xfs; not btrfs everywhere).
bool SupportsFsShutdown(const std::string& mount_point);

// The models, for the factory.
std::unique_ptr<CrashModel> MakeShutdownCrash(const CrashModelOptions& options);
std::unique_ptr<CrashModel> MakePowerCutCrash();
std::unique_ptr<CrashModel> MakeLogWritesCrash();

}  // namespace longpin
