#include "imret/detect/roi_align.hpp"

#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "imret/core/error.hpp"

namespace imret::detect {
namespace {

// Checks the arguments; returns the rois in input's type, on the CPU, contiguous.
torch::Tensor checked_rois(const torch::Tensor& input, const torch::Tensor& rois, int64_t pooled_h, int64_t pooled_w) {
  if (!input.defined() || !rois.defined()) throw UsageError("roi_align: input and rois must be defined tensors");
  if (input.dim() != 4) throw UsageError("roi_align: input must be N x C x H x W, got " + c10::str(input.sizes()));
  if (input.scalar_type() != torch::kFloat && input.scalar_type() != torch::kDouble)
    throw UsageError("roi_align: input must be float32 or float64, got " +
                     std::string(c10::toString(input.scalar_type())));
  if (rois.dim() != 2 || rois.size(1) != 5)
    throw UsageError("roi_align: rois must be K x 5 (batch index, x1, y1, x2, y2), got " + c10::str(rois.sizes()));
  if (!at::isFloatingType(rois.scalar_type()))
    throw UsageError("roi_align: rois must be floating point, got " + std::string(c10::toString(rois.scalar_type())));
  if (rois.device() != input.device())
    throw UsageError("roi_align: input (" + input.device().str() + ") and rois (" + rois.device().str() +
                     ") must be on the same device");
  if (pooled_h < 1 || pooled_w < 1)
    throw UsageError("roi_align: the output size must be at least 1 x 1, got " + std::to_string(pooled_h) + " x " +
                     std::to_string(pooled_w));
  if (rois.size(0) > 0 && (input.size(2) == 0 || input.size(3) == 0))
    throw UsageError("roi_align: the feature map is empty (" + c10::str(input.sizes()) + ")");
  torch::Tensor result = rois.detach().to(torch::kCPU, input.scalar_type()).contiguous();
  const int64_t images = input.size(0);
  const int64_t count = result.size(0);
  AT_DISPATCH_FLOATING_TYPES(result.scalar_type(), "roi_align_check", [&] {
    const scalar_t* r = result.data_ptr<scalar_t>();
    for (int64_t k = 0; k < count; ++k) {
      const scalar_t b = r[k * 5];
      // torchvision truncates the index to an integer: anything in (-1, N) names an image.
      if (!(b > -1 && b < static_cast<scalar_t>(images)))
        throw UsageError("roi_align: roi " + std::to_string(k) + " has batch index " + std::to_string(b) +
                         ", outside the input's " + std::to_string(images) + " image(s)");
    }
  });
  return result;
}

// One sampling coordinate along an axis of `size` pixels, with torchvision's
// edge rules: outside [-1, size] it counts 0 (valid false); below 0 it is 0;
// from size - 1 on it is size - 1. Interpolates between low and high with
// weights h (for low) and l (for high).
template <typename T>
struct AxisSample {
  int64_t low = 0, high = 0;
  T l = 0, h = 0;
  bool valid = false;
};

template <typename T>
AxisSample<T> axis_sample(T v, int64_t size) {
  AxisSample<T> s;
  if (!(v >= -1.0 && v <= static_cast<T>(size))) return s;  // NaN too
  s.valid = true;
  if (v <= 0) v = 0;
  s.low = static_cast<int64_t>(v);
  if (s.low >= size - 1) {
    s.low = s.high = size - 1;
    v = static_cast<T>(s.low);
  } else {
    s.high = s.low + 1;
  }
  s.l = v - static_cast<T>(s.low);
  s.h = static_cast<T>(1) - s.l;
  return s;
}

// Where one roi samples: its image, its sampling grid per bin, and the
// coordinates along each axis (pooled * grid of them, bin after bin), computed
// in T exactly as torchvision does.
template <typename T>
struct RoiSamples {
  int64_t batch = 0;
  int64_t grid_h = 0, grid_w = 0;
  T count = 1;  // what the bin's sum is divided by
  std::vector<AxisSample<T>> ys, xs;
};

int64_t grid_size(int64_t sampling_ratio, double extent_per_bin) {
  if (sampling_ratio > 0) return sampling_ratio;
  const double g = std::ceil(extent_per_bin);
  return g >= 1 ? static_cast<int64_t>(std::min(g, 1e9)) : 0;  // no samples (NaN, empty or inverted roi)
}

template <typename T>
void roi_samples(const T* roi, int64_t height, int64_t width, int64_t pooled_h, int64_t pooled_w, T spatial_scale,
                 int64_t sampling_ratio, bool aligned, RoiSamples<T>& out) {
  out.batch = static_cast<int64_t>(roi[0]);
  const T offset = aligned ? static_cast<T>(0.5) : static_cast<T>(0);
  const T start_w = roi[1] * spatial_scale - offset;
  const T start_h = roi[2] * spatial_scale - offset;
  const T end_w = roi[3] * spatial_scale - offset;
  const T end_h = roi[4] * spatial_scale - offset;
  T roi_w = end_w - start_w;
  T roi_h = end_h - start_h;
  if (!aligned) {  // torchvision makes malformed rois 1 x 1
    roi_w = std::max(roi_w, static_cast<T>(1));
    roi_h = std::max(roi_h, static_cast<T>(1));
  }
  const T bin_h = roi_h / static_cast<T>(pooled_h);
  const T bin_w = roi_w / static_cast<T>(pooled_w);
  out.grid_h = grid_size(sampling_ratio, bin_h);
  out.grid_w = grid_size(sampling_ratio, bin_w);
  out.count = static_cast<T>(std::max<int64_t>(out.grid_h * out.grid_w, 1));
  auto axis = [](std::vector<AxisSample<T>>& samples, T start, T bin, int64_t pooled, int64_t grid, int64_t size) {
    samples.resize(static_cast<size_t>(pooled * grid));
    for (int64_t p = 0; p < pooled; ++p)
      for (int64_t i = 0; i < grid; ++i) {
        const T v =
            start + static_cast<T>(p) * bin + static_cast<T>(static_cast<float>(i) + 0.5f) * bin / static_cast<T>(grid);
        samples[p * grid + i] = axis_sample(v, size);
      }
  };
  axis(out.ys, start_h, bin_h, pooled_h, out.grid_h, height);
  axis(out.xs, start_w, bin_w, pooled_w, out.grid_w, width);
}

// The bilinear taps of one in-range sample: offsets of the four pixels (in
// pixels of one plane) and their weights, as torchvision forms them.
template <typename T>
struct Taps {
  int64_t pos[4];
  T w[4];
};

template <typename T>
Taps<T> taps(const AxisSample<T>& y, const AxisSample<T>& x, int64_t width) {
  return {{y.low * width + x.low, y.low * width + x.high, y.high * width + x.low, y.high * width + x.high},
          {y.h * x.h, y.h * x.l, y.l * x.h, y.l * x.l}};
}

// acc[c] += w0 * p0[c] + w1 * p1[c] + w2 * p2[c] + w3 * p3[c] (this association,
// torchvision's) for n channels; blocks of 8 so that the compiler vectorises.
template <typename T>
void accumulate(T* __restrict acc, const T* __restrict p0, const T* __restrict p1, const T* __restrict p2,
                const T* __restrict p3, const T* w, int64_t n) {
  const T w0 = w[0], w1 = w[1], w2 = w[2], w3 = w[3];
  int64_t c = 0;
  for (; c + 8 <= n; c += 8)
    for (int k = 0; k < 8; ++k) acc[c + k] += w0 * p0[c + k] + w1 * p1[c + k] + w2 * p2[c + k] + w3 * p3[c + k];
  for (; c < n; ++c) acc[c] += w0 * p0[c] + w1 * p1[c] + w2 * p2[c] + w3 * p3[c];
}

// The CPU kernel, parallel over rois. channels_last: the input is N x H x W x C
// (one sample reads four channel vectors); otherwise N x C x H x W (torchvision's
// loop: channel after channel, each sample four scalars). Same arithmetic.
template <typename T>
void roi_align_cpu_kernel(const T* input, bool channels_last, int64_t channels, int64_t height, int64_t width,
                          const T* rois, int64_t count, int64_t pooled_h, int64_t pooled_w, T spatial_scale,
                          int64_t sampling_ratio, bool aligned, T* output) {
  const int64_t bins = pooled_h * pooled_w;
  const int64_t plane = height * width;
  at::parallel_for(0, count, 1, [&](int64_t begin, int64_t end) {
    RoiSamples<T> roi;
    std::vector<Taps<T>> samples;              // the in-range samples, bin after bin
    std::vector<int64_t> bin_start(bins + 1);  // bin b's samples: [bin_start[b], bin_start[b + 1])
    std::vector<T> acc(channels_last ? channels : 0);
    for (int64_t n = begin; n < end; ++n) {
      roi_samples(rois + n * 5, height, width, pooled_h, pooled_w, spatial_scale, sampling_ratio, aligned, roi);
      samples.clear();
      for (int64_t ph = 0; ph < pooled_h; ++ph)
        for (int64_t pw = 0; pw < pooled_w; ++pw) {
          bin_start[ph * pooled_w + pw] = static_cast<int64_t>(samples.size());
          for (int64_t iy = 0; iy < roi.grid_h; ++iy) {
            const AxisSample<T>& y = roi.ys[ph * roi.grid_h + iy];
            if (!y.valid) continue;
            for (int64_t ix = 0; ix < roi.grid_w; ++ix) {
              const AxisSample<T>& x = roi.xs[pw * roi.grid_w + ix];
              if (x.valid) samples.push_back(taps(y, x, width));
            }
          }
        }
      bin_start[bins] = static_cast<int64_t>(samples.size());
      T* out = output + n * channels * bins;
      if (channels_last) {
        const T* image = input + roi.batch * plane * channels;
        for (int64_t b = 0; b < bins; ++b) {
          std::fill(acc.begin(), acc.end(), static_cast<T>(0));
          for (int64_t s = bin_start[b]; s < bin_start[b + 1]; ++s) {
            const Taps<T>& t = samples[s];
            accumulate(acc.data(), image + t.pos[0] * channels, image + t.pos[1] * channels,
                       image + t.pos[2] * channels, image + t.pos[3] * channels, t.w, channels);
          }
          for (int64_t c = 0; c < channels; ++c) out[c * bins + b] = acc[c] / roi.count;
        }
      } else {
        // Four channels at a time share each sample's taps (independent sums).
        const T* image = input + roi.batch * channels * plane;
        auto tap = [](const T* in, const Taps<T>& t) {
          return t.w[0] * in[t.pos[0]] + t.w[1] * in[t.pos[1]] + t.w[2] * in[t.pos[2]] + t.w[3] * in[t.pos[3]];
        };
        int64_t c = 0;
        for (; c + 4 <= channels; c += 4) {
          const T* in0 = image + c * plane;
          const T *in1 = in0 + plane, *in2 = in1 + plane, *in3 = in2 + plane;
          for (int64_t b = 0; b < bins; ++b) {
            T v0 = 0, v1 = 0, v2 = 0, v3 = 0;
            for (int64_t s = bin_start[b]; s < bin_start[b + 1]; ++s) {
              const Taps<T>& t = samples[s];
              v0 += tap(in0, t), v1 += tap(in1, t), v2 += tap(in2, t), v3 += tap(in3, t);
            }
            out[c * bins + b] = v0 / roi.count;
            out[(c + 1) * bins + b] = v1 / roi.count;
            out[(c + 2) * bins + b] = v2 / roi.count;
            out[(c + 3) * bins + b] = v3 / roi.count;
          }
        }
        for (; c < channels; ++c) {
          const T* in = image + c * plane;
          for (int64_t b = 0; b < bins; ++b) {
            T value = 0;
            for (int64_t s = bin_start[b]; s < bin_start[b + 1]; ++s) value += tap(in, samples[s]);
            out[c * bins + b] = value / roi.count;
          }
        }
      }
    }
  });
}

// Whether to run the channels-last kernel: it reads four channel vectors per
// sample (vectorised, cache-friendly) but first transposes the whole input
// (unless it is channels-last already), which costs about a copy of it.
// Measured on 1 x 256 x 200 x 304 features, sampling ratio 2: with 1000 rois
// of 7 x 7 bins (samples x channels = 3.2 x the input's elements) it takes about
// half the N x C x H x W kernel's time; with 100 rois of 14 x 14 (1.3 x) the
// two are even.
bool prefer_channels_last(const torch::Tensor& input, const torch::Tensor& rois, int64_t pooled_h, int64_t pooled_w,
                          int64_t sampling_ratio) {
  if (input.size(1) < 8) return false;
  if (input.is_contiguous(at::MemoryFormat::ChannelsLast)) return true;
  const int64_t grid = sampling_ratio > 0 ? sampling_ratio * sampling_ratio : 4;
  const double sampled = static_cast<double>(rois.size(0)) * pooled_h * pooled_w * grid * input.size(1);
  return sampled > 2.0 * static_cast<double>(input.numel());
}

torch::Tensor roi_align_cpu(const torch::Tensor& input, const torch::Tensor& rois, int64_t pooled_h, int64_t pooled_w,
                            double spatial_scale, int64_t sampling_ratio, bool aligned) {
  const int64_t count = rois.size(0), channels = input.size(1);
  torch::Tensor output = torch::zeros({count, channels, pooled_h, pooled_w}, input.options());
  if (output.numel() == 0) return output;
  const bool channels_last = prefer_channels_last(input, rois, pooled_h, pooled_w, sampling_ratio);
  const torch::Tensor data =
      channels_last ? input.detach().permute({0, 2, 3, 1}).contiguous() : input.detach().contiguous();
  AT_DISPATCH_FLOATING_TYPES(input.scalar_type(), "roi_align_cpu", [&] {
    roi_align_cpu_kernel<scalar_t>(data.data_ptr<scalar_t>(), channels_last, channels, input.size(2), input.size(3),
                                   rois.data_ptr<scalar_t>(), count, pooled_h, pooled_w,
                                   static_cast<scalar_t>(spatial_scale), sampling_ratio, aligned,
                                   output.data_ptr<scalar_t>());
  });
  return output;
}

// The device path for rois of one image and one sampling grid: per chunk of
// rois, the taps' pixel indices and weights (computed on the CPU by the same
// code as the CPU kernel) go to the device; the four gathers, the weighted sum
// (torchvision's association), the in-order sum over the grid and the division
// run there as tensor operations.
template <typename T>
void gather_group(const torch::Tensor& input, const std::vector<RoiSamples<T>>& all, const std::vector<int64_t>& group,
                  int64_t pooled_h, int64_t pooled_w, int64_t max_chunk_elements, torch::Tensor& output) {
  const RoiSamples<T>& first = all[static_cast<size_t>(group.front())];
  const int64_t gh = first.grid_h, gw = first.grid_w;
  if (gh < 1 || gw < 1) return;  // no samples: the output stays 0
  const int64_t channels = input.size(1), width = input.size(3);
  const int64_t sy = pooled_h * gh, sx = pooled_w * gw, per_roi = sy * sx;
  const int64_t chunk = std::max<int64_t>(1, max_chunk_elements / std::max<int64_t>(1, channels * per_roi));
  const auto device = input.device();
  const auto cpu_long = torch::TensorOptions().dtype(torch::kLong);
  const auto cpu_real = torch::TensorOptions().dtype(input.scalar_type());
  const torch::Tensor plane = input[first.batch].reshape({channels, -1});
  const torch::Tensor count = torch::full({1}, first.count, input.options());
  for (size_t g0 = 0; g0 < group.size(); g0 += static_cast<size_t>(chunk)) {
    const int64_t k = std::min<int64_t>(chunk, static_cast<int64_t>(group.size() - g0));
    // Per roi and axis sample: low, high, l, h, valid (as 0/1).
    torch::Tensor y_index = torch::empty({k, sy, 1, 2}, cpu_long), x_index = torch::empty({k, 1, sx, 2}, cpu_long);
    torch::Tensor y_weight = torch::empty({k, sy, 1, 3}, cpu_real), x_weight = torch::empty({k, 1, sx, 3}, cpu_real);
    int64_t* yi = y_index.data_ptr<int64_t>();
    int64_t* xi = x_index.data_ptr<int64_t>();
    T* yw = y_weight.data_ptr<T>();
    T* xw = x_weight.data_ptr<T>();
    for (int64_t r = 0; r < k; ++r) {
      const RoiSamples<T>& roi = all[static_cast<size_t>(group[g0 + r])];
      for (int64_t i = 0; i < sy; ++i, yi += 2, yw += 3) {
        const AxisSample<T>& s = roi.ys[i];
        yi[0] = s.low, yi[1] = s.high, yw[0] = s.l, yw[1] = s.h, yw[2] = s.valid ? 1 : 0;
      }
      for (int64_t i = 0; i < sx; ++i, xi += 2, xw += 3) {
        const AxisSample<T>& s = roi.xs[i];
        xi[0] = s.low, xi[1] = s.high, xw[0] = s.l, xw[1] = s.h, xw[2] = s.valid ? 1 : 0;
      }
    }
    y_index = y_index.to(device), x_index = x_index.to(device);
    y_weight = y_weight.to(device), x_weight = x_weight.to(device);
    auto yl = [&](int f) { return y_weight.select(3, f); };  // k x sy x 1
    auto xl = [&](int f) { return x_weight.select(3, f); };  // k x 1 x sx
    const torch::Tensor valid = yl(2) * xl(2);               // 1 where both coordinates are in range
    const torch::Tensor w[4] = {yl(1) * xl(1) * valid, yl(1) * xl(0) * valid, yl(0) * xl(1) * valid,
                                yl(0) * xl(0) * valid};  // hy hx, hy lx, ly hx, ly lx
    auto pixel = [&](int y, int x) { return (y_index.select(3, y) * width + x_index.select(3, x)).reshape({-1}); };
    const torch::Tensor pos[4] = {pixel(0, 0), pixel(0, 1), pixel(1, 0), pixel(1, 1)};
    torch::Tensor sum;
    for (int t = 0; t < 4; ++t) {
      const torch::Tensor term = plane.index_select(1, pos[t]) * w[t].reshape({1, -1});
      sum = t == 0 ? term : sum + term;
    }
    // C x k x ph x gh x pw x gw: add the grid's samples in torchvision's order.
    const torch::Tensor samples = sum.view({channels, k, pooled_h, gh, pooled_w, gw});
    torch::Tensor bins = torch::zeros({channels, k, pooled_h, pooled_w}, input.options());
    for (int64_t iy = 0; iy < gh; ++iy)
      for (int64_t ix = 0; ix < gw; ++ix) bins.add_(samples.select(5, ix).select(3, iy));
    bins.div_(count);
    const torch::Tensor index = torch::tensor(std::vector<int64_t>(group.begin() + static_cast<int64_t>(g0),
                                                                   group.begin() + static_cast<int64_t>(g0) + k),
                                              cpu_long)
                                    .to(device);
    output.index_copy_(0, index, bins.permute({1, 0, 2, 3}));
  }
}

// One axis of a chunk of rois on the device: k x (pooled * grid) sample
// coordinates -> low and high pixel indices, weights h (for low) and l (for
// high), and 1/0 validity, with axis_sample's rules and torchvision's
// arithmetic in the input's type.
struct AxisTensors {
  torch::Tensor low, high, l, h, valid;
};

AxisTensors axis_tensors(const torch::Tensor& start, const torch::Tensor& bin, int64_t pooled, int64_t grid,
                         int64_t size) {
  const auto options = start.options();
  // start + p * bin + (float(i) + 0.5f) * bin / grid, associated as the CPU kernel.
  const torch::Tensor p = torch::arange(pooled, options).view({1, pooled, 1});
  const torch::Tensor i = (torch::arange(grid, torch::TensorOptions().dtype(torch::kFloat).device(start.device())) + 0.5f)
                              .to(start.scalar_type())
                              .view({1, 1, grid});
  const torch::Tensor s = start.view({-1, 1, 1}), b = bin.view({-1, 1, 1});
  torch::Tensor v = ((s + p * b) + i * b / static_cast<double>(grid)).reshape({start.size(0), pooled * grid});
  const torch::Tensor valid = v.ge(-1.0) & v.le(static_cast<double>(size));  // false for NaN
  v = torch::where(valid, v, torch::zeros_like(v)).clamp_min(0);
  torch::Tensor low = v.to(torch::kLong);  // truncation, v >= 0
  const torch::Tensor at_edge = low.ge(size - 1);
  low = low.clamp_max(size - 1);
  const torch::Tensor high = torch::where(at_edge, low, low + 1);
  v = torch::where(at_edge, low.to(v.scalar_type()), v);
  const torch::Tensor l = v - low.to(v.scalar_type());
  return {low, high, l, 1 - l, valid.to(v.scalar_type())};
}

}  // namespace

namespace detail {

torch::Tensor roi_align_fixed_grid(const torch::Tensor& input, const torch::Tensor& rois, int64_t pooled_h,
                                   int64_t pooled_w, double spatial_scale, int64_t sampling_ratio, bool aligned,
                                   int64_t max_chunk_elements) {
  checked_rois(input, rois, pooled_h, pooled_w);  // the one host read: the batch indices' range
  if (sampling_ratio < 1) throw UsageError("roi_align: a fixed grid needs sampling_ratio >= 1");
  torch::NoGradGuard no_grad;
  const int64_t count = rois.size(0), images = input.size(0), channels = input.size(1);
  const int64_t height = input.size(2), width = input.size(3), grid = sampling_ratio;
  torch::Tensor output = torch::zeros({count, channels, pooled_h, pooled_w}, input.options());
  if (output.numel() == 0) return output;
  // C x (N * H * W): every image's pixels in one row per channel (a view for one image).
  const torch::Tensor data = input.detach().transpose(0, 1).reshape({channels, images * height * width});
  const torch::Tensor r = rois.detach().to(input.scalar_type());
  const int64_t sy = pooled_h * grid, sx = pooled_w * grid;
  const int64_t chunk = std::max<int64_t>(1, max_chunk_elements / std::max<int64_t>(1, channels * sy * sx));
  for (int64_t k0 = 0; k0 < count; k0 += chunk) {
    const int64_t k = std::min(chunk, count - k0);
    const torch::Tensor part = r.slice(0, k0, k0 + k);
    const double offset = aligned ? 0.5 : 0.0;
    const torch::Tensor start_w = part.select(1, 1) * spatial_scale - offset;
    const torch::Tensor start_h = part.select(1, 2) * spatial_scale - offset;
    torch::Tensor roi_w = (part.select(1, 3) * spatial_scale - offset) - start_w;
    torch::Tensor roi_h = (part.select(1, 4) * spatial_scale - offset) - start_h;
    if (!aligned) {  // torchvision makes malformed rois 1 x 1
      roi_w = roi_w.clamp_min(1);
      roi_h = roi_h.clamp_min(1);
    }
    const AxisTensors ys = axis_tensors(start_h, roi_h / static_cast<double>(pooled_h), pooled_h, grid, height);
    const AxisTensors xs = axis_tensors(start_w, roi_w / static_cast<double>(pooled_w), pooled_w, grid, width);
    // k x sy x sx taps; the image's first pixel offsets the positions.
    const torch::Tensor base = (part.select(1, 0).to(torch::kLong) * (height * width)).view({k, 1, 1});
    auto pixel = [&](const torch::Tensor& y, const torch::Tensor& x) {
      return (base + y.unsqueeze(2) * width + x.unsqueeze(1)).reshape({-1});
    };
    const torch::Tensor valid = ys.valid.unsqueeze(2) * xs.valid.unsqueeze(1);
    auto weight = [&](const torch::Tensor& wy, const torch::Tensor& wx) {
      return (wy.unsqueeze(2) * wx.unsqueeze(1) * valid).reshape({1, -1});
    };
    // w1 * v1 + w2 * v2 + w3 * v3 + w4 * v4, torchvision's association.
    torch::Tensor sum = data.index_select(1, pixel(ys.low, xs.low)) * weight(ys.h, xs.h);
    sum = sum + data.index_select(1, pixel(ys.low, xs.high)) * weight(ys.h, xs.l);
    sum = sum + data.index_select(1, pixel(ys.high, xs.low)) * weight(ys.l, xs.h);
    sum = sum + data.index_select(1, pixel(ys.high, xs.high)) * weight(ys.l, xs.l);
    // C x k x ph x gh x pw x gw: the grid's samples added in torchvision's order.
    const torch::Tensor samples = sum.view({channels, k, pooled_h, grid, pooled_w, grid});
    torch::Tensor bins = torch::zeros({channels, k, pooled_h, pooled_w}, input.options());
    for (int64_t iy = 0; iy < grid; ++iy)
      for (int64_t ix = 0; ix < grid; ++ix) bins.add_(samples.select(5, ix).select(3, iy));
    bins.div_(static_cast<double>(grid * grid));
    output.slice(0, k0, k0 + k).copy_(bins.permute({1, 0, 2, 3}));
  }
  return output;
}

torch::Tensor roi_align_by_gather(const torch::Tensor& input, const torch::Tensor& rois, int64_t pooled_h,
                                  int64_t pooled_w, double spatial_scale, int64_t sampling_ratio, bool aligned,
                                  int64_t max_chunk_elements) {
  const torch::Tensor cpu_rois = checked_rois(input, rois, pooled_h, pooled_w);
  torch::NoGradGuard no_grad;
  const int64_t count = cpu_rois.size(0), channels = input.size(1);
  torch::Tensor output = torch::zeros({count, channels, pooled_h, pooled_w}, input.options());
  if (output.numel() == 0) return output;
  AT_DISPATCH_FLOATING_TYPES(input.scalar_type(), "roi_align_by_gather", [&] {
    std::vector<RoiSamples<scalar_t>> all(static_cast<size_t>(count));
    std::map<std::tuple<int64_t, int64_t, int64_t>, std::vector<int64_t>> groups;  // (image, grid h, grid w)
    const scalar_t* r = cpu_rois.data_ptr<scalar_t>();
    for (int64_t n = 0; n < count; ++n) {
      roi_samples(r + n * 5, input.size(2), input.size(3), pooled_h, pooled_w, static_cast<scalar_t>(spatial_scale),
                  sampling_ratio, aligned, all[n]);
      groups[{all[n].batch, all[n].grid_h, all[n].grid_w}].push_back(n);
    }
    const torch::Tensor data = input.detach().contiguous();
    for (const auto& entry : groups)
      gather_group(data, all, entry.second, pooled_h, pooled_w, max_chunk_elements, output);
  });
  return output;
}

}  // namespace detail

torch::Tensor roi_align(const torch::Tensor& input, const torch::Tensor& rois, int64_t pooled_h, int64_t pooled_w,
                        double spatial_scale, int64_t sampling_ratio, bool aligned) {
  if (input.defined() && !input.device().is_cpu() && sampling_ratio > 0)
    return detail::roi_align_fixed_grid(input, rois, pooled_h, pooled_w, spatial_scale, sampling_ratio, aligned);
  if (input.defined() && !input.device().is_cpu())
    return detail::roi_align_by_gather(input, rois, pooled_h, pooled_w, spatial_scale, sampling_ratio, aligned);
  const torch::Tensor cpu_rois = checked_rois(input, rois, pooled_h, pooled_w);
  torch::NoGradGuard no_grad;
  return roi_align_cpu(input, cpu_rois, pooled_h, pooled_w, spatial_scale, sampling_ratio, aligned);
}

}  // namespace imret::detect
