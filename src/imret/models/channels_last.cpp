#include "imret/models/channels_last.hpp"

#include <torch/torch.h>

namespace imret::models {

void use_channels_last(torch::nn::Module& module) {
  torch::NoGradGuard no_grad;
  for (auto& parameter : module.parameters())
    if (parameter.dim() == 4) parameter.set_data(parameter.contiguous(at::MemoryFormat::ChannelsLast));
}

at::Tensor channels_last(const at::Tensor& images) {
  return images.dim() == 4 ? images.contiguous(at::MemoryFormat::ChannelsLast) : images;
}

}  // namespace imret::models
