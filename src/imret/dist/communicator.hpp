#pragma once
// The processes of a distributed run talking to each other: PyTorch's c10d
// (a TCPStore rendezvous at rank 0, a ProcessGroupGloo for the collectives).
// Nothing here is home-made transport; this is the thin layer imret's
// training needs on top of it, with failures turned into one line that names
// the rank at fault.
//
// Failures: every collective has the options' timeout. When one fails (a
// peer's connection closed, a timeout), the error names the rank that caused
// it: a rank that reported an error of its own (report_failure) with that
// error, a rank whose heartbeat in the store stopped (killed or hung), or
// rank 0 when the store itself is gone. Every rank beats once a second.
//
// Built without c10d (LibTorch without its distributed headers, or gloo's
// headers missing: Debian's libgloo-dev), connect() throws imret::Error
// saying so, and available() is false.
#include <ATen/core/Tensor.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "imret/core/error.hpp"
#include "imret/dist/world.hpp"

namespace imret::dist {

// A collective failed because of another rank (the message names it).
class PeerError : public Error {
 public:
  using Error::Error;
};

struct CommunicatorOptions {
  std::chrono::milliseconds timeout = std::chrono::minutes(5);  // rendezvous and each collective
};

// An all-reduce under way.
class PendingReduction {
 public:
  virtual ~PendingReduction() = default;
  virtual void wait() = 0;
};

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int world_size() const = 0;
  // Sums `tensor` (dense, contiguous) over the ranks, in place.
  virtual void all_reduce_sum(at::Tensor& tensor) = 0;
  // The same, started now; wait() before reading `tensor`.
  virtual std::unique_ptr<PendingReduction> all_reduce_sum_async(at::Tensor tensor) = 0;
  // Every rank's `tensor` (the same shape and type on every rank), in rank order.
  virtual std::vector<at::Tensor> all_gather(const at::Tensor& tensor) = 0;
  // Rank `root`'s tensors into every rank's (the same shapes), in place.
  virtual void broadcast(std::vector<at::Tensor>& tensors, int root) = 0;
  virtual void barrier() = 0;
  // Seconds this rank has spent blocked in collectives so far: the
  // communication that did not overlap computation, and waiting for slower ranks.
  virtual double seconds_waiting() const = 0;
  // Leaves this rank's error where the others find it, so that their errors
  // name it (best effort; never throws). `lost_peer`: this rank only gave up
  // because of another (its PeerError), so it is not to blame.
  virtual void report_failure(const std::string& what, bool lost_peer) noexcept = 0;
};

// Whether this build has c10d (Gloo).
bool available();

// Joins the world: rank 0 opens the rendezvous store at
// world.master_addr:master_port, every rank connects to it, then the Gloo
// group forms. Waits up to options.timeout for all ranks; imret::Error
// naming the address after that.
std::shared_ptr<Communicator> connect(const WorldInfo& world, const CommunicatorOptions& options = {});

// The rows of every rank's `local` (N_r x ..., N_r may differ and be 0;
// the same trailing shape and type) concatenated in rank order. This rank's
// rows keep their autograd history (a loss on the result sends gradients to
// them); the others' arrive as constants. `offset`: where this rank's rows begin.
at::Tensor gather_rows(Communicator& group, const at::Tensor& local, int64_t* offset = nullptr);

}  // namespace imret::dist
