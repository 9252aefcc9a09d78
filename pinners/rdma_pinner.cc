#include "pinners/rdma_pinner.h"

#include <sched.h>
#include <sys/mman.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <map>

#include "core/block_stamp.h"

#if LONGPIN_HAVE_RDMA
#include <infiniband/verbs.h>
#endif

namespace longpin {

RdmaMrAccess RdmaWindowAccess(PinAccess access, bool odp) {
  RdmaMrAccess a;
  // REMOTE_WRITE needs LOCAL_WRITE (the verbs spec; providers return EINVAL otherwise).
  a.local_write = a.remote_write = access == PinAccess::kReadWrite;
  a.on_demand = odp;
  return a;
}

Result<size_t> ChooseRdmaDevice(const std::vector<std::string>& found, const std::string& wanted) {
  if (found.empty()) return Status(ENODEV, "no RDMA device (ibv_get_device_list found none)");
  if (wanted.empty()) return size_t{0};
  std::string names;
  for (size_t i = 0; i < found.size(); ++i) {
    if (found[i] == wanted) return i;
    names += (i ? ", " : "") + found[i];
  }
  return Status(ENODEV, "no RDMA device named " + wanted + " (found: " + names + ")");
}

Status VerbsError(const char* verb, const std::string& where, int err) {
  std::string what = verb;
  if (!where.empty()) what += " " + where;
  // Registration as an unprivileged user is limited by RLIMIT_MEMLOCK: say so, it is the usual cause.
  if (err == ENOMEM && ::geteuid() != 0 && std::strcmp(verb, "ibv_reg_mr") == 0) what += " (RLIMIT_MEMLOCK?)";
  return Status(err > 0 ? err : EIO, std::move(what));
}

#if !LONGPIN_HAVE_RDMA

namespace {
constexpr const char* kRdmaCompiledOut = "built without libibverbs (LONGPIN_WITH_RDMA)";
}  // namespace

std::optional<std::string> RdmaUnavailable() {
  return kRdmaCompiledOut;
}
std::optional<std::string> RdmaOdpUnavailable() {
  return kRdmaCompiledOut;
}
Result<std::unique_ptr<Pinner>> CreateRdmaPinner(const PinTarget&, const PinnerOptions&) {
  return Status(ENOTSUP, kRdmaCompiledOut);
}
Result<std::unique_ptr<Pinner>> CreateRdmaOdpPinner(const PinTarget&, const PinnerOptions&) {
  return Status(ENOTSUP, kRdmaCompiledOut);
}

#else

int RdmaIbvAccessFlags(const RdmaMrAccess& a) {
  int flags = 0;
  if (a.local_write) flags |= IBV_ACCESS_LOCAL_WRITE;
  if (a.remote_write) flags |= IBV_ACCESS_REMOTE_WRITE;
  if (a.on_demand) flags |= IBV_ACCESS_ON_DEMAND;
  return flags;
}

int RdmaCompletionErrno(int ibv_wc_status) {
  switch (ibv_wc_status) {
    case IBV_WC_SUCCESS: return 0;
    case IBV_WC_REM_ACCESS_ERR: return EACCES;
    case IBV_WC_LOC_PROT_ERR:
    case IBV_WC_LOC_ACCESS_ERR: return EFAULT;
    case IBV_WC_RETRY_EXC_ERR:
    case IBV_WC_RNR_RETRY_EXC_ERR: return ETIMEDOUT;
    case IBV_WC_WR_FLUSH_ERR: return ECANCELED;
    case IBV_WC_REM_INV_REQ_ERR:
    case IBV_WC_LOC_LEN_ERR: return EINVAL;
    default: return EIO;
  }
}

namespace {

constexpr uint8_t kPort = 1;
constexpr auto kCompletionTimeout = std::chrono::seconds(10);

// The device list, owned: ibv_free_device_list on every path.
struct DeviceList {
  ibv_device** list = nullptr;
  int count = 0;
  int err = 0;
  DeviceList() {
    errno = 0;
    list = ::ibv_get_device_list(&count);
    if (!list) err = errno ? errno : ENODEV;
  }
  ~DeviceList() {
    if (list) ::ibv_free_device_list(list);
  }
  std::vector<std::string> names() const {
    std::vector<std::string> out;
    for (int i = 0; list && i < count; ++i) out.emplace_back(::ibv_get_device_name(list[i]));
    return out;
  }
};

// ENOTSUP with the reason when the device cannot serve on-demand paging for RC RDMA WRITE.
Status CheckOdp(ibv_context* ctx, const char* name) {
  ibv_device_attr_ex attr{};
  if (int err = ::ibv_query_device_ex(ctx, nullptr, &attr))
    return VerbsError("ibv_query_device_ex", name, err);
  const bool odp = attr.odp_caps.general_caps & IBV_ODP_SUPPORT;
  const bool rc_write = attr.odp_caps.per_transport_caps.rc_odp_caps & IBV_ODP_SUPPORT_WRITE;
  if (odp && rc_write) return {};
  return Status(ENOTSUP, std::string("RDMA device ") + name + " reports no ODP " + (odp ? "RC WRITE " : "") +
                             "support (ibv_query_device_ex)");
}

class RdmaPinner final : public Pinner {
 public:
  RdmaPinner(const PinTarget& t, const PinnerOptions& o, bool odp)
      : target_(t), access_(RdmaWindowAccess(o.access, odp)), odp_(odp) {}

  ~RdmaPinner() override {
    for (auto& [epoch, mr] : mrs_) ::ibv_dereg_mr(mr);
    for (ibv_qp* qp : qp_)
      if (qp) ::ibv_destroy_qp(qp);
    if (cq_) ::ibv_destroy_cq(cq_);
    if (staging_mr_) ::ibv_dereg_mr(staging_mr_);
    if (staging_) ::munmap(staging_, kMaxBlockSize);
    if (pd_) ::ibv_dealloc_pd(pd_);
    if (ctx_) ::ibv_close_device(ctx_);
  }

  Status Open(const PinnerOptions& o) {
    DeviceList devices;
    if (devices.err == ENOSYS) return Status(ENODEV, "no RDMA device (no RDMA support in this kernel)");
    if (devices.err) return VerbsError("ibv_get_device_list", "", devices.err);
    auto chosen = ChooseRdmaDevice(devices.names(), o.Get("device").value_or(""));
    if (!chosen.ok()) return chosen.status();
    name_ = ::ibv_get_device_name(devices.list[*chosen]);
    ctx_ = ::ibv_open_device(devices.list[*chosen]);
    if (!ctx_) return VerbsError("ibv_open_device", name_, errno);
    if (odp_)
      if (Status s = CheckOdp(ctx_, name_.c_str()); !s.ok()) return s;
    pd_ = ::ibv_alloc_pd(ctx_);
    if (!pd_) return VerbsError("ibv_alloc_pd", name_, errno);
    if (Status s = OpenLoopback(); !s.ok()) return s;
    // The staging buffer is our own anonymous memory: registering it is never refused.
    void* m = ::mmap(nullptr, kMaxBlockSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) return Status::FromErrno("mmap RDMA staging buffer");
    staging_ = static_cast<std::byte*>(m);
    staging_mr_ =
        ::ibv_reg_mr(pd_, staging_, kMaxBlockSize, IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE);
    if (!staging_mr_) return VerbsError("ibv_reg_mr", "of the staging buffer on " + name_, errno);
    return {};
  }

  Result<PinGrant> Pin(const PinWindow& w) override {
    ibv_mr* mr = ::ibv_reg_mr(pd_, target_.base + w.offset, w.length, RdmaIbvAccessFlags(access_));
    if (!mr) {
      return VerbsError("ibv_reg_mr",
                        "of mapping offset " + std::to_string(w.offset) + " length " +
                            std::to_string(w.length) + " on " + name_,
                        errno);
    }
    mrs_[w.epoch] = mr;
    return PinGrant{w.length};
  }

  Status Unpin(const PinWindow& w) override {
    auto it = mrs_.find(w.epoch);
    if (it == mrs_.end()) return {};
    const int err = ::ibv_dereg_mr(it->second);
    mrs_.erase(it);
    if (err) return VerbsError("ibv_dereg_mr", "of mapping offset " + std::to_string(w.offset), err);
    return {};
  }

  // With --pin-access ro the MR grants the device no write: nothing to write through.
  bool can_write() const override { return access_.remote_write; }

  Status DmaWrite(const PinWindow& w, uint64_t offset, const std::byte* src, size_t len) override {
    auto it = mrs_.find(w.epoch);
    if (it == mrs_.end())
      return Status(EINVAL, "RDMA WRITE into epoch " + std::to_string(w.epoch) + ": no MR");
    if (offset < w.offset || offset + len > w.offset + w.length || len > kMaxBlockSize)
      return Status(EINVAL, "RDMA WRITE at offset " + std::to_string(offset) + ": outside the window");
    std::memcpy(staging_, src, len);
    ibv_sge sge{reinterpret_cast<uint64_t>(staging_), uint32_t(len), staging_mr_->lkey};
    ibv_send_wr wr{};
    wr.wr_id = w.epoch;
    wr.sg_list = &sge;
    wr.num_sge = 1;
    wr.opcode = IBV_WR_RDMA_WRITE;
    wr.send_flags = IBV_SEND_SIGNALED;
    wr.wr.rdma.remote_addr = reinterpret_cast<uint64_t>(target_.base + offset);
    wr.wr.rdma.rkey = it->second->rkey;
    ibv_send_wr* bad = nullptr;
    if (int err = ::ibv_post_send(qp_[0], &wr, &bad))
      return RecoverAfter(VerbsError("ibv_post_send", name_, err));
    return RecoverAfter(WaitCompletion(offset));
  }

 private:
  Status OpenLoopback() {
    ibv_port_attr port{};
    if (int err = ::ibv_query_port(ctx_, kPort, &port)) return VerbsError("ibv_query_port", name_, err);
    if (port.state != IBV_PORT_ACTIVE)
      return Status(ENETDOWN, "RDMA port " + std::to_string(kPort) + " of " + name_ + " is " +
                                  ::ibv_port_state_str(port.state) + ", not ACTIVE");
    mtu_ = port.active_mtu;
    lid_ = port.lid;
    // RoCE (Soft-RoCE) addresses by GID: take the first non-zero one (the link-local default GID is always
    // there once the netdev is up). InfiniBand addresses by LID.
    global_ = port.link_layer == IBV_LINK_LAYER_ETHERNET;
    if (global_) {
      const int n = port.gid_tbl_len < 16 ? port.gid_tbl_len : 16;
      for (gid_index_ = 0; gid_index_ < n; ++gid_index_) {
        if (int err = ::ibv_query_gid(ctx_, kPort, gid_index_, &gid_))
          return VerbsError("ibv_query_gid", name_, err);
        if (gid_.global.interface_id || gid_.global.subnet_prefix) break;
      }
      if (gid_index_ == n)
        return Status(EADDRNOTAVAIL, "RDMA port of " + name_ + " has no GID (is the netdev up?)");
    }
    cq_ = ::ibv_create_cq(ctx_, 16, nullptr, nullptr, 0);
    if (!cq_) return VerbsError("ibv_create_cq", name_, errno);
    for (ibv_qp*& qp : qp_) {
      ibv_qp_init_attr init{};
      init.send_cq = cq_;
      init.recv_cq = cq_;
      init.qp_type = IBV_QPT_RC;
      init.cap.max_send_wr = 4;
      init.cap.max_recv_wr = 1;
      init.cap.max_send_sge = 1;
      init.cap.max_recv_sge = 1;
      qp = ::ibv_create_qp(pd_, &init);
      if (!qp) return VerbsError("ibv_create_qp", "(RC) on " + name_, errno);
    }
    return Connect();
  }

  // RESET -> INIT -> RTR -> RTS for both QPs, each pointed at the other: the port's own GID/LID as the
  // destination makes every RDMA WRITE a loopback through the device.
  Status Connect() {
    for (int i = 0; i < 2; ++i) {
      ibv_qp* qp = qp_[i];
      ibv_qp_attr a{};
      a.qp_state = IBV_QPS_RESET;
      if (int err = ::ibv_modify_qp(qp, &a, IBV_QP_STATE))
        return VerbsError("ibv_modify_qp", "to RESET", err);
      a = {};
      a.qp_state = IBV_QPS_INIT;
      a.pkey_index = 0;
      a.port_num = kPort;
      a.qp_access_flags = IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE | IBV_ACCESS_REMOTE_READ;
      if (int err =
              ::ibv_modify_qp(qp, &a, IBV_QP_STATE | IBV_QP_PKEY_INDEX | IBV_QP_PORT | IBV_QP_ACCESS_FLAGS))
        return VerbsError("ibv_modify_qp", "to INIT on " + name_, err);
      a = {};
      a.qp_state = IBV_QPS_RTR;
      a.path_mtu = mtu_;
      a.dest_qp_num = qp_[1 - i]->qp_num;
      a.rq_psn = 0;
      a.max_dest_rd_atomic = 1;
      a.min_rnr_timer = 12;
      a.ah_attr.port_num = kPort;
      a.ah_attr.dlid = lid_;
      if (global_) {
        a.ah_attr.is_global = 1;
        a.ah_attr.grh.dgid = gid_;
        a.ah_attr.grh.sgid_index = uint8_t(gid_index_);
        a.ah_attr.grh.hop_limit = 1;
      }
      if (int err = ::ibv_modify_qp(qp, &a,
                                    IBV_QP_STATE | IBV_QP_AV | IBV_QP_PATH_MTU | IBV_QP_DEST_QPN |
                                        IBV_QP_RQ_PSN | IBV_QP_MAX_DEST_RD_ATOMIC | IBV_QP_MIN_RNR_TIMER))
        return VerbsError("ibv_modify_qp", "to RTR on " + name_, err);
      a = {};
      a.qp_state = IBV_QPS_RTS;
      a.timeout = 14;
      a.retry_cnt = 7;
      a.rnr_retry = 7;
      a.sq_psn = 0;
      a.max_rd_atomic = 1;
      if (int err = ::ibv_modify_qp(qp, &a,
                                    IBV_QP_STATE | IBV_QP_TIMEOUT | IBV_QP_RETRY_CNT | IBV_QP_RNR_RETRY |
                                        IBV_QP_SQ_PSN | IBV_QP_MAX_QP_RD_ATOMIC))
        return VerbsError("ibv_modify_qp", "to RTS on " + name_, err);
    }
    return {};
  }

  Status WaitCompletion(uint64_t offset) {
    const auto deadline = std::chrono::steady_clock::now() + kCompletionTimeout;
    ibv_wc wc{};
    for (unsigned spins = 0;; ++spins) {
      const int n = ::ibv_poll_cq(cq_, 1, &wc);
      if (n < 0) return VerbsError("ibv_poll_cq", name_, EIO);
      if (n == 1) break;
      // Soft-RoCE completes in kernel context on the same few CPUs: yield rather than spin them away.
      if (spins % 64 == 63) {
        if (std::chrono::steady_clock::now() > deadline)
          return Status(ETIMEDOUT, "RDMA WRITE at offset " + std::to_string(offset) + " on " + name_ +
                                       ": no completion in 10 s");
        ::sched_yield();
      }
    }
    if (wc.status != IBV_WC_SUCCESS)
      return Status(RdmaCompletionErrno(wc.status), "RDMA WRITE completion at offset " +
                                                        std::to_string(offset) + " on " + name_ + ": " +
                                                        ::ibv_wc_status_str(wc.status));
    return {};
  }

  // A failed work request leaves the QPs in the error state: reconnect so the next write can go, and keep
  // the first error as the result.
  Status RecoverAfter(Status s) {
    if (s.ok()) return s;
    ibv_wc drain[4];
    while (::ibv_poll_cq(cq_, 4, drain) > 0) {
    }
    (void)Connect();
    return s;
  }

  PinTarget target_;
  RdmaMrAccess access_;
  bool odp_;
  std::string name_;
  ibv_context* ctx_ = nullptr;
  ibv_pd* pd_ = nullptr;
  ibv_cq* cq_ = nullptr;
  ibv_qp* qp_[2] = {nullptr, nullptr};
  std::byte* staging_ = nullptr;
  ibv_mr* staging_mr_ = nullptr;
  std::map<uint32_t, ibv_mr*> mrs_;
  ibv_mtu mtu_ = IBV_MTU_1024;
  uint16_t lid_ = 0;
  bool global_ = false;
  int gid_index_ = 0;
  ibv_gid gid_{};
};

Result<std::unique_ptr<Pinner>> Create(const PinTarget& target, const PinnerOptions& options, bool odp) {
  auto p = std::make_unique<RdmaPinner>(target, options, odp);
  if (Status s = p->Open(options); !s.ok()) return s;
  return std::unique_ptr<Pinner>(std::move(p));
}

// Why no device can be used, or nullopt; with odp, also whether the first device can do ODP RC WRITE.
std::optional<std::string> Unavailable(bool odp) {
  DeviceList devices;
  // ENOSYS: the kernel offers no uverbs at all (no /sys/class/infiniband_verbs), the common case here.
  if (devices.err == ENOSYS)
    return "no RDMA device (ibv_get_device_list found none: no RDMA support in this kernel)";
  if (devices.err) return "no RDMA device (" + Status(devices.err, "ibv_get_device_list").message() + ")";
  if (devices.count == 0) return "no RDMA device (ibv_get_device_list found none)";
  if (!odp) return std::nullopt;
  ibv_context* ctx = ::ibv_open_device(devices.list[0]);
  const char* name = ::ibv_get_device_name(devices.list[0]);
  if (!ctx) return VerbsError("ibv_open_device", name, errno).message();
  Status s = CheckOdp(ctx, name);
  ::ibv_close_device(ctx);
  if (!s.ok()) return s.what();
  return std::nullopt;
}

}  // namespace

std::optional<std::string> RdmaUnavailable() {
  return Unavailable(false);
}
std::optional<std::string> RdmaOdpUnavailable() {
  return Unavailable(true);
}

Result<std::unique_ptr<Pinner>> CreateRdmaPinner(const PinTarget& target, const PinnerOptions& options) {
  return Create(target, options, false);
}
Result<std::unique_ptr<Pinner>> CreateRdmaOdpPinner(const PinTarget& target, const PinnerOptions& options) {
  return Create(target, options, true);
}

#endif  // LONGPIN_HAVE_RDMA

}  // namespace longpin
