// Pin + unpin cost per pinner and window size (4 KiB .. 1 GiB, powers of 4), in ns per page, on a memfd
// mapping (where long-term pins are granted) and on a shared file mapping in /var/tmp (where 6.5+ refuses
// them). Pinners whose pin lasts one IO (odirect, process-vm, fuse) are measured as one DmaWrite of the
// window: pin, write, unpin; their windows stop at 64 MiB (the IO itself dominates beyond). cuda is measured
// twice: through the pinner and as the bare cudaHostRegister/cudaHostUnregister (bench/gpu-check.sh reports
// the ratio); without a GPU both skip with the reason.
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <string>

#include "core/scratch_fs.h"
#include "pinners/pinner.h"

#if LONGPIN_HAVE_CUDA
#include <cuda_runtime_api.h>
#endif

namespace longpin {
namespace {

constexpr uint64_t kPage = 4096;
constexpr uint64_t kMaxWindow = 1ull << 30;
constexpr uint64_t kMaxFileWindow = 256ull << 20;  // the file mapping is dirtied once: spare the disk
constexpr uint64_t kMaxIoWindow = 64ull << 20;

enum class MappingKind { kMemfd, kFile };

struct Mapping {
  std::byte* base = nullptr;
  uint64_t length = 0;
  int fd = -1;
  std::string path;
};

// One mapping per kind for the whole program, faulted in (written) once so the pins measure pinning and
// not first-touch faults.
Mapping* GetMapping(MappingKind kind) {
  static Mapping memfd, file;
  Mapping& m = kind == MappingKind::kMemfd ? memfd : file;
  if (m.base) return &m;
  m.length = kind == MappingKind::kMemfd ? kMaxWindow : kMaxFileWindow;
  if (kind == MappingKind::kMemfd) {
    m.fd = ::memfd_create("longpin-bench", MFD_CLOEXEC);
    m.path = "memfd:longpin-bench";
  } else {
    char tmpl[] = "/var/tmp/longpin-bench-XXXXXX";
    m.fd = ::mkostemp(tmpl, O_CLOEXEC);
    m.path = tmpl;
    if (m.fd >= 0) ::unlink(tmpl);
  }
  if (m.fd < 0 || ::ftruncate(m.fd, off_t(m.length)) != 0) return nullptr;
  void* p = ::mmap(nullptr, m.length, PROT_READ | PROT_WRITE, MAP_SHARED, m.fd, 0);
  if (p == MAP_FAILED) return nullptr;
  m.base = static_cast<std::byte*>(p);
  std::memset(m.base, 0x5a, m.length);
  return &m;
}

std::string& ScratchDir() {
  static std::string dir = [] {
    char tmpl[] = "/var/tmp/longpin-bench-dir-XXXXXX";
    return std::string(::mkdtemp(tmpl) ? tmpl : "/var/tmp");
  }();
  return dir;
}

void BM_PinUnpin(benchmark::State& state, const std::string& name, MappingKind kind) {
  const uint64_t window = uint64_t(state.range(0));
  const PinnerInfo* info = FindPinner(name);
  if (!info) {
    state.SkipWithError((name + ": no such pinner").c_str());
    return;
  }
  if (auto why = info->unavailable()) {
    state.SkipWithError((name + ": " + *why).c_str());
    return;
  }
  Mapping* m = GetMapping(kind);
  if (!m) {
    state.SkipWithError("cannot create the mapping");
    return;
  }
  if (window > m->length) {
    state.SkipWithError("window larger than the mapping");
    return;
  }
  PinnerOptions opts;
  opts.scratch_dir = ScratchDir();
  auto created = info->create(PinTarget{m->base, m->length, m->fd, m->path, kPage, kPage}, opts);
  if (!created.ok()) {
    state.SkipWithError((name + ": " + created.status().message()).c_str());
    return;
  }
  Pinner& p = **created;
  const bool per_io = info->hold == PinHold::kPerIo;
  if (per_io && window > kMaxIoWindow) {
    state.SkipWithError("per-IO pinner: windows above 64 MiB not measured");
    return;
  }
  std::byte* src = nullptr;
  if (per_io) {
    src = static_cast<std::byte*>(std::aligned_alloc(kPage, window));
    std::memset(src, 0xa5, window);
  }
  uint64_t pages = 0, ns = 0, granted = 0;
  uint32_t epoch = 0;
  for (auto _ : state) {
    PinWindow w{0, window, ++epoch};
    auto t0 = std::chrono::steady_clock::now();
    auto g = p.Pin(w);
    if (!g.ok()) {
      state.SkipWithError((name + " refused: " + std::string(ErrnoName(g.status().err()))).c_str());
      break;
    }
    if (per_io) {
      if (Status s = p.DmaWrite(w, 0, src, window); !s.ok()) {
        state.SkipWithError(s.message().c_str());
        break;
      }
    }
    if (Status s = p.Unpin(w); !s.ok()) {
      state.SkipWithError(s.message().c_str());
      break;
    }
    ns += uint64_t(std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0).count());
    granted = (per_io ? window : g->bytes) / kPage;
    pages += granted;
  }
  std::free(src);
  if (pages > 0) state.counters["ns_per_page"] = double(ns) / double(pages);
  state.counters["pages"] = double(window / kPage);
  // vmsplice holds only what fits in the pipe: its ns_per_page is per page actually held.
  state.counters["held_pages"] = double(granted);
  state.SetLabel(per_io ? "pin+write+unpin per IO" : "pin+unpin");
}

// ---- cuda: the pinner's Pin/Unpin (above, as "cuda") against the bare cudaHostRegister/cudaHostUnregister
// on the same mapping and windows ("cuda-bare"): the ratio is what longpin adds to the driver's cost. ----

#if LONGPIN_HAVE_CUDA
void BM_CudaBareRegister(benchmark::State& state, MappingKind kind) {
  const uint64_t window = uint64_t(state.range(0));
  if (auto why = FindPinner("cuda")->unavailable()) {
    state.SkipWithError(("cuda: " + *why).c_str());
    return;
  }
  Mapping* m = GetMapping(kind);
  if (!m) {
    state.SkipWithError("cannot create the mapping");
    return;
  }
  if (window > m->length) {
    state.SkipWithError("window larger than the mapping");
    return;
  }
  (void)cudaFree(nullptr);  // the context is created here, not in the first timed registration
  uint64_t pages = 0, ns = 0;
  for (auto _ : state) {
    auto t0 = std::chrono::steady_clock::now();
    if (cudaError_t e = cudaHostRegister(m->base, window, cudaHostRegisterDefault); e != cudaSuccess) {
      (void)cudaGetLastError();
      state.SkipWithError((std::string("cuda-bare refused: ") + cudaGetErrorName(e)).c_str());
      break;
    }
    (void)cudaHostUnregister(m->base);
    ns += uint64_t(std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0).count());
    pages += window / kPage;
  }
  if (pages > 0) state.counters["ns_per_page"] = double(ns) / double(pages);
  state.counters["pages"] = double(window / kPage);
  state.counters["held_pages"] = double(window / kPage);
  state.SetLabel("cudaHostRegister+cudaHostUnregister, bare");
}
#endif

void RegisterCuda() {
  // The pinner goes through the generic BM_PinUnpin; the bare calls only where CUDA is built.
  for (MappingKind kind : {MappingKind::kMemfd, MappingKind::kFile}) {
    const uint64_t cap = kind == MappingKind::kMemfd ? kMaxWindow : kMaxFileWindow;
    const std::string suffix = kind == MappingKind::kMemfd ? "/memfd" : "/file";
    auto* p = benchmark::RegisterBenchmark(("PinUnpin/cuda" + suffix).c_str(),
                                           [kind](benchmark::State& s) { BM_PinUnpin(s, "cuda", kind); });
    for (uint64_t w = kPage; w <= cap; w *= 4) p->Arg(int64_t(w));
    p->Unit(benchmark::kMicrosecond);
#if LONGPIN_HAVE_CUDA
    auto* b = benchmark::RegisterBenchmark(("PinUnpin/cuda-bare" + suffix).c_str(),
                                           [kind](benchmark::State& s) { BM_CudaBareRegister(s, kind); });
    for (uint64_t w = kPage; w <= cap; w *= 4) b->Arg(int64_t(w));
    b->Unit(benchmark::kMicrosecond);
#endif
  }
}

void RegisterAll() {
  RegisterCuda();
  for (const char* name : {"none", "vmsplice", "io_uring", "odirect", "process-vm", "fuse"}) {
    for (MappingKind kind : {MappingKind::kMemfd, MappingKind::kFile}) {
      const uint64_t cap = kind == MappingKind::kMemfd ? kMaxWindow : kMaxFileWindow;
      auto* b = benchmark::RegisterBenchmark(
          (std::string("PinUnpin/") + name + (kind == MappingKind::kMemfd ? "/memfd" : "/file")).c_str(),
          [n = std::string(name), kind](benchmark::State& s) { BM_PinUnpin(s, n, kind); });
      for (uint64_t w = kPage; w <= cap; w *= 4) b->Arg(int64_t(w));
      b->Unit(benchmark::kMicrosecond);
    }
  }
}

}  // namespace
}  // namespace longpin

int main(int argc, char** argv) {
  // As root, a private mount namespace: the fuse pinner's mount cannot outlive a crashed benchmark.
  if (::geteuid() == 0) (void)longpin::EnterPrivateMountNamespace();
  utsname u{};
  if (::uname(&u) == 0) benchmark::AddCustomContext("kernel", std::string(u.release));
  benchmark::Initialize(&argc, argv);
  longpin::RegisterAll();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  ::rmdir(longpin::ScratchDir().c_str());
  return 0;
}
