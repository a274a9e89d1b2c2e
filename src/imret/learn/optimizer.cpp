#include "imret/learn/optimizer.hpp"

#include <torch/torch.h>

#include "imret/learn/objective.hpp"

namespace imret::learn {

std::unique_ptr<torch::optim::Optimizer> make_optimizer(const TrainConfig& config, torch::nn::Module& network,
                                                        Objective& objective) {
  std::vector<torch::Tensor> parameters = network.parameters();
  for (auto& extra : objective.parameters()) parameters.push_back(extra);
  if (config.optimizer == "sgd")
    return std::make_unique<torch::optim::SGD>(
        parameters, torch::optim::SGDOptions(config.lr).momentum(config.momentum).weight_decay(config.weight_decay));
  return std::make_unique<torch::optim::Adam>(parameters,
                                              torch::optim::AdamOptions(config.lr).weight_decay(config.weight_decay));
}

void set_learning_rate(torch::optim::Optimizer& optimizer, double lr) {
  for (auto& group : optimizer.param_groups()) group.options().set_lr(lr);
}

void clear_gradients(torch::optim::Optimizer& optimizer) {
  for (auto& group : optimizer.param_groups())
    for (auto& parameter : group.params()) parameter.mutable_grad() = torch::Tensor();
}

}  // namespace imret::learn
