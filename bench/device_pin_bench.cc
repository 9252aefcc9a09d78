// Device registration cost per page: ibv_reg_mr + ibv_dereg_mr (rdma) and cudaHostRegister +
// cudaHostUnregister (cuda) through the pinners' Pin/Unpin, for windows of 4 KiB .. 1 GiB of populated
// anonymous memory (granted on every kernel, so the cost is the pin's, not a refusal's). Without a device
// each benchmark reports SkipWithError with the reason.
#include <benchmark/benchmark.h>
#include <sys/mman.h>
#include <unistd.h>

#include <string>

#include "pinners/cuda_pinner.h"
#include "pinners/pinner.h"
#include "pinners/rdma_pinner.h"

namespace longpin {
namespace {

void PinUnpin(benchmark::State& state, const char* pinner_name) {
  const PinnerInfo* info = FindPinner(pinner_name);
  auto why = info->unavailable();
  if (why) {
    state.SkipWithError(why->c_str());
    return;
  }
  const size_t bytes = size_t(state.range(0));
  const size_t page = size_t(::sysconf(_SC_PAGESIZE));
  void* m = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
  if (m == MAP_FAILED) {
    state.SkipWithError(("mmap " + std::to_string(bytes) + " bytes failed").c_str());
    return;
  }
  auto pinner = info->create(PinTarget{static_cast<std::byte*>(m), bytes, -1, "anonymous", page, 4096}, {});
  if (!pinner.ok()) {
    ::munmap(m, bytes);
    state.SkipWithError(pinner.status().message().c_str());
    return;
  }
  uint32_t epoch = 0;
  for (auto _ : state) {
    PinWindow w{0, bytes, ++epoch};
    auto g = (*pinner)->Pin(w);
    if (!g.ok()) {
      state.SkipWithError(g.status().message().c_str());
      break;
    }
    if (Status s = (*pinner)->Unpin(w); !s.ok()) {
      state.SkipWithError(s.message().c_str());
      break;
    }
  }
  pinner.value().reset();
  ::munmap(m, bytes);
  const double pages = double(bytes / page);
  state.SetItemsProcessed(int64_t(state.iterations()) * int64_t(pages));
  state.counters["per_page"] =
      benchmark::Counter(pages, benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}

void BM_RdmaRegDereg(benchmark::State& state) {
  PinUnpin(state, "rdma");
}
void BM_CudaHostRegisterUnregister(benchmark::State& state) {
  PinUnpin(state, "cuda");
}

BENCHMARK(BM_RdmaRegDereg)->RangeMultiplier(4)->Range(4 << 10, 1 << 30)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_CudaHostRegisterUnregister)
    ->RangeMultiplier(4)
    ->Range(4 << 10, 1 << 30)
    ->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace longpin

BENCHMARK_MAIN();
