#pragma once
// Global pooling of a CNN's last feature map (N x C x H x W -> N x C), the
// descriptors of the image-retrieval literature:
//   gap        the mean over positions (torchvision's avgpool);
//   mac        the maximum over positions (Tolias et al. 2016);
//   spoc       the sum over positions with a Gaussian centre prior whose sigma
//              is a third of the distance from the centre to the nearest border
//              (Babenko & Lempitsky 2015);
//   gem:p=3    generalised mean (mean of x^p)^(1/p) of x clamped to >= 1e-6
//              (Radenovic et al. 2018); p is a parameter ("pool.p") that
//              training learns;
//   rmac:levels=3  MAC of regions on levels 1..L of a square grid with about
//              40% overlap, each L2-normalised, summed with the normalised
//              global MAC (Tolias et al. 2016, as cirtorch defines the regions).
#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

#include <string>

namespace imret::models {

struct PoolSpec {
  std::string kind = "gap";  // gap | mac | spoc | gem | rmac
  double p = 3;              // gem
  int64_t levels = 3;        // rmac

  // "gem:p=3", "rmac:levels=3", "gap": the canonical text.
  std::string to_string() const;
};

// UsageError naming `option` and the text for an unknown kind or setting.
PoolSpec parse_pool(const std::string& text, const std::string& option = "--pool");

// The pooling names, for help texts.
const char* pool_names();

class PoolingImpl : public torch::nn::Module {
 public:
  explicit PoolingImpl(PoolSpec spec);
  // N x C x H x W -> N x C.
  torch::Tensor forward(const torch::Tensor& features);
  const PoolSpec& spec() const { return spec_; }

 private:
  PoolSpec spec_;
  torch::Tensor p_;  // gem only
};
TORCH_MODULE(Pooling);

// The R-MAC regions of an H x W map on levels 1..levels: {top, left, size}.
struct PoolRegion {
  int64_t top, left, size;
};
std::vector<PoolRegion> rmac_regions(int64_t height, int64_t width, int64_t levels);

}  // namespace imret::models
