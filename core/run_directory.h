// RunDirectory: the one place a run may create, and so the only place `longpin cleanup` may remove.
// Layout: BASE/run-<run id hex>/ holding an "owner" marker (pid and process start time of the run), the
// scratch image and mount point, the expected log and the report. Cleanup touches only directories whose
// marker names a process that is gone.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "core/status.h"

namespace longpin {

// The default base: $LONGPIN_WORKDIR, else /var/tmp/longpin as root, else $TMPDIR (or /tmp)/longpin-UID.
std::string DefaultWorkBase();

class RunDirectory {
 public:
  static Result<RunDirectory> Create(const std::string& base, uint64_t run_id);
  // The run directory at path, only if its owner marker names this very process (a directory this process
  // created and so may remove); EPERM otherwise.
  static Result<RunDirectory> OpenOwn(const std::string& path);
  const std::string& path() const { return path_; }
  std::string File(const std::string& name) const { return path_ + "/" + name; }
  // Removes the directory and what longpin put in it (files and empty directories only, never following
  // a mount: a mount point still mounted is left alone and reported).
  Status Remove() const;

  RunDirectory() = default;

 private:
  std::string path_;
};

struct CleanupAction {
  std::string what;  // "unmounted /var/tmp/longpin/run-1f/mnt", "removed ..."
  bool ok = true;
};
// Removes the block devices a dead run stacked over its loop devices (crash/: dm-log-writes), which hold the
// loops; given by the caller because core/ knows no device kinds above a loop.
using StaleDeviceRemover =
    std::function<void(const std::string& run_dir, bool dry_run, std::vector<CleanupAction>* actions)>;
// Cleans leftovers of runs whose process is gone, under base. dry_run lists without acting.
std::vector<CleanupAction> CleanupStaleRuns(const std::string& base, bool dry_run,
                                            const StaleDeviceRemover& remove_devices = {});

// Process start time (field 22 of /proc/PID/stat), to tell a live owner from a recycled pid; 0 if gone.
unsigned long long ProcessStartTime(int pid);

}  // namespace longpin
