// One attempt of a race script: a fresh window, the script's steps in order, each a small function of what it
// does to the window, and what the attempt leaves behind (held IO finished, pin released, findings counted).
#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <thread>

#include "workloads/race_run.h"
#include "workloads/run.h"
#include "workloads/syncer.h"

namespace longpin::race {

namespace {

uint64_t VmPinKiB() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("VmPin:", 0) == 0) return std::strtoull(line.c_str() + 6, nullptr, 10);
  return 0;
}

// The kernel's answers to a first pin that mean it will not pin this window at all (not a failed attempt).
bool PinRefused(int err) {
  return err == EFAULT || err == EOPNOTSUPP || err == EPERM || err == EINVAL;
}

}  // namespace

HoldProbe HoldProbe::Take() {
  return {ReadPinCounters(), VmPinKiB()};
}

void RaceRun::StepError(const RaceStep& s, const Status& st) {
  race_.step_errors[s.text + " " + std::string(ErrnoName(st.err()))]++;
  if (race_.step_errors.size() < 8 && first_errors_.size() < 3)
    first_errors_.push_back(s.text + ": " + st.message());
}

// The first hold of the run tells which reference the pinner took: the pin counters and VmPin around it.
void RaceRun::MeasureHold(const HoldProbe& before, uint64_t pages, const char* how) {
  if (measured_) return;
  measured_ = true;
  const HoldProbe after = HoldProbe::Take();
  if (!after.pins.available) {
    race_.measured_reference = "unknown";
    race_.reference_detail = "no nr_foll_pin_* in /proc/vmstat";
    return;
  }
  const uint64_t acquired = after.pins.acquired - before.pins.acquired;
  const uint64_t vmpin = after.vmpin_kib > before.vmpin_kib ? after.vmpin_kib - before.vmpin_kib : 0;
  const bool pin = acquired >= pages;
  const bool accounted = vmpin * 1024 >= pages * page_;
  race_.measured_reference = pin ? (accounted ? "FOLL_PIN, long-term" : "FOLL_PIN") : "FOLL_GET/none";
  race_.reference_detail = fmt::format(
      "{} of {} pages: nr_foll_pin_acquired +{}{}, VmPin +{} kB{}", how, pages, acquired,
      after.pins.refreshed ? "" : " (not refreshed: small counts may hide)", vmpin, ", system-wide counter");
  const std::string& expected = race_.expected_reference;
  const std::string measured =
      race_.measured_reference == "FOLL_GET/none" ? "FOLL_GET" : race_.measured_reference;
  if (expected.rfind(measured, 0) != 0)
    report_.notes.push_back(
        fmt::format("pin kind: measured {} but ../shared/KERNEL_NOTES.md expects {} on {}",
                    race_.measured_reference, expected, report_.kernel));
}

// Pages held count into pin_seconds from the hold to its release.
void RaceRun::Hold(Attempt& a, bool on) {
  if (on) {
    a.held_since = std::chrono::steady_clock::now();
    race_.pages_held_max = std::max(race_.pages_held_max, a.pages);
  } else {
    race_.pin_seconds += SecondsSince(a.held_since) * double(a.pages);
  }
}

void RaceRun::StampWindow(const Attempt& a, std::byte* base, WriterKind kind, uint64_t gen) {
  for (uint64_t i = 0; i < a.blocks; ++i) {
    StampId id{report_.run_id, a.first_block + i, gen, kind, kind == WriterKind::kDma ? 1u : 0u,
               a.window.epoch};
    StampBlock(*pattern_, id, base + i * cfg_.block_size);
  }
}

Attempt RaceRun::StartAttempt(uint64_t attempt) {
  Attempt a;
  a.index = attempt;
  a.window_index = attempt % window_generation_.size();
  a.offset = a.window_index * cfg_.pin_window;
  a.pages = cfg_.pin_window / page_;
  a.first_block = a.offset / cfg_.block_size;
  a.blocks = cfg_.pin_window / cfg_.block_size;
  a.window = PinWindow{a.offset, cfg_.pin_window, ++epoch_};
  a.per_io = pinner_->holds_per_io();
  a.held_since = std::chrono::steady_clock::now();
  return a;
}

StepOutcome RaceRun::PinStep(Attempt& a, const RaceStep& s) {
  if (!a.per_io) a.probe = HoldProbe::Take();
  auto g = pinner_->Pin(a.window);
  if (!g.ok()) {
    if (a.index == 0 && PinRefused(g.status().err())) {
      race_.refused = std::string(ErrnoName(g.status().err())) + ": " + g.status().message();
      return StepOutcome::kEndRun;
    }
    StepError(s, g.status());
    return StepOutcome::kAbortAttempt;
  }
  a.pinned = true;
  if (!a.per_io) {
    MeasureHold(a.probe, a.pages, "registration");
    Hold(a, true);
  }
  return StepOutcome::kNext;
}

void RaceRun::StoreStep(Attempt& a, int step) {
  const uint64_t gen = ++window_generation_[a.window_index];
  StampWindow(a, map_ + a.offset, WriterKind::kCpu, gen);
  a.writes.push_back({gen, WriterKind::kCpu, step, step});
}

void RaceRun::SyncStep(Attempt& a, const RaceStep& s, int step) {
  const SyncOpKind op = s.sync_op.value_or(cfg_.sync_op);
  const int err = CallSyncOp(op, fd_, map_, a.offset, cfg_.pin_window);
  a.syncs.push_back({step, int(++sync_number_), err, SyncOpPromises(op), SyncOpName(op)});
  race_.sync_results[std::string(SyncOpName(op)) + " " + (err ? std::string(ErrnoName(err)) : "ok")]++;
}

// dma completes the write before it returns; dma-start leaves it held until dma-finish.
StepOutcome RaceRun::DmaStep(Attempt& a, const RaceStep& s, int step) {
  const uint64_t gen = ++window_generation_[a.window_index];
  StampWindow(a, dma_src_, WriterKind::kDma, gen);
  if (a.per_io) a.probe = HoldProbe::Take();
  if (s.kind == RaceStepKind::kDma) {
    Status st = pinner_->DmaWrite(a.window, a.offset, dma_src_, cfg_.pin_window);
    if (!st.ok()) {
      StepError(s, st);
      return StepOutcome::kAbortAttempt;
    }
    if (a.per_io) MeasureHold(a.probe, a.pages, "one IO");
    race_.dma_writes++;
    // A per-IO pin is released when its IO completes: the kernel dirtied the pages then.
    a.writes.push_back({gen, WriterKind::kDma, step, a.per_io ? step : -1});
    return StepOutcome::kNext;
  }
  Status st = pinner_->StartDma(a.window, a.offset, dma_src_, cfg_.pin_window);
  if (!st.ok()) {
    StepError(s, st);
    return StepOutcome::kAbortAttempt;
  }
  MeasureHold(a.probe, a.pages, "a held IO");
  Hold(a, true);
  a.inflight = true;
  a.writes.push_back({gen, WriterKind::kDma, -1, -1});
  return StepOutcome::kNext;
}

StepOutcome RaceRun::DmaFinishStep(Attempt& a, const RaceStep& s, int step) {
  Status st = pinner_->FinishDma();
  a.inflight = false;
  Hold(a, false);
  if (!st.ok()) {
    StepError(s, st);
    a.writes.pop_back();  // the write did not complete: nothing promised, no newer generation on disk
    return StepOutcome::kAbortAttempt;
  }
  race_.dma_writes++;
  a.writes.back().done_step = step;
  a.writes.back().released_step = step;
  return StepOutcome::kNext;
}

void RaceRun::ReclaimStep(const Attempt& a, const RaceStep& s) {
  const int64_t before = PresentPages(map_ + a.offset, cfg_.pin_window, page_);
  const int err = ReclaimWindow(s.reclaim, map_, fd_, a.offset, cfg_.pin_window, cgroup_.get());
  if (err && err != EAGAIN) StepError(s, Status(err, "reclaim"));
  const int64_t after = PresentPages(map_ + a.offset, cfg_.pin_window, page_);
  if (before >= 0 && after >= 0 && before > after) race_.reclaimed_pages += uint64_t(before - after);
}

StepOutcome RaceRun::UnpinStep(Attempt& a, const RaceStep& s, int step) {
  Status st = pinner_->Unpin(a.window);
  if (!st.ok()) {
    StepError(s, st);  // still pinned: the kernel contract promises nothing of its DMA writes
    return StepOutcome::kAbortAttempt;
  }
  a.pinned = false;
  if (!a.per_io) Hold(a, false);
  // The kernel contract counts DMA writes through a long-term pin from its release on.
  for (auto& w : a.writes)
    if (w.kind == WriterKind::kDma && w.released_step < 0) w.released_step = step;
  return StepOutcome::kNext;
}

// Shuts the filesystem down with what is held still held, then releases it, remounts and reopens the target.
StepOutcome RaceRun::CrashStep(Attempt& a, const RaceStep& s) {
  Status st = scratch_->Shutdown();
  if (!st.ok()) {
    StepError(s, st);
    return StepOutcome::kAbortAttempt;
  }
  // After the shutdown nothing reaches the disk: releasing the pin now promises nothing.
  if (a.pinned) {
    pinner_->Unpin(a.window).ok();
    if (!a.per_io) Hold(a, false);
    a.pinned = false;
  }
  pinner_.reset();
  CloseTarget();
  Status um = scratch_->Unmount();
  Status m = um.ok() ? scratch_->Mount() : um;
  if (!m.ok()) {
    RaiseVerdict(report_, Verdict::kError, "crash step: remount of the scratch filesystem: " + m.message());
    return StepOutcome::kEndRun;
  }
  if (!OpenTarget(false)) return StepOutcome::kEndRun;
  if (Status c = CreatePinner(); !c.ok()) {
    RaiseVerdict(report_, Verdict::kError, "crash step: the pinner after the remount: " + c.message());
    return StepOutcome::kEndRun;
  }
  return StepOutcome::kNext;
}

// Reads the window back from the disk (O_DIRECT where the filesystem has it) and judges it.
void RaceRun::VerifyStep(Attempt& a) {
  const uint64_t offset = a.first_block * cfg_.block_size;
  const uint64_t len = a.blocks * cfg_.block_size;
  int vfd = -1;
  if (direct_io_) {
    vfd = ::open(report_.target_path.c_str(), O_RDONLY | O_DIRECT | O_CLOEXEC);
    if (vfd < 0 && errno == EINVAL) {
      direct_io_ = false;
      report_.notes.push_back("verify: " + report_.fs +
                              " has no O_DIRECT: windows read through the page cache");
    }
  }
  if (vfd < 0) vfd = ::open(report_.target_path.c_str(), O_RDONLY | O_CLOEXEC);
  if (vfd < 0) {
    StepError(script_.steps.back(), Status::FromErrno("open " + report_.target_path));
    return;
  }
  if (!direct_io_) ::posix_fadvise(vfd, off_t(offset), off_t(len), POSIX_FADV_DONTNEED);
  const ssize_t n = ::pread(vfd, read_buf_, len, off_t(offset));
  const int read_err = errno;
  ::close(vfd);
  if (n != ssize_t(len)) {
    StepError(script_.steps.back(), Status(n < 0 ? read_err : EIO, "read the window back"));
    return;
  }
  report_.verify_method = direct_io_ ? "O_DIRECT" : "buffered after POSIX_FADV_DONTNEED";
  report_.verify_bytes += len;
  const WindowReadback readback{a.index + 1, a.first_block, a.blocks, cfg_.block_size, read_buf_};
  if (JudgeWindow(*pattern_, readback, a.writes, a.syncs, race_)) a.found = true;
}

StepOutcome RaceRun::RunStep(Attempt& a, const RaceStep& s, int step) {
  switch (s.kind) {
    case RaceStepKind::kPin: return PinStep(a, s);
    case RaceStepKind::kStore: StoreStep(a, step); break;
    case RaceStepKind::kSync: SyncStep(a, s, step); break;
    case RaceStepKind::kDma:
    case RaceStepKind::kDmaStart: return DmaStep(a, s, step);
    case RaceStepKind::kDmaFinish: return DmaFinishStep(a, s, step);
    case RaceStepKind::kReclaim: ReclaimStep(a, s); break;
    case RaceStepKind::kUnpin: return UnpinStep(a, s, step);
    case RaceStepKind::kCrash: return CrashStep(a, s);
    case RaceStepKind::kVerify: VerifyStep(a); break;
    case RaceStepKind::kWait: {
      // In short sleeps, so that SIGINT ends the attempt without waiting the whole time.
      const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(s.wait_s);
      while (std::chrono::steady_clock::now() < until && !g_interrupted.load())
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      break;
    }
  }
  return StepOutcome::kNext;
}

// An aborted attempt can leave an IO held or the window pinned: both end before the next window.
void RaceRun::EndAttempt(Attempt& a) {
  if (a.inflight) {
    pinner_->FinishDma().ok();
    Hold(a, false);
  }
  if (a.pinned) {
    if (pinner_->Unpin(a.window).ok() && !a.per_io) Hold(a, false);
  }
  if (a.found) {
    race_.attempts_with_findings++;
    if (race_.first_finding_s < 0) {
      race_.first_finding_s = SecondsSince(start_);
      race_.first_finding_attempt = a.index + 1;
    }
  }
}

bool RaceRun::RunAttempt(uint64_t attempt) {
  Attempt a = StartAttempt(attempt);
  for (size_t i = 0; i < script_.steps.size(); ++i) {
    const StepOutcome outcome = RunStep(a, script_.steps[i], int(i));
    if (outcome == StepOutcome::kEndRun) return false;
    if (outcome == StepOutcome::kAbortAttempt) break;
  }
  EndAttempt(a);
  return true;
}

}  // namespace longpin::race
