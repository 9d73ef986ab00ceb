#include "distill/distributed.h"

#include <glog/logging.h>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include "compress/error.h"

namespace mc::distill {
namespace {

std::string first_line(const char* s) {
  std::string m = s;
  if (auto nl = m.find('\n'); nl != std::string::npos) m = m.substr(0, nl);
  return m;
}

}  // namespace

GradientGroup::GradientGroup(const DistOptions& o) : o_(o) {
  // c10d logs connection failures through glog on stderr; the one-line error below
  // carries the same text (architecture: one line per failure).
  FLAGS_minloglevel = google::GLOG_FATAL;
  const std::string where = o.master_addr + ":" + std::to_string(o.master_port);
  const auto timeout = std::chrono::milliseconds(static_cast<int64_t>(o.timeout_seconds) * 1000);
  try {
    c10d::TCPStoreOptions so;
    so.port = static_cast<std::uint16_t>(o.master_port);
    so.isServer = o.rank == 0;
    so.numWorkers = static_cast<std::size_t>(o.world_size);
    so.waitWorkers = true;
    so.timeout = timeout;
    store_ = c10::make_intrusive<c10d::TCPStore>(o.master_addr, so);
    auto po = c10d::ProcessGroupGloo::Options::create(timeout);
    const bool loopback = o.master_addr == "127.0.0.1" || o.master_addr == "localhost" || o.master_addr == "::1";
    po->devices.push_back(loopback ? c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1")
                                   : c10d::ProcessGroupGloo::createDefaultDevice());
    pg_ = c10::make_intrusive<c10d::ProcessGroupGloo>(store_, o.rank, o.world_size, po);
  } catch (const c10::Error& e) {
    throw Error(ErrorKind::Input, "c10d: rank " + std::to_string(o.rank) + " of " + std::to_string(o.world_size) +
                                      " could not meet the others at " + where + " within " +
                                      std::to_string(o.timeout_seconds) + " s (" + first_line(e.what_without_backtrace()) + ")");
  } catch (const std::exception& e) {
    throw Error(ErrorKind::Input, "c10d: rank " + std::to_string(o.rank) + " could not reach " + where + " (" +
                                      first_line(e.what()) + ")");
  }
}

GradientGroup::~GradientGroup() = default;

void GradientGroup::allreduce_sum(at::Tensor& t) {
  std::vector<at::Tensor> v = {t};
  try {
    pg_->allreduce(v)->wait();
  } catch (const c10::Error& e) {
    throw Error(ErrorKind::Input, "c10d: all-reduce failed (a peer stopped or timed out after " +
                                      std::to_string(o_.timeout_seconds) + " s): " + first_line(e.what_without_backtrace()));
  }
}

}  // namespace mc::distill
