// c10d for the trainers: a TCPStore rendezvous and a ProcessGroupGloo that sums
// gradients across processes, as DDP does. INTERNAL to distill/ (includes torch).
#pragma once
#include <torch/torch.h>

#include <memory>

#include "distill/trainer.h"

namespace c10d {
class ProcessGroup;
class Store;
}  // namespace c10d

namespace mc::distill {

class GradientGroup {
 public:
  // Connects rank `o.rank` of `o.world_size` to the store at master_addr:master_port
  // (rank 0 serves it). Throws mc::Error(Input) when the master or a peer is not
  // reachable within o.timeout_seconds.
  explicit GradientGroup(const DistOptions& o);
  ~GradientGroup();
  // Sums `t` (float, contiguous) over all processes in place.
  void allreduce_sum(at::Tensor& t);

 private:
  DistOptions o_;
  c10::intrusive_ptr<c10d::Store> store_;
  c10::intrusive_ptr<c10d::ProcessGroup> pg_;
};

}  // namespace mc::distill
