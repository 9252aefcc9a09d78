// Where the target of a run lives: shmem (mappings that never reach a filesystem), the user's --target file,
// a file in a directory (--fs dir:PATH), or a scratch filesystem on a loop device (or on the crash model's
// own device); then the target itself, and the expected log that records what the run promises about it.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <algorithm>

#include "core/units.h"
#include "workloads/run_session.h"
#include "workloads/run_state.h"

namespace longpin {

namespace {

std::string FsNameOf(const std::string& path) {
  struct statfs sf {};
  if (::statfs(path.c_str(), &sf) != 0) return "unknown";
  switch (sf.f_type) {
    case 0xEF53: return "ext4";
    case 0x58465342: return "xfs";
    case 0x9123683E: return "btrfs";
    case 0xF2F52010: return "f2fs";
    case 0x01021994: return "tmpfs";
    case 0x65735546: return "fuse";
    case 0x794c7630: return "overlayfs";
    default: return "fs-magic-" + std::to_string(sf.f_type);
  }
}

Verdict SkipIfNotSupported(const Status& s) {
  return s.err() == ENOTSUP ? Verdict::kSkip : Verdict::kError;
}

// The scratch filesystem: on the crash model's device if it brings one, else on a sparse image of its own.
// Returns the target's path on it, "" when it could not be made (the verdict says why).
std::string MakeScratchFs(RunSession& s) {
  const RunConfig& cfg = s.cfg;
  RunReport& report = s.report;
  const std::string& dir = s.run_dir->path();
  const uint64_t image_bytes = std::max<uint64_t>(1ull << 30, cfg.size * 2 + (512ull << 20));
  const FsType type = *ParseFsType(cfg.fs);
  std::string detail;
  auto own = s.crash->MakeScratchFs(
      ScratchSpec{dir, dir.substr(dir.rfind("/run-") + 5), type, image_bytes, cfg.mount_options}, &detail);
  // A model's own device that cannot be made here says why in what() alone.
  const bool own_device_failed = !own.ok();
  auto fs = own_device_failed || *own ? std::move(own)
                                      : ScratchFs::Create(dir, type, image_bytes, cfg.mount_options);
  if (!fs.ok()) {
    // What never ran leaves no evidence: the run directory goes whatever the verdict.
    s.run_dir_holds_evidence = false;
    const Verdict v = SkipIfNotSupported(fs.status());
    RaiseVerdict(report, v,
                 v == Verdict::kSkip && own_device_failed ? fs.status().what() : fs.status().message());
    return "";
  }
  s.scratch = std::move(*fs);
  report.fs = cfg.fs;
  report.fs_detail = !detail.empty()
                         ? detail
                         : cfg.fs + " on " + s.scratch->loop_device() + " (scratch image " +
                               s.scratch->image_path() + ", " + FormatSize(image_bytes) + " sparse)";
  if (Status p = s.crash->Prepare(*s.scratch, cfg.fs); !p.ok()) {
    RaiseVerdict(report, SkipIfNotSupported(p), p.err() == ENOTSUP ? p.what() : p.message());
    return "";
  }
  return s.scratch->mount_point() + "/target";
}

// The path of the target file; "" for shmem and when the place could not be made (then false).
bool ChooseTargetPath(RunSession& s, std::string* file_path) {
  const RunConfig& cfg = s.cfg;
  RunReport& report = s.report;
  if (!MappingReachesFs(cfg.mapping) && cfg.mapping != MappingKind::kPrivate) {
    report.fs = "shmem";
  } else if (!cfg.target.empty()) {
    *file_path = cfg.target;
    const auto slash = file_path->rfind('/');
    const std::string parent = file_path->substr(0, slash == std::string::npos ? 0 : slash);
    report.fs = FsNameOf(parent.empty() ? "." : parent);
    report.fs_detail = "--target " + *file_path + " (" + report.fs + ")";
  } else if (cfg.fs.rfind("dir:", 0) == 0) {
    const std::string path = cfg.fs.substr(4);
    const std::string& dir = s.run_dir->path();
    *file_path = path + "/longpin-target-" + dir.substr(dir.rfind('-') + 1);
    report.fs = FsNameOf(path);
    report.fs_detail = "dir:" + path + " (" + report.fs + ")";
  } else {
    *file_path = MakeScratchFs(s);
    if (file_path->empty()) return false;
  }
  return true;
}

}  // namespace

bool PrepareTarget(RunSession& s) {
  const RunConfig& cfg = s.cfg;
  RunReport& report = s.report;
  std::string file_path;
  if (!ChooseTargetPath(s, &file_path)) return false;
  auto t = Target::Create(cfg.mapping, file_path, s.run_dir->path(), cfg.size, true);
  if (!t.ok()) {
    const int e = t.status().err();
    const bool cannot = e == ENOMEM || e == EPERM || e == ENOTSUP;
    RaiseVerdict(report, cannot ? Verdict::kSkip : Verdict::kError, t.status().message());
    return false;
  }
  s.target = std::move(*t);
  report.target_path = s.target.path();
  if (s.crash->wants_sync_marks()) {
    // The target's directory entry is durable before the first mark promises its data.
    int dfd = ::open(s.scratch->mount_point().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) ::fsync(dfd), ::close(dfd);
  }
  report.mapping_detail = s.target.detail();
  if (report.fs == "shmem") report.fs_detail = s.target.detail();
  if (!s.target.note().empty()) report.notes.push_back(s.target.note());
  return true;
}

bool OpenExpectedLog(RunSession& s) {
  const RunConfig& cfg = s.cfg;
  RunReport& report = s.report;
  WorkloadContext& ctx = s.ctx;
  ctx.config = &s.cfg;
  ctx.run_id = report.run_id;
  ctx.pattern = std::make_unique<StampPattern>(report.run_id, cfg.block_size);
  ctx.map = s.target.map();
  ctx.map_length = s.target.length();
  ctx.fd = s.target.fd();
  ctx.block_count = cfg.size / cfg.block_size;
  ctx.generations.assign(ctx.block_count, 0);
  ctx.writer_total = std::max(1, cfg.writers.cpu + cfg.writers.pwrite + (cfg.writers.dma > 0 ? 1 : 0));
  if (s.crash->wants_sync_marks())
    ctx.on_sync_success = [crash = s.crash.get()](uint64_t id) { crash->OnSync(id); };

  // A crash checked later by `longpin verify`: the log and the state go to the state directory, durably
  // (group commit).
  const bool durable = s.crash->durable_state();
  const std::string log_path = (durable ? cfg.state_dir : s.run_dir->path()) + "/expected.log";
  if (durable) ::mkdir(cfg.state_dir.c_str(), 0755);  // checked by the option parser: the parent exists
  auto log = ExpectedLog::Create(log_path, report.run_id, cfg.block_size, ctx.block_count, durable);
  if (!log.ok()) {
    RaiseVerdict(report, Verdict::kError, log.status().message());
    return false;
  }
  s.elog = std::move(*log);
  ctx.log = s.elog.get();
  report.expected_log_path = s.elog->path();
  if (!durable) return true;
  RunState st{1,
              report.run_id,
              report.seed,
              s.target.path(),
              cfg.block_size,
              ctx.block_count,
              report.fs,
              report.mapping,
              s.elog->path(),
              CrashModelName(cfg.crash),
              cfg.pinner,
              SyncOpName(cfg.sync_op)};
  if (Status w = WriteRunState(cfg.state_dir, st); !w.ok()) {
    RaiseVerdict(report, Verdict::kError, w.message());
    return false;
  }
  report.notes.push_back("state and durable expected log in " + cfg.state_dir +
                         ": after a cut, `longpin verify --state-dir " + cfg.state_dir + "`");
  return true;
}

}  // namespace longpin
