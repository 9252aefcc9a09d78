// Race scripts as text: the step list parsed, checked against what the pinner offers, and what the kernel
// notes expect a pinner to take. Running them is race_runner.cc (the run) and race_steps.cc (one attempt).
#include "workloads/race_script.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <sstream>

#include "core/units.h"

namespace longpin {

bool RaceScript::needs_crash() const {
  return std::any_of(steps.begin(), steps.end(),
                     [](const RaceStep& s) { return s.kind == RaceStepKind::kCrash; });
}
bool RaceScript::needs_cgroup() const {
  return std::any_of(steps.begin(), steps.end(), [](const RaceStep& s) {
    return s.kind == RaceStepKind::kReclaim && s.reclaim == ReclaimMethod::kCgroup;
  });
}

namespace {

constexpr const char* kStepList =
    "pin, store, sync[:OP], dma, dma-start, dma-finish, reclaim[:pageout|cgroup|fadvise], unpin, crash, "
    "wait:TIME, "
    "verify";

std::string Trim(std::string s) {
  const auto b = s.find_first_not_of(" \t");
  const auto e = s.find_last_not_of(" \t");
  return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}

// The step kinds by name, as a script writes them.
std::optional<RaceStepKind> StepKindNamed(const std::string& name) {
  static const std::map<std::string, RaceStepKind> kinds = {
      {"pin", RaceStepKind::kPin},
      {"store", RaceStepKind::kStore},
      {"sync", RaceStepKind::kSync},
      {"dma", RaceStepKind::kDma},
      {"dma-start", RaceStepKind::kDmaStart},
      {"dma-finish", RaceStepKind::kDmaFinish},
      {"reclaim", RaceStepKind::kReclaim},
      {"unpin", RaceStepKind::kUnpin},
      {"crash", RaceStepKind::kCrash},
      {"verify", RaceStepKind::kVerify},
      {"wait", RaceStepKind::kWait},
  };
  const auto it = kinds.find(name);
  return it == kinds.end() ? std::nullopt : std::optional<RaceStepKind>(it->second);
}

// One step as written ("sync:fdatasync", "wait:100ms"): its kind and argument.
Result<RaceStep> ParseStep(const std::string& item) {
  RaceStep step;
  step.text = item;
  const std::string name = item.substr(0, item.find(':'));
  const std::string arg = item.find(':') == std::string::npos ? "" : item.substr(item.find(':') + 1);
  const std::optional<RaceStepKind> kind = StepKindNamed(name);
  if (!kind) return Status(EINVAL, "step " + item + ": unknown step (steps: " + kStepList + ")");
  step.kind = *kind;
  switch (step.kind) {
    case RaceStepKind::kSync:
      if (!arg.empty()) {
        step.sync_op = ParseSyncOpName(arg);
        if (!step.sync_op)
          return Status(EINVAL, "step " + item +
                                    ": unknown sync op (fsync, fdatasync, msync, sync_file_range, syncfs)");
      }
      break;
    case RaceStepKind::kReclaim:
      if (arg.empty() || arg == "pageout") step.reclaim = ReclaimMethod::kPageout;
      else if (arg == "cgroup") step.reclaim = ReclaimMethod::kCgroup;
      else if (arg == "fadvise") step.reclaim = ReclaimMethod::kFadvise;
      else return Status(EINVAL, "step " + item + ": unknown reclaim method (pageout, cgroup, fadvise)");
      break;
    case RaceStepKind::kWait: {
      auto d = ParseDuration(arg);
      if (arg.empty() || !d || *d < 0)
        return Status(EINVAL, "step " + item + ": wait takes a duration (wait:100ms)");
      step.wait_s = *d;
      break;
    }
    default:
      if (!arg.empty()) return Status(EINVAL, "step " + item + ": takes no argument");
  }
  return step;
}

}  // namespace

RaceCapabilities RaceCapabilitiesOf(const std::string& pinner) {
  if (pinner == "fuse") return {true, true, true};
  if (pinner == "odirect" || pinner == "process-vm") return {true, true, false};
  if (pinner == "rdma" || pinner == "io_uring" || pinner == "cuda") return {false, true, false};
  return {};
}

Result<RaceScript> ParseRaceScript(const std::string& text) {
  RaceScript script;
  std::stringstream ss(text);
  std::string item;
  int index = 0;
  while (std::getline(ss, item, ',')) {
    item = Trim(item);
    ++index;
    if (item.empty())
      return Status(EINVAL, "step " + std::to_string(index) + " is empty (steps: " + kStepList + ")");
    auto step = ParseStep(item);
    if (!step.ok()) return step.status();
    script.text += (script.text.empty() ? "" : ",") + item;
    script.steps.push_back(*step);
  }
  if (script.steps.empty())
    return Status(EINVAL, "the race script has no steps (steps: " + std::string(kStepList) + ")");
  if (script.steps.back().kind != RaceStepKind::kVerify)
    return Status(EINVAL, "step " + script.steps.back().text +
                              ": a race script ends with verify (what else would it find?)");
  return script;
}

Status CheckRaceScript(const RaceScript& script, const RaceCapabilities& caps, const std::string& pinner) {
  bool pinned = false, inflight = false, crashed = false;
  for (const RaceStep& s : script.steps) {
    auto bad = [&](const std::string& why) { return Status(EINVAL, "step " + s.text + ": " + why); };
    switch (s.kind) {
      case RaceStepKind::kPin:
        if (pinned) return bad("the window is already pinned (unpin first)");
        pinned = true;
        break;
      case RaceStepKind::kUnpin:
        if (!pinned) return bad("nothing is pinned");
        if (inflight) return bad("a held DMA is still in flight (dma-finish first)");
        pinned = false;
        break;
      case RaceStepKind::kDma:
      case RaceStepKind::kDmaStart:
        if (!caps.can_write)
          return bad("pinner " + pinner +
                     " cannot write through its pin (use rdma, io_uring, fuse, odirect, process-vm or cuda)");
        if (!pinned) return bad("a DMA needs a pinned window: put pin before it");
        if (inflight) return bad("a held DMA is already in flight");
        if (s.kind == RaceStepKind::kDmaStart) {
          if (!caps.can_hold)
            return bad("pinner " + pinner + " cannot hold a DMA's completion (fuse can; use dma)");
          inflight = true;
        }
        break;
      case RaceStepKind::kDmaFinish:
        if (!inflight) return bad("no held DMA in flight (dma-start first)");
        inflight = false;
        break;
      case RaceStepKind::kCrash:
        if (inflight)
          return bad("a held DMA is in flight (dma-finish first: the daemon must answer before unmount)");
        if (crashed) return bad("one crash per attempt");
        crashed = true;
        pinned = false;  // the crash releases what was held, after the shutdown
        break;
      case RaceStepKind::kVerify:
        if (inflight) return bad("a held DMA is in flight (dma-finish first)");
        break;
      case RaceStepKind::kStore:
      case RaceStepKind::kSync:
      case RaceStepKind::kReclaim:
      case RaceStepKind::kWait: break;
    }
  }
  (void)caps.per_io;
  return {};
}

}  // namespace longpin
