// Communicator over c10d: a TCPStore rendezvous and a ProcessGroupGloo.
#ifndef USE_C10D_GLOO
#define USE_C10D_GLOO 1
#endif
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include <torch/torch.h>

#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <thread>

#include "imret/dist/communicator.hpp"

namespace imret::dist {
namespace {

using namespace std::chrono_literals;

std::string first_line(const std::string& text) { return text.substr(0, text.find('\n')); }

std::vector<uint8_t> bytes_of(const std::string& text) { return {text.begin(), text.end()}; }
std::string text_of(const std::vector<uint8_t>& bytes) { return {bytes.begin(), bytes.end()}; }

std::string alive_key(int rank) { return "imret/alive/" + std::to_string(rank); }
std::string failed_key(int rank) { return "imret/failed/" + std::to_string(rank); }
std::string gave_up_key(int rank) { return "imret/gave-up/" + std::to_string(rank); }

bool loopback(const std::string& host) { return host == "127.0.0.1" || host == "localhost" || host == "::1"; }

// The rendezvous store: rank 0 serves it (but under torchrun's agent, which
// serves its own), every rank connects to it.
c10::intrusive_ptr<c10d::Store> open_store(const WorldInfo& world, bool server, std::chrono::milliseconds timeout) {
  c10d::TCPStoreOptions options;
  options.port = static_cast<uint16_t>(world.master_port);
  options.isServer = server && !world.agent_store;
  if (options.isServer) options.numWorkers = static_cast<size_t>(world.world_size);
  options.waitWorkers = false;
  options.timeout = timeout;
  auto store = c10::make_intrusive<c10d::TCPStore>(world.master_addr, options);
  if (!world.agent_store) return store;
  return c10::make_intrusive<c10d::PrefixStore>("/worker/attempt_" + std::to_string(world.restart_count), store);
}

std::shared_ptr<gloo::transport::Device> gloo_device(const WorldInfo& world) {
  if (const char* name = std::getenv("GLOO_SOCKET_IFNAME"); name != nullptr && *name != '\0')
    return c10d::ProcessGroupGloo::createDeviceForInterface(name);
  if (loopback(world.master_addr)) return c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1");
  return c10d::ProcessGroupGloo::createDefaultDevice();
}

// Writes this rank's heartbeat into the store once a second, on a
// connection of its own, until destroyed.
class Heartbeat {
 public:
  Heartbeat(const WorldInfo& world, std::chrono::milliseconds timeout) : rank_(world.rank) {
    store_ = open_store(world, false, timeout);
    beat();
    thread_ = std::thread([this] {
      std::unique_lock<std::mutex> lock(mutex_);
      while (!stop_cv_.wait_for(lock, 1s, [this] { return stopping_; })) {
        lock.unlock();  // a slow store must not hold up the destructor's stop
        beat();
        lock.lock();
      }
    });
  }
  ~Heartbeat() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    stop_cv_.notify_all();
    thread_.join();
  }

 private:
  void beat() {
    try {
      store_->set(alive_key(rank_), bytes_of(std::to_string(++count_)));
    } catch (const std::exception&) {
      // The store is gone (rank 0 ended); the collectives will say so.
    }
  }

  int rank_;
  int64_t count_ = 0;
  c10::intrusive_ptr<c10d::Store> store_;
  std::mutex mutex_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;
  std::thread thread_;
};

class GlooCommunicator : public Communicator {
 public:
  GlooCommunicator(const WorldInfo& world, const CommunicatorOptions& options)
      : world_(world), timeout_(options.timeout) {
    try {
      store_ = open_store(world, world.rank == 0, options.timeout);
      heartbeat_ = std::make_unique<Heartbeat>(world, options.timeout);
      auto gloo_options = c10d::ProcessGroupGloo::Options::create(options.timeout);
      gloo_options->devices.push_back(gloo_device(world));
      group_ = c10::make_intrusive<c10d::ProcessGroupGloo>(store_, world.rank, world.world_size, gloo_options);
    } catch (const std::exception& e) {
      throw Error("rank " + std::to_string(world.rank) + " could not join the " + std::to_string(world.world_size) +
                  " ranks at " + world.master_addr + ":" + std::to_string(world.master_port) + " within " +
                  std::to_string(options.timeout.count() / 1000) + " s: " + first_line(e.what()));
    }
  }

  int rank() const override { return world_.rank; }
  int world_size() const override { return world_.world_size; }

  void all_reduce_sum(at::Tensor& tensor) override {
    std::vector<at::Tensor> tensors{tensor};
    guarded("all-reduce", [&] { group_->allreduce(tensors)->wait(timeout_); });
  }

  std::unique_ptr<PendingReduction> all_reduce_sum_async(at::Tensor tensor) override {
    class Pending : public PendingReduction {
     public:
      Pending(GlooCommunicator& owner, std::vector<at::Tensor> tensors) : owner_(owner), tensors_(std::move(tensors)) {
        owner_.guarded("all-reduce", [&] { work_ = owner_.group_->allreduce(tensors_); });
      }
      void wait() override {
        owner_.guarded("all-reduce", [&] { work_->wait(owner_.timeout_); });
      }

     private:
      GlooCommunicator& owner_;
      std::vector<at::Tensor> tensors_;
      decltype(std::declval<c10d::ProcessGroupGloo&>().allreduce(tensors_)) work_;
    };
    return std::make_unique<Pending>(*this, std::vector<at::Tensor>{std::move(tensor)});
  }

  std::vector<at::Tensor> all_gather(const at::Tensor& tensor) override {
    std::vector<at::Tensor> inputs{tensor.contiguous()};
    std::vector<std::vector<at::Tensor>> outputs(1);
    for (int r = 0; r < world_.world_size; ++r) outputs[0].push_back(torch::empty_like(inputs[0]));
    guarded("all-gather", [&] { group_->allgather(outputs, inputs)->wait(timeout_); });
    return outputs[0];
  }

  // One broadcast per type and device: the tensors flattened into one.
  void broadcast(std::vector<at::Tensor>& tensors, int root) override {
    c10d::BroadcastOptions options;
    options.rootRank = root;
    std::vector<bool> done(tensors.size(), false);
    for (size_t first = 0; first < tensors.size(); ++first) {
      if (done[first]) continue;
      std::vector<size_t> same;
      for (size_t k = first; k < tensors.size(); ++k)
        if (!done[k] && tensors[k].scalar_type() == tensors[first].scalar_type() &&
            tensors[k].device() == tensors[first].device()) {
          same.push_back(k);
          done[k] = true;
        }
      std::vector<at::Tensor> flat_parts;
      for (size_t k : same) flat_parts.push_back(tensors[k].reshape({-1}));
      std::vector<at::Tensor> flat{torch::cat(flat_parts)};
      guarded("broadcast", [&] { group_->broadcast(flat, options)->wait(timeout_); });
      int64_t offset = 0;
      for (size_t k : same) {
        const int64_t n = tensors[k].numel();
        tensors[k].copy_(flat[0].narrow(0, offset, n).view(tensors[k].sizes()));
        offset += n;
      }
    }
  }

  void barrier() override {
    guarded("barrier", [&] { group_->barrier()->wait(timeout_); });
  }

  void report_failure(const std::string& what, bool lost_peer) noexcept override {
    try {
      store_->set(lost_peer ? gave_up_key(world_.rank) : failed_key(world_.rank), bytes_of(first_line(what)));
      if (world_.rank != 0 || world_.agent_store) return;
      // Rank 0 keeps the store: it closes its connections, so that the
      // others' exchanges fail now, and waits (10 s at most; dead ranks
      // never answer) for them to find out who failed before the store
      // goes with this process.
      group_.reset();
      const auto deadline = std::chrono::steady_clock::now() + 10s;
      for (int r = 1; r < world_.world_size; ++r)
        while (!store_->check({gave_up_key(r)}) && !store_->check({failed_key(r)}) &&
               std::chrono::steady_clock::now() < deadline)
          std::this_thread::sleep_for(50ms);
    } catch (...) {
    }
  }

  double seconds_waiting() const override { return waiting_.load(); }

 private:
  template <typename F>
  void guarded(const char* operation, F&& f) {
    if (!group_) throw PeerError(std::string(operation) + ": this rank has left the group after its error");
    const auto start = std::chrono::steady_clock::now();
    try {
      f();
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      double seen = waiting_.load();
      while (!waiting_.compare_exchange_weak(seen, seen + seconds)) {
      }
    } catch (const PeerError&) {
      throw;
    } catch (const std::exception& e) {
      const std::string message = std::string(operation) + " among " + std::to_string(world_.world_size) +
                                  " ranks failed on rank " + std::to_string(world_.rank) + ": " +
                                  culprit(first_line(e.what())) + " (" + first_line(e.what()) + ")";
      report_failure(message, true);
      throw PeerError(message);
    }
  }

  // Which rank brought the collective down (`error`: the collective's own).
  std::string culprit(const std::string& error) {
    try {
      store_->setTimeout(5s);
      std::vector<std::string> reports;
      for (int r = 0; r < world_.world_size; ++r)
        if (r != world_.rank && store_->check({failed_key(r)}))
          reports.push_back("rank " + std::to_string(r) + " failed: " + text_of(store_->get(failed_key(r))));
      if (!reports.empty()) return join(reports);
      // Heartbeats that do not move for three seconds: killed or hung.
      std::vector<std::string> before = heartbeats();
      std::this_thread::sleep_for(3s);
      std::vector<std::string> after = heartbeats();
      std::vector<std::string> silent;
      for (int r = 0; r < world_.world_size; ++r)
        if (r != world_.rank && before[static_cast<size_t>(r)] == after[static_cast<size_t>(r)] &&
            !store_->check({gave_up_key(r)}))
          silent.push_back("rank " + std::to_string(r) + " stopped (killed, crashed or hung)");
      if (!silent.empty()) return join(silent);
      if (error.find("imed out") != std::string::npos || error.find("imeout") != std::string::npos)
        return "no answer within " + std::to_string(timeout_.count() / 1000) +
               " s (--dist-timeout) and no rank reported an error: a rank is hung or far slower";
      return "a peer closed its connection";
    } catch (const std::exception&) {
      return world_.rank == 0 ? "the rendezvous store is unreachable"
                              : "rank 0 stopped (killed, crashed or hung; its rendezvous store at " +
                                    world_.master_addr + ":" + std::to_string(world_.master_port) + " is gone)";
    }
  }

  std::vector<std::string> heartbeats() {
    std::vector<std::string> beats;
    for (int r = 0; r < world_.world_size; ++r)
      beats.push_back(store_->check({alive_key(r)}) ? text_of(store_->get(alive_key(r))) : "");
    return beats;
  }

  static std::string join(const std::vector<std::string>& parts) {
    std::string out;
    for (const auto& p : parts) out += (out.empty() ? "" : "; ") + p;
    return out;
  }

  WorldInfo world_;
  std::chrono::milliseconds timeout_;
  c10::intrusive_ptr<c10d::Store> store_;
  std::unique_ptr<Heartbeat> heartbeat_;
  c10::intrusive_ptr<c10d::ProcessGroupGloo> group_;
  std::atomic<double> waiting_{0};
};

}  // namespace

bool available() { return true; }

std::shared_ptr<Communicator> connect(const WorldInfo& world, const CommunicatorOptions& options) {
  return std::make_shared<GlooCommunicator>(world, options);
}

}  // namespace imret::dist
