#pragma once
// Image transforms with torchvision's semantics, on float C x H x W tensors
// (and, for batchable transforms, on N x C x H x W batches).
#include <ATen/core/Tensor.h>
#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

namespace imret::data {

class Transform {
 public:
  virtual ~Transform() = default;
  // Transforms one C x H x W float image (a batchable transform also takes
  // N x C x H x W). Random transforms draw only from `rng`, so the same rng
  // state gives the same result. Throws imret::Error on an unsuitable input.
  virtual at::Tensor apply(const at::Tensor& image, std::mt19937_64& rng) const = 0;
  // True when the transform is deterministic and treats every item alike, so
  // applying it once to an N x C x H x W batch (whose items share one size)
  // equals applying it to each item.
  virtual bool batchable() const { return false; }
  // A one-line description, e.g. "Resize(256)".
  virtual std::string describe() const = 0;
};

// Resize(size): the shorter side becomes `size`, the longer one
// int(size * long / short) (torchvision's rule); Resize(h, w): exactly h x w.
// Bilinear, half-pixel centres (align_corners=false), antialiased (as
// torchvision with antialias=True; this matches PIL when downscaling).
// Output equal to the input size returns the input unchanged.
class Resize : public Transform {
 public:
  explicit Resize(int64_t size);
  Resize(int64_t height, int64_t width);
  at::Tensor apply(const at::Tensor& image, std::mt19937_64& rng) const override;
  bool batchable() const override { return true; }
  std::string describe() const override;
  // Output {height, width} for an input of height x width.
  std::pair<int64_t, int64_t> output_size(int64_t height, int64_t width) const;

 private:
  int64_t size_ = 0, height_ = 0, width_ = 0;
};

// The central size x size (or height x width) region: top = round((H - h) / 2),
// left = round((W - w) / 2) with Python's round (halves to even), as torchvision.
// An image smaller than the crop is first padded with zeros as torchvision does.
class CenterCrop : public Transform {
 public:
  explicit CenterCrop(int64_t size) : CenterCrop(size, size) {}
  CenterCrop(int64_t height, int64_t width);
  at::Tensor apply(const at::Tensor& image, std::mt19937_64& rng) const override;
  bool batchable() const override { return true; }
  std::string describe() const override;

 private:
  int64_t height_, width_;
};

// torchvision's RandomResizedCrop: a random region of area fraction in `scale`
// and aspect ratio (log-uniform) in `ratio`, 10 attempts, then the central
// fallback; resized (bilinear, antialiased) to size x size. size 0: the
// output keeps the input's height x width.
class RandomResizedCrop : public Transform {
 public:
  struct Box {
    int64_t top, left, height, width;
  };
  explicit RandomResizedCrop(int64_t size, std::pair<double, double> scale = {0.08, 1.0},
                             std::pair<double, double> ratio = {3.0 / 4.0, 4.0 / 3.0});
  at::Tensor apply(const at::Tensor& image, std::mt19937_64& rng) const override;
  std::string describe() const override;
  // The region chosen for an image of height x width (torchvision's get_params).
  Box sample_box(int64_t height, int64_t width, std::mt19937_64& rng) const;

 private:
  int64_t size_;
  std::pair<double, double> scale_, ratio_;
};

// Mirrors the image left-right with probability p.
class RandomHorizontalFlip : public Transform {
 public:
  explicit RandomHorizontalFlip(double p = 0.5);
  at::Tensor apply(const at::Tensor& image, std::mt19937_64& rng) const override;
  std::string describe() const override;

 private:
  double p_;
};

// (x - mean[c]) / std[c] per channel. One value applies to every channel;
// otherwise the number of values must equal the channels (else imret::Error).
class Normalize : public Transform {
 public:
  Normalize(std::vector<double> mean, std::vector<double> std);
  at::Tensor apply(const at::Tensor& image, std::mt19937_64& rng) const override;
  bool batchable() const override { return true; }
  std::string describe() const override;

 private:
  std::vector<double> mean_, std_;
};

// Applies the transforms in order; batchable when all of them are.
class Compose : public Transform {
 public:
  explicit Compose(std::vector<std::shared_ptr<const Transform>> transforms);
  at::Tensor apply(const at::Tensor& image, std::mt19937_64& rng) const override;
  bool batchable() const override;
  std::string describe() const override;

 private:
  std::vector<std::shared_ptr<const Transform>> transforms_;
};

// Preprocessing settings saved with a model so embedding uses what training used.
// resize/crop 0: not done. JSON: {"resize": int, "crop": int, "mean": [..], "std": [..]}.
struct Preprocess {
  int64_t resize = 0;
  int64_t crop = 0;
  std::vector<double> mean{0.5}, std{0.5};
  nlohmann::json to_json() const;
  // Missing keys keep their defaults; wrong types or values -> imret::Error.
  static Preprocess from_json(const nlohmann::json& json);
};

// [Resize(resize)] [CenterCrop(crop)] Normalize(mean, std). Batchable.
std::shared_ptr<Transform> make_eval_transform(const Preprocess& preprocess);
// augment: RandomResizedCrop(crop, or resize when crop is 0, scale 0.08-1; or
// the input size, scale 0.6-1, when both are 0) + RandomHorizontalFlip +
// Normalize; else make_eval_transform.
std::shared_ptr<Transform> make_train_transform(const Preprocess& preprocess, bool augment);

}  // namespace imret::data
