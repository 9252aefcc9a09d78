// The RDMA and CUDA pinners' parts that need no device: registry entries and reasons, device choice, MR and
// registration flags, error mapping. The device paths are tested in tests/integration/pinners_hw_test.cc.
#include <gtest/gtest.h>

#include "pinners/cuda_pinner.h"
#include "pinners/pinner.h"
#include "pinners/rdma_pinner.h"

#if LONGPIN_HAVE_RDMA
#include <infiniband/verbs.h>
#endif

namespace longpin {
namespace {

// A compiled-out pinner is listed, and its factory refuses with the reason its entry gives.
[[maybe_unused]] void ExpectCompiledOut(const PinnerInfo& info) {
  auto made = info.create(PinTarget{}, PinnerOptions{});
  ASSERT_FALSE(made.ok()) << info.name;
  EXPECT_EQ(made.status().err(), ENOTSUP) << info.name;
  EXPECT_EQ(made.status().what(), info.unavailable().value_or("")) << info.name;
}

TEST(HwPinnerRegistry, ListsRdmaWithItsReason) {
  const PinnerInfo* rdma = FindPinner("rdma");
  ASSERT_NE(rdma, nullptr);
  EXPECT_EQ(rdma->reference, PinReference::kFollPinLongterm);
  const auto why = rdma->unavailable();
#if LONGPIN_HAVE_RDMA
  if (why) {
    EXPECT_EQ(why->rfind("no RDMA device", 0), 0u) << *why;
  }
#else
  ExpectCompiledOut(*rdma);
  ASSERT_TRUE(why);
  EXPECT_EQ(*why, "built without libibverbs (LONGPIN_WITH_RDMA)");
#endif
}

TEST(HwPinnerRegistry, ListsRdmaOdpAsTheNoPinControl) {
  const PinnerInfo* odp = FindPinner("rdma-odp");
  ASSERT_NE(odp, nullptr);
  EXPECT_EQ(odp->reference, PinReference::kMmuNotifier);
  EXPECT_EQ(odp->hold, PinHold::kWindow);
#if !LONGPIN_HAVE_RDMA
  ExpectCompiledOut(*odp);
#endif
  // ODP needs a device first: whenever rdma is unavailable, so is rdma-odp.
  if (FindPinner("rdma")->unavailable()) {
    EXPECT_TRUE(odp->unavailable());
  }
}

TEST(HwPinnerRegistry, ListsCudaWithItsReason) {
  const PinnerInfo* cuda = FindPinner("cuda");
  ASSERT_NE(cuda, nullptr);
  EXPECT_EQ(cuda->reference, PinReference::kFollPinLongterm);
  const auto why = cuda->unavailable();
#if LONGPIN_HAVE_CUDA
  if (why) {
    EXPECT_EQ(why->rfind("no CUDA device: ", 0), 0u) << *why;
  }
  if (why) {
    EXPECT_GT(why->size(), std::string("no CUDA device: ").size()) << "the CUDA error string is missing";
  }
#else
  ExpectCompiledOut(*cuda);
  ASSERT_TRUE(why);
  EXPECT_EQ(*why, "built without CUDA (LONGPIN_WITH_CUDA)");
#endif
}

TEST(RdmaDeviceChoice, NoneFoundIsENODEV) {
  auto r = ChooseRdmaDevice({}, "");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().err(), ENODEV);
  EXPECT_EQ(r.status().what(), "no RDMA device (ibv_get_device_list found none)");
}

TEST(RdmaDeviceChoice, DefaultIsTheFirst) {
  auto r = ChooseRdmaDevice({"rxe0", "mlx5_0"}, "");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, 0u);
}

TEST(RdmaDeviceChoice, ByNameAndMissingNameListsWhatWasFound) {
  auto r = ChooseRdmaDevice({"rxe0", "mlx5_0"}, "mlx5_0");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, 1u);
  auto missing = ChooseRdmaDevice({"rxe0", "mlx5_0"}, "siw0");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().err(), ENODEV);
  EXPECT_EQ(missing.status().what(), "no RDMA device named siw0 (found: rxe0, mlx5_0)");
}

TEST(RdmaMrAccessFlags, ReadWriteAsksForDeviceWrites) {
  RdmaMrAccess a = RdmaWindowAccess(PinAccess::kReadWrite, false);
  EXPECT_TRUE(a.local_write);
  EXPECT_TRUE(a.remote_write);
  EXPECT_FALSE(a.on_demand);
#if LONGPIN_HAVE_RDMA
  EXPECT_EQ(RdmaIbvAccessFlags(a), IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE);
#endif
}

TEST(RdmaMrAccessFlags, ReadOnlyAsksForNoWriteAtAll) {
  // No write bit of any kind: the kernel then pins without FOLL_WRITE, which 6.5+ still grants on files.
  RdmaMrAccess a = RdmaWindowAccess(PinAccess::kReadOnly, false);
  EXPECT_FALSE(a.local_write);
  EXPECT_FALSE(a.remote_write);
#if LONGPIN_HAVE_RDMA
  EXPECT_EQ(RdmaIbvAccessFlags(a), 0);
#endif
}

TEST(RdmaMrAccessFlags, OdpAddsOnDemand) {
  RdmaMrAccess a = RdmaWindowAccess(PinAccess::kReadWrite, true);
  EXPECT_TRUE(a.on_demand);
#if LONGPIN_HAVE_RDMA
  EXPECT_EQ(RdmaIbvAccessFlags(a), IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE | IBV_ACCESS_ON_DEMAND);
#endif
}

TEST(RdmaErrors, VerbErrorNamesTheVerbAndErrno) {
  Status s = VerbsError("ibv_reg_mr", "of mapping offset 4096 length 8192 on rxe0", EFAULT);
  EXPECT_EQ(s.err(), EFAULT);
  EXPECT_NE(s.message().find("ibv_reg_mr of mapping offset 4096"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("EFAULT"), std::string::npos) << s.message();
  EXPECT_EQ(s.message().find('\n'), std::string::npos);
  // A verb that failed without setting errno still fails.
  EXPECT_EQ(VerbsError("ibv_alloc_pd", "rxe0", 0).err(), EIO);
}

#if LONGPIN_HAVE_RDMA
TEST(RdmaErrors, CompletionStatusMapsToErrno) {
  EXPECT_EQ(RdmaCompletionErrno(IBV_WC_SUCCESS), 0);
  EXPECT_EQ(RdmaCompletionErrno(IBV_WC_REM_ACCESS_ERR), EACCES);
  EXPECT_EQ(RdmaCompletionErrno(IBV_WC_LOC_PROT_ERR), EFAULT);
  EXPECT_EQ(RdmaCompletionErrno(IBV_WC_RETRY_EXC_ERR), ETIMEDOUT);
  EXPECT_EQ(RdmaCompletionErrno(IBV_WC_WR_FLUSH_ERR), ECANCELED);
  EXPECT_EQ(RdmaCompletionErrno(IBV_WC_GENERAL_ERR), EIO);
}
#endif

TEST(CudaPlan, DefaultIsCopyIntoAPlainRegistration) {
  auto p = PlanCudaPin("", "", PinAccess::kReadWrite);
  ASSERT_TRUE(p.ok()) << p.status().message();
  EXPECT_EQ(p->register_flags, 0u);
  EXPECT_EQ(p->write, CudaWriteMode::kCopy);
  EXPECT_TRUE(p->device_writes);
  auto d = PlanCudaPin("default", "copy", PinAccess::kReadWrite);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->register_flags, 0u);
}

TEST(CudaPlan, FlagsCombine) {
  auto p = PlanCudaPin("portable,mapped", "", PinAccess::kReadWrite);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->register_flags, kCudaRegisterPortable | kCudaRegisterMapped);
}

TEST(CudaPlan, KernelWritesNeedTheMapping) {
  auto p = PlanCudaPin("portable", "kernel", PinAccess::kReadWrite);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->write, CudaWriteMode::kKernel);
  EXPECT_EQ(p->register_flags, kCudaRegisterPortable | kCudaRegisterMapped);
  EXPECT_TRUE(p->device_writes);
}

TEST(CudaPlan, ReadOnlyRegistrationDoesNotWrite) {
  auto ro = PlanCudaPin("", "", PinAccess::kReadOnly);
  ASSERT_TRUE(ro.ok());
  EXPECT_EQ(ro->register_flags, kCudaRegisterReadOnly);
  EXPECT_FALSE(ro->device_writes);
  auto flag = PlanCudaPin("readonly", "", PinAccess::kReadWrite);
  ASSERT_TRUE(flag.ok());
  EXPECT_FALSE(flag->device_writes);
}

TEST(CudaPlan, UnknownFlagOrWriteModeIsEINVALNamingIt) {
  auto p = PlanCudaPin("portable,iomem", "", PinAccess::kReadWrite);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().err(), EINVAL);
  EXPECT_NE(p.status().what().find("'iomem'"), std::string::npos) << p.status().what();
  auto w = PlanCudaPin("", "dma", PinAccess::kReadWrite);
  ASSERT_FALSE(w.ok());
  EXPECT_NE(w.status().what().find("--cuda-write dma"), std::string::npos) << w.status().what();
}

TEST(CudaErrors, RuntimeErrorsMapToErrno) {
  EXPECT_EQ(CudaErrorErrno(0), 0);
  EXPECT_EQ(CudaErrorErrno(1), EINVAL);        // cudaErrorInvalidValue
  EXPECT_EQ(CudaErrorErrno(2), ENOMEM);        // cudaErrorMemoryAllocation
  EXPECT_EQ(CudaErrorErrno(35), ENODEV);       // cudaErrorInsufficientDriver: no driver is no device
  EXPECT_EQ(CudaErrorErrno(100), ENODEV);      // cudaErrorNoDevice
  EXPECT_EQ(CudaErrorErrno(712), EEXIST);      // cudaErrorHostMemoryAlreadyRegistered
  EXPECT_EQ(CudaErrorErrno(801), EOPNOTSUPP);  // cudaErrorNotSupported
  EXPECT_EQ(CudaErrorErrno(999), EIO);         // cudaErrorUnknown
}

}  // namespace
}  // namespace longpin
