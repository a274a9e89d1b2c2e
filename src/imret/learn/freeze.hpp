#pragma once
// Which parameters fine-tuning updates.
#include <string>

#include "imret/models/network.hpp"

namespace imret::learn {

enum class Freeze {
  None,        // everything trains
  Backbone,    // only the classifier `fc` trains (a linear probe), and an embedding head / metric map
  AllButLast,  // the last stage (ResNet layer4, ConvNet embedding), fc, an embedding head / metric map train
};

// "none" | "backbone" | "all-but-last"; UsageError otherwise.
Freeze parse_freeze(const std::string& text);

// Sets requires_grad on every parameter; returns the number of trainable values.
int64_t apply_freeze(models::Network& network, Freeze freeze);

// Puts the batch-norm layers of the frozen part in evaluation mode so that
// their running statistics stay as loaded. Call after network.train().
void hold_frozen_batchnorm(models::Network& network, Freeze freeze);

}  // namespace imret::learn
