#pragma once
// The optimizer of a training run (Adam or SGD with momentum, weight decay),
// shared by the trainer and the training-throughput benchmark.
#include <memory>
#include <vector>

#include "imret/learn/train_config.hpp"

namespace torch::nn {
class Module;
}
namespace torch::optim {
class Optimizer;
}

namespace imret::learn {

class Objective;

// Optimises the network's parameters and the objective's own (proxies).
std::unique_ptr<torch::optim::Optimizer> make_optimizer(const TrainConfig& config, torch::nn::Module& network,
                                                        Objective& objective);

void set_learning_rate(torch::optim::Optimizer& optimizer, double lr);

// Drops the gradients before a step (rather than filling them with zeros):
// backward() then writes them instead of adding to zeros, and a parameter
// that gets no gradient in a step is not moved by the optimizer.
void clear_gradients(torch::optim::Optimizer& optimizer);

}  // namespace imret::learn
