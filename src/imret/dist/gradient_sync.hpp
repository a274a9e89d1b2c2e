#pragma once
// Gradients reduced over the ranks as DistributedDataParallel does it:
// parameters grouped in buckets of about `bucket_bytes` (in reverse order,
// the order backward tends to produce their gradients), each bucket's
// all-reduce started as soon as its last gradient is ready, so that
// communication overlaps the rest of backward; finish() waits for them and
// writes the reduced gradients back.
//
// Reduce::Sum when every rank's loss is the same global loss and each rank's
// backward yields the gradient of its own rows (imret's training: the
// embeddings are gathered, gather_rows); the sum is then the one-process
// gradient. Reduce::Average for tensors every rank computes in full (a
// loss's own parameters, e.g. proxies).
//
// Requirements, as for DDP: every rank runs the same graph (buckets must
// become ready in the same order on every rank); parameters are not used by
// two backward passes of one step. A parameter that received no gradient this
// step on any rank keeps none (the optimizer skips it).
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "imret/dist/communicator.hpp"

namespace imret::dist {

enum class Reduce { Sum, Average };

class GradientSync {
 public:
  GradientSync(std::shared_ptr<Communicator> group, std::vector<at::Tensor> parameters, Reduce reduce,
               int64_t bucket_bytes = 25 << 20);
  ~GradientSync();
  GradientSync(const GradientSync&) = delete;
  GradientSync& operator=(const GradientSync&) = delete;

  // After backward: every bucket reduced, the gradients replaced by the
  // reduced ones. Buckets not yet started (gradients that never came) start
  // here, in bucket order. Nothing when no gradient came this step.
  void finish();

  int64_t buckets() const { return static_cast<int64_t>(buckets_.size()); }

 private:
  struct Bucket;
  void ready(size_t parameter, const at::Tensor& gradient);
  void start(Bucket& bucket);

  std::shared_ptr<Communicator> group_;
  std::vector<at::Tensor> parameters_;
  Reduce reduce_;
  std::vector<std::unique_ptr<Bucket>> buckets_;
  std::vector<size_t> bucket_of_;      // parameter -> bucket
  std::vector<int64_t> offset_of_;     // parameter -> offset in its bucket
  std::vector<bool> received_;         // parameter -> its gradient came this step
  std::vector<unsigned> hooks_;
  int64_t received_count_ = 0;
};

}  // namespace imret::dist
