#include "imret/learn/freeze.hpp"

#include <torch/torch.h>

#include "imret/core/error.hpp"
#include "imret/core/setting_error.hpp"
#include "imret/models/batch_norm.hpp"

namespace imret::learn {
namespace {

std::vector<std::string> trainable_prefixes(const models::Network& network, Freeze freeze) {
  // What the network adds after the architecture (embedding head, metric
  // map, GeM's p) always trains: it starts untrained.
  std::vector<std::string> prefixes = {"embedding_head.", "metric_map.", "pool."};
  if (freeze == Freeze::Backbone) {
    prefixes.push_back("fc.");
  } else if (freeze == Freeze::AllButLast) {
    for (const auto& prefix : network.last_stage_prefixes()) prefixes.push_back(prefix);
  } else {
    prefixes.push_back("");
  }
  return prefixes;
}

bool trainable(const std::string& name, const std::vector<std::string>& prefixes) {
  for (const auto& prefix : prefixes)
    if (name.rfind(prefix, 0) == 0 || name + "." == prefix) return true;
  return false;
}

}  // namespace

Freeze parse_freeze(const std::string& text) {
  if (text == "none") return Freeze::None;
  if (text == "backbone") return Freeze::Backbone;
  if (text == "all-but-last") return Freeze::AllButLast;
  throw SettingError("freeze", " " + text + ": expected none, backbone or all-but-last");
}

int64_t apply_freeze(models::Network& network, Freeze freeze) {
  const auto prefixes = trainable_prefixes(network, freeze);
  int64_t count = 0;
  for (auto& item : network.named_parameters(true)) {
    const bool train = trainable(item.key(), prefixes);
    item.value().set_requires_grad(train);
    if (train) count += item.value().numel();
  }
  return count;
}

void hold_frozen_batchnorm(models::Network& network, Freeze freeze) {
  if (freeze == Freeze::None) return;
  const auto prefixes = trainable_prefixes(network, freeze);
  network.keep_backbone_evaluating(!trainable("model.", prefixes));
  for (auto& item : network.named_modules("", false)) {
    const bool batchnorm = item.value()->as<models::BatchNorm>() != nullptr;
    if (batchnorm && !trainable(item.key() + ".", prefixes)) item.value()->eval();
  }
}

}  // namespace imret::learn
