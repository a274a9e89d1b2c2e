#include "imret/data/transforms.hpp"

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <cmath>
#include <sstream>

#include "imret/core/error.hpp"
#include "imret/data/random.hpp"

namespace imret::data {

namespace {

std::string shape_text(const at::Tensor& t) {
  std::string text;
  for (int64_t d = 0; d < t.dim(); ++d) text += (d ? "x" : "") + std::to_string(t.size(d));
  return text;
}

// Checks that `image` is C x H x W (or N x C x H x W when `batch_ok`).
void check_image(const at::Tensor& image, const std::string& who, bool batch_ok, bool need_float) {
  if (!image.defined()) throw Error(who + ": no image");
  const bool dims_ok = image.dim() == 3 || (batch_ok && image.dim() == 4);
  if (!dims_ok) {
    throw Error(who + ": expected a C x H x W image" + (batch_ok ? std::string(" or N x C x H x W batch") : "") +
                ", got shape " + shape_text(image));
  }
  if (need_float && !image.is_floating_point()) throw Error(who + ": expected a floating-point image");
}

// Python's round(): halves go to the even neighbour (nearbyint's default mode).
int64_t python_round(double x) { return static_cast<int64_t>(std::nearbyint(x)); }

int64_t height_of(const at::Tensor& t) { return t.size(t.dim() - 2); }
int64_t width_of(const at::Tensor& t) { return t.size(t.dim() - 1); }

// Bilinear antialiased resize of a C x H x W or N x C x H x W float tensor.
at::Tensor resize_bilinear(const at::Tensor& image, int64_t height, int64_t width) {
  if (height == height_of(image) && width == width_of(image)) return image;
  const bool single = image.dim() == 3;
  auto batch = single ? image.unsqueeze(0) : image;
  const std::vector<int64_t> size{height, width};
  auto out = at::_upsample_bilinear2d_aa(batch, at::IntArrayRef(size), /*align_corners=*/false,
                                         c10::optional<double>(), c10::optional<double>());
  return single ? out.squeeze(0) : out;
}

at::Tensor crop(const at::Tensor& image, int64_t top, int64_t left, int64_t height, int64_t width) {
  const int64_t h_dim = image.dim() - 2, w_dim = image.dim() - 1;
  return image.narrow(h_dim, top, height).narrow(w_dim, left, width);
}

std::string list_text(const std::vector<double>& values) {
  std::ostringstream text;
  text << "[";
  for (size_t k = 0; k < values.size(); ++k) text << (k ? ", " : "") << values[k];
  text << "]";
  return text.str();
}

void check_positive(int64_t value, const std::string& what) {
  if (value <= 0) throw Error(what + " must be positive, got " + std::to_string(value));
}

}  // namespace

// ---- Resize ---------------------------------------------------------------

Resize::Resize(int64_t size) : size_(size) { check_positive(size, "Resize: size"); }

Resize::Resize(int64_t height, int64_t width) : height_(height), width_(width) {
  check_positive(height, "Resize: height");
  check_positive(width, "Resize: width");
}

std::pair<int64_t, int64_t> Resize::output_size(int64_t height, int64_t width) const {
  if (size_ == 0) return {height_, width_};
  if (width <= height) return {size_ * height / width, size_};  // == int(size * long / short) for positive ints
  return {size_, size_ * width / height};
}

at::Tensor Resize::apply(const at::Tensor& image, std::mt19937_64&) const {
  check_image(image, describe(), true, true);
  const auto [height, width] = output_size(height_of(image), width_of(image));
  return resize_bilinear(image, height, width);
}

std::string Resize::describe() const {
  return size_ ? "Resize(" + std::to_string(size_) + ")"
               : "Resize(" + std::to_string(height_) + ", " + std::to_string(width_) + ")";
}

// ---- CenterCrop -----------------------------------------------------------

CenterCrop::CenterCrop(int64_t height, int64_t width) : height_(height), width_(width) {
  check_positive(height, "CenterCrop: height");
  check_positive(width, "CenterCrop: width");
}

at::Tensor CenterCrop::apply(const at::Tensor& image, std::mt19937_64&) const {
  check_image(image, describe(), true, false);
  at::Tensor input = image;
  int64_t height = height_of(input), width = width_of(input);
  if (width_ > width || height_ > height) {  // pad as torchvision: left/top get the smaller half
    const int64_t pad_w = std::max<int64_t>(width_ - width, 0), pad_h = std::max<int64_t>(height_ - height, 0);
    input = at::constant_pad_nd(input, {pad_w / 2, (pad_w + 1) / 2, pad_h / 2, (pad_h + 1) / 2}, 0);
    height = height_of(input);
    width = width_of(input);
  }
  const int64_t top = python_round(static_cast<double>(height - height_) / 2.0);
  const int64_t left = python_round(static_cast<double>(width - width_) / 2.0);
  return crop(input, top, left, height_, width_);
}

std::string CenterCrop::describe() const {
  return height_ == width_ ? "CenterCrop(" + std::to_string(height_) + ")"
                           : "CenterCrop(" + std::to_string(height_) + ", " + std::to_string(width_) + ")";
}

// ---- RandomResizedCrop ------------------------------------------------------

RandomResizedCrop::RandomResizedCrop(int64_t size, std::pair<double, double> scale, std::pair<double, double> ratio)
    : size_(size), scale_(scale), ratio_(ratio) {
  if (size < 0) throw Error("RandomResizedCrop: size must not be negative, got " + std::to_string(size));
  if (!(scale.first > 0 && scale.first <= scale.second)) throw Error("RandomResizedCrop: scale must be 0 < min <= max");
  if (!(ratio.first > 0 && ratio.first <= ratio.second)) throw Error("RandomResizedCrop: ratio must be 0 < min <= max");
}

RandomResizedCrop::Box RandomResizedCrop::sample_box(int64_t height, int64_t width, std::mt19937_64& rng) const {
  const double area = static_cast<double>(height * width);
  const double log_ratio_min = std::log(ratio_.first), log_ratio_max = std::log(ratio_.second);
  for (int attempt = 0; attempt < 10; ++attempt) {
    const double target_area = area * uniform_real(rng, scale_.first, scale_.second);
    const double aspect_ratio = std::exp(uniform_real(rng, log_ratio_min, log_ratio_max));
    const int64_t w = python_round(std::sqrt(target_area * aspect_ratio));
    const int64_t h = python_round(std::sqrt(target_area / aspect_ratio));
    if (0 < w && w <= width && 0 < h && h <= height) {
      const auto top = static_cast<int64_t>(uniform_below(rng, static_cast<uint64_t>(height - h + 1)));
      const auto left = static_cast<int64_t>(uniform_below(rng, static_cast<uint64_t>(width - w + 1)));
      return {top, left, h, w};
    }
  }
  // Fallback: the central crop with the closest allowed aspect ratio.
  const double in_ratio = static_cast<double>(width) / static_cast<double>(height);
  int64_t w = width, h = height;
  if (in_ratio < ratio_.first) {
    h = python_round(static_cast<double>(w) / ratio_.first);
  } else if (in_ratio > ratio_.second) {
    w = python_round(static_cast<double>(h) * ratio_.second);
  }
  return {(height - h) / 2, (width - w) / 2, h, w};
}

at::Tensor RandomResizedCrop::apply(const at::Tensor& image, std::mt19937_64& rng) const {
  check_image(image, describe(), false, true);
  const int64_t height = height_of(image), width = width_of(image);
  const Box box = sample_box(height, width, rng);
  const int64_t out_h = size_ ? size_ : height, out_w = size_ ? size_ : width;
  return resize_bilinear(crop(image, box.top, box.left, box.height, box.width), out_h, out_w);
}

std::string RandomResizedCrop::describe() const {
  std::ostringstream text;
  text << "RandomResizedCrop(" << (size_ ? std::to_string(size_) : std::string("input size")) << ", scale=("
       << scale_.first << ", " << scale_.second << "), ratio=(" << ratio_.first << ", " << ratio_.second << "))";
  return text.str();
}

// ---- RandomHorizontalFlip ---------------------------------------------------

RandomHorizontalFlip::RandomHorizontalFlip(double p) : p_(p) {
  if (!(p >= 0 && p <= 1)) throw Error("RandomHorizontalFlip: p must be between 0 and 1");
}

at::Tensor RandomHorizontalFlip::apply(const at::Tensor& image, std::mt19937_64& rng) const {
  check_image(image, describe(), false, false);
  return uniform_real(rng, 0.0, 1.0) < p_ ? image.flip({-1}) : image;
}

std::string RandomHorizontalFlip::describe() const {
  std::ostringstream text;
  text << "RandomHorizontalFlip(p=" << p_ << ")";
  return text.str();
}

// ---- Normalize --------------------------------------------------------------

Normalize::Normalize(std::vector<double> mean, std::vector<double> std) : mean_(std::move(mean)), std_(std::move(std)) {
  if (mean_.empty() || mean_.size() != std_.size()) {
    throw Error("Normalize: mean and std need the same number of values (1 or one per channel), got " +
                std::to_string(mean_.size()) + " and " + std::to_string(std_.size()));
  }
  for (double s : std_) {
    if (!(s > 0)) throw Error("Normalize: std values must be positive, got " + list_text(std_));
  }
}

at::Tensor Normalize::apply(const at::Tensor& image, std::mt19937_64&) const {
  check_image(image, "Normalize", true, true);
  const int64_t channels = image.size(image.dim() - 3);
  const auto count = static_cast<int64_t>(mean_.size());
  if (count != 1 && count != channels) {
    throw Error("Normalize: " + std::to_string(count) + " mean/std values for an image with " +
                std::to_string(channels) + " channels (shape " + shape_text(image) + ")");
  }
  const auto options = torch::TensorOptions().dtype(image.scalar_type());
  auto mean = torch::tensor(mean_, torch::kFloat64).to(options).view({count, 1, 1});
  auto std = torch::tensor(std_, torch::kFloat64).to(options).view({count, 1, 1});
  return image.sub(mean).div_(std);
}

std::string Normalize::describe() const { return "Normalize(mean=" + list_text(mean_) + ", std=" + list_text(std_) + ")"; }

// ---- Compose ----------------------------------------------------------------

Compose::Compose(std::vector<std::shared_ptr<const Transform>> transforms) : transforms_(std::move(transforms)) {
  for (const auto& t : transforms_) {
    if (!t) throw Error("Compose: null transform");
  }
}

at::Tensor Compose::apply(const at::Tensor& image, std::mt19937_64& rng) const {
  at::Tensor out = image;
  for (const auto& t : transforms_) out = t->apply(out, rng);
  return out;
}

bool Compose::batchable() const {
  for (const auto& t : transforms_) {
    if (!t->batchable()) return false;
  }
  return true;
}

std::string Compose::describe() const {
  std::string text = "Compose(";
  for (size_t k = 0; k < transforms_.size(); ++k) text += (k ? ", " : "") + transforms_[k]->describe();
  return text + ")";
}

// ---- Preprocess -------------------------------------------------------------

nlohmann::json Preprocess::to_json() const {
  return {{"resize", resize}, {"crop", crop}, {"mean", mean}, {"std", std}};
}

namespace {

int64_t size_field(const nlohmann::json& json, const char* key, int64_t fallback) {
  if (!json.contains(key)) return fallback;
  const auto& value = json.at(key);
  if (!value.is_number_integer() || value.get<int64_t>() < 0) {
    throw Error(std::string("preprocess: '") + key + "' must be a non-negative integer, got " + value.dump());
  }
  return value.get<int64_t>();
}

std::vector<double> values_field(const nlohmann::json& json, const char* key, std::vector<double> fallback) {
  if (!json.contains(key)) return fallback;
  const auto& value = json.at(key);
  if (value.is_number()) return {value.get<double>()};
  if (!value.is_array() || value.empty()) {
    throw Error(std::string("preprocess: '") + key + "' must be a number or a list of numbers, got " + value.dump());
  }
  std::vector<double> values;
  for (const auto& v : value) {
    if (!v.is_number()) throw Error(std::string("preprocess: '") + key + "' holds a non-number: " + v.dump());
    values.push_back(v.get<double>());
  }
  return values;
}

}  // namespace

Preprocess Preprocess::from_json(const nlohmann::json& json) {
  if (!json.is_object()) throw Error("preprocess: expected a JSON object, got " + json.dump());
  Preprocess p;
  p.resize = size_field(json, "resize", p.resize);
  p.crop = size_field(json, "crop", p.crop);
  p.mean = values_field(json, "mean", p.mean);
  p.std = values_field(json, "std", p.std);
  Normalize(p.mean, p.std);  // validates counts and positive std
  return p;
}

std::shared_ptr<Transform> make_eval_transform(const Preprocess& p) {
  std::vector<std::shared_ptr<const Transform>> steps;
  if (p.resize > 0) steps.push_back(std::make_shared<Resize>(p.resize));
  if (p.crop > 0) steps.push_back(std::make_shared<CenterCrop>(p.crop));
  steps.push_back(std::make_shared<Normalize>(p.mean, p.std));
  return std::make_shared<Compose>(std::move(steps));
}

std::shared_ptr<Transform> make_train_transform(const Preprocess& p, bool augment) {
  if (!augment) return make_eval_transform(p);
  const int64_t size = p.crop > 0 ? p.crop : p.resize;
  // torchvision's ImageNet recipe (scale 0.08-1) for images cropped to a size;
  // images kept at their own size (28x28 Fashion-MNIST) would lose their
  // object in an 8% crop: they keep at least 60% of their area.
  const std::pair<double, double> scale = size > 0 ? std::pair<double, double>{0.08, 1.0} : std::pair<double, double>{0.6, 1.0};
  std::vector<std::shared_ptr<const Transform>> steps{std::make_shared<RandomResizedCrop>(size, scale),
                                                      std::make_shared<RandomHorizontalFlip>(0.5),
                                                      std::make_shared<Normalize>(p.mean, p.std)};
  return std::make_shared<Compose>(std::move(steps));
}

}  // namespace imret::data
