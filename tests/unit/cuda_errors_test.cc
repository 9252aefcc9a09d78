// What a GPU user is told: the reasons CUDA is unavailable (no driver, a driver older than the runtime, no
// GPU), a refused cudaHostRegister explained by the kernel's 6.5 rule, and the pin kind read from the pin
// counters. Pure functions of cudaError_t values, driver facts and kernel versions: they run without a GPU.
#include <gtest/gtest.h>

#include <cerrno>
#include <string>

#include "pinners/cuda_pinner.h"

namespace longpin {
namespace {

bool Has(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

CudaDriverFacts Driver(const char* version, int driver_cuda, int runtime) {
  CudaDriverFacts f;
  f.module_loaded = true;
  f.module_version = version;
  f.driver_cuda_version = driver_cuda;
  f.runtime_version = runtime;
  return f;
}

TEST(CudaUnavailableReason, NoKernelModuleIsNoDriverLoaded) {
  // This machine: libcuda absent, so the runtime says cudaErrorInsufficientDriver; the module file tells why.
  CudaDriverFacts none;
  none.runtime_version = 13000;
  const std::string why = CudaUnavailableReason(35, "cudaErrorInsufficientDriver", 0, none);
  EXPECT_EQ(
      why,
      "no CUDA device: no NVIDIA driver loaded (/proc/driver/nvidia/version missing; cudaGetDeviceCount: "
      "cudaErrorInsufficientDriver)");
  // Whatever the runtime says, no module is no driver.
  EXPECT_TRUE(Has(CudaUnavailableReason(100, "cudaErrorNoDevice", 0, none), "no NVIDIA driver loaded"));
  EXPECT_TRUE(Has(CudaUnavailableReason(0, nullptr, 0, none), "no NVIDIA driver loaded"));
}

TEST(CudaUnavailableReason, DriverOlderThanTheRuntimeNamesBothVersionsAndTheBranchNeeded) {
  const std::string why =
      CudaUnavailableReason(35, "cudaErrorInsufficientDriver", 0, Driver("535.183.01", 12020, 13000));
  EXPECT_EQ(why.rfind("no CUDA device: ", 0), 0u) << why;
  EXPECT_TRUE(Has(why, "NVIDIA driver 535.183.01 supports CUDA 12.2")) << why;
  EXPECT_TRUE(Has(why, "older than this build's CUDA runtime 13.0")) << why;
  EXPECT_TRUE(Has(why, "needs driver 580 or newer")) << why;
  EXPECT_TRUE(Has(why, "cudaErrorInsufficientDriver")) << why;
}

TEST(CudaUnavailableReason, ModuleWithoutLibcudaSaysSo) {
  const std::string why =
      CudaUnavailableReason(35, "cudaErrorInsufficientDriver", 0, Driver("580.65.06", 0, 13000));
  EXPECT_TRUE(Has(why, "580.65.06 is loaded but its libcuda.so.1 could not be loaded")) << why;
}

TEST(CudaUnavailableReason, DriverWithoutAVisibleGpuNamesCudaVisibleDevices) {
  CudaDriverFacts f = Driver("580.65.06", 13000, 13000);
  f.visible_devices = "7";
  const std::string why = CudaUnavailableReason(100, "cudaErrorNoDevice", 0, f);
  EXPECT_TRUE(Has(why, "runtime sees no GPU (cudaErrorNoDevice; CUDA_VISIBLE_DEVICES=7)")) << why;
  EXPECT_TRUE(Has(CudaUnavailableReason(0, nullptr, 0, Driver("580.65.06", 13000, 13000)),
                  "cudaGetDeviceCount found none; CUDA_VISIBLE_DEVICES=(unset)"));
}

TEST(CudaUnavailableReason, MismatchStubAndUnknownErrorsEachSayWhatToDo) {
  const CudaDriverFacts f = Driver("580.65.06", 13000, 13000);
  EXPECT_TRUE(Has(CudaUnavailableReason(803, "cudaErrorSystemDriverMismatch", 0, f), "different versions"));
  EXPECT_TRUE(Has(CudaUnavailableReason(34, "cudaErrorStubLibrary", 0, f), "stubs directory"));
  EXPECT_TRUE(Has(CudaUnavailableReason(999, "cudaErrorUnknown", 0, f), "NVRM"));
  EXPECT_TRUE(Has(CudaUnavailableReason(46, "cudaErrorDevicesUnavailable", 0, f), "compute mode"));
  const std::string other = CudaUnavailableReason(222, nullptr, 0, f);
  EXPECT_TRUE(Has(other, "cudaError 222")) << other;
  EXPECT_TRUE(CudaUnavailableReason(0, nullptr, 1, f).empty());
}

TEST(CudaVersionString, MajorDotMinor) {
  EXPECT_EQ(CudaVersionString(12020), "12.2");
  EXPECT_EQ(CudaVersionString(13000), "13.0");
  EXPECT_EQ(CudaVersionString(11080), "11.8");
  EXPECT_EQ(CudaVersionString(0), "unknown");
}

CudaRegisterContext SharedExt4(int kernel) {
  CudaRegisterContext c;
  c.shared = true;
  c.file_backed = true;
  c.writable = true;
  c.kernel_version = kernel;
  c.mapping = "shared ext4 mapping";
  return c;
}

TEST(CudaRegisterRefusal, WritableSharedFileOn65PlusIsTheKernelRuleWithEFAULT) {
  const CudaRegisterContext c = SharedExt4(618);
  EXPECT_TRUE(KernelRefusesWritableLongtermPin(c));
  // The CUDA error the driver's NV_ERR_INVALID_ADDRESS becomes is unverified: any registration error is
  // explained by the rule here.
  for (int e : {1, 2, 700, 999}) {
    const std::string why = CudaRegisterRefusal(e, c);
    EXPECT_TRUE(Has(why,
                    "kernel 6.18 refuses writable long-term pins (FOLL_PIN|FOLL_LONGTERM) of a shared ext4 "
                    "mapping since 6.5"))
        << why;
    EXPECT_TRUE(Has(why, "EFAULT")) << why;
    EXPECT_TRUE(Has(why, "NV_ERR_INVALID_ADDRESS")) << why;
    EXPECT_EQ(CudaRegisterErrno(e, c), EFAULT) << e;
  }
}

TEST(CudaRegisterRefusal, WhereTheRuleDoesNotApplyInvalidValueSaysWhyNot) {
  CudaRegisterContext old = SharedExt4(601);
  EXPECT_FALSE(KernelRefusesWritableLongtermPin(old));
  EXPECT_TRUE(Has(CudaRegisterRefusal(1, old), "kernel 6.1 is older than 6.5"))
      << CudaRegisterRefusal(1, old);
  EXPECT_EQ(CudaRegisterErrno(1, old), EINVAL);

  CudaRegisterContext ro = SharedExt4(618);
  ro.writable = false;
  EXPECT_FALSE(KernelRefusesWritableLongtermPin(ro));
  EXPECT_TRUE(Has(CudaRegisterRefusal(1, ro), "the registration is read-only"));

  CudaRegisterContext memfd = SharedExt4(618);
  memfd.file_backed = false;
  EXPECT_TRUE(Has(CudaRegisterRefusal(1, memfd), "needs no dirty tracking"));

  CudaRegisterContext priv = SharedExt4(618);
  priv.shared = false;
  EXPECT_TRUE(Has(CudaRegisterRefusal(1, priv), "the mapping is private"));
  EXPECT_EQ(CudaRegisterErrno(1, priv), EINVAL);
}

TEST(CudaRegisterRefusal, AlreadyRegisteredIsNeverTheKernelRule) {
  const CudaRegisterContext c = SharedExt4(618);
  const std::string why = CudaRegisterRefusal(712, c);
  EXPECT_TRUE(Has(why, "already registered")) << why;
  EXPECT_FALSE(Has(why, "6.5")) << why;
  EXPECT_EQ(CudaRegisterErrno(712, c), EEXIST);
  EXPECT_EQ(CudaRegisterErrno(713, c), ENOENT);
  EXPECT_TRUE(CudaRegisterRefusal(0, c).empty());
}

TEST(CudaRegisterRefusal, OtherErrorsName) {
  const CudaRegisterContext c = SharedExt4(601);
  EXPECT_TRUE(Has(CudaRegisterRefusal(2, c), "movable/CMA"));
  EXPECT_EQ(CudaRegisterErrno(2, c), ENOMEM);
  EXPECT_TRUE(Has(CudaRegisterRefusal(801, c), "cannot register"));
  EXPECT_TRUE(CudaRegisterRefusal(999, c).empty());
}

TEST(CudaParseKernelVersion, MajorTimesHundredPlusMinor) {
  EXPECT_EQ(ParseKernelVersion("6.18.44-fc-v1098"), 618);
  EXPECT_EQ(ParseKernelVersion("6.1.0-27-amd64"), 601);
  EXPECT_EQ(ParseKernelVersion("5.14.0-427.el9.x86_64"), 514);
  EXPECT_EQ(ParseKernelVersion("junk"), 0);
}

CudaPinProbe Probe(int64_t acquired, int64_t released, bool file_tried, bool file_refused, int kernel) {
  CudaPinProbe p;
  p.pages = 256;
  p.acquired = acquired;
  p.released = released;
  p.counters_available = true;
  p.refreshed = true;
  p.file_tried = file_tried;
  p.file_refused = file_refused;
  p.kernel_version = kernel;
  return p;
}

TEST(ClassifyCudaPinKind, RefusedSharedFileOn65PlusIsLongterm) {
  const std::string k = ClassifyCudaPinKind(Probe(256, 256, true, true, 618));
  EXPECT_EQ(k.rfind("FOLL_PIN|FOLL_LONGTERM (", 0), 0u) << k;
  EXPECT_TRUE(Has(k, "nr_foll_pin_acquired +256, released +256 for 256 pages")) << k;
}

TEST(ClassifyCudaPinKind, GrantedSharedFileOn65PlusIsShortTermFollPin) {
  const std::string k = ClassifyCudaPinKind(Probe(256, 256, true, false, 618));
  EXPECT_EQ(k.rfind("FOLL_PIN (not long-term", 0), 0u) << k;
}

TEST(ClassifyCudaPinKind, BeforeSixFiveLongtermCannotBeTold) {
  EXPECT_EQ(ClassifyCudaPinKind(Probe(256, 256, true, false, 601))
                .rfind("FOLL_PIN (long-term or not cannot be told", 0),
            0u);
  EXPECT_TRUE(Has(ClassifyCudaPinKind(Probe(256, 256, false, false, 618)), "no shared file mapping"));
}

TEST(ClassifyCudaPinKind, CountersThatDoNotMoveAreFollGet) {
  EXPECT_EQ(ClassifyCudaPinKind(Probe(0, 0, true, false, 601)).rfind("FOLL_GET (", 0), 0u);
  // Without stat_refresh a still counter proves nothing.
  CudaPinProbe p = Probe(0, 0, true, false, 601);
  p.refreshed = false;
  const std::string k = ClassifyCudaPinKind(p);
  EXPECT_EQ(k.rfind("unknown (", 0), 0u) << k;
  EXPECT_TRUE(Has(k, "run as root")) << k;
  p.counters_available = false;
  EXPECT_TRUE(Has(ClassifyCudaPinKind(p), "no nr_foll_pin_* counters")) << ClassifyCudaPinKind(p);
}

}  // namespace
}  // namespace longpin
