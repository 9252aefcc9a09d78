// rdma, rdma-odp: the target windows become RDMA memory regions (ibv_reg_mr; rdma-odp adds
// IBV_ACCESS_ON_DEMAND, which takes no pin and is the control). DmaWrite is a real device write: the stamped
// block is copied into a registered staging MR and RDMA-WRITTEN into the window's MR through a pair of RC
// queue pairs on the same port connected to each other (loopback: no peer, no rdmacm); the CQE is the
// completion. Soft-RoCE (rdma_rxe) is enough: docs/rdma-cuda.md.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "pinners/pinner.h"

namespace longpin {

// Registry hooks. The reasons start with "no RDMA device" when the machine has none, and are
// "built without libibverbs (LONGPIN_WITH_RDMA)" when compiled out.
std::optional<std::string> RdmaUnavailable();
std::optional<std::string> RdmaOdpUnavailable();

// Option: device=NAME (default the first found). Compiled out, the factories refuse with the reason above.
inline constexpr const char* kRdmaOptionKeys = "device";
Result<std::unique_ptr<Pinner>> CreateRdmaPinner(const PinTarget& target, const PinnerOptions& options);
Result<std::unique_ptr<Pinner>> CreateRdmaOdpPinner(const PinTarget& target, const PinnerOptions& options);

// What a window's MR asks of the kernel. rw: the device may write (FOLL_WRITE: the pin 6.5+ refuses on a
// shared file mapping); ro: no write access at all, a read-only long-term pin.
struct RdmaMrAccess {
  bool local_write = false;
  bool remote_write = false;
  bool on_demand = false;
};
RdmaMrAccess RdmaWindowAccess(PinAccess access, bool odp);
#if LONGPIN_HAVE_RDMA
int RdmaIbvAccessFlags(const RdmaMrAccess& a);  // IBV_ACCESS_* bits
// errno that best names a failed work completion (IBV_WC_* status): a remote access error is EACCES, a local
// protection error EFAULT, retries exhausted ETIMEDOUT, a flushed WR ECANCELED.
int RdmaCompletionErrno(int ibv_wc_status);
#endif

// Picks the device: wanted empty = the first found. ENODEV with "no RDMA device ..." and the list of what was
// found when nothing fits.
Result<size_t> ChooseRdmaDevice(const std::vector<std::string>& found, const std::string& wanted);

// One line for a failed verb: "VERB WHERE" with the errno (verbs return NULL+errno or an errno value).
Status VerbsError(const char* verb, const std::string& where, int err);

}  // namespace longpin
