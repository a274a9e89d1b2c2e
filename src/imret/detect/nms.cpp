#include "imret/detect/nms.hpp"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "imret/core/error.hpp"

namespace imret::detect {
namespace {

void check_inputs(const char* what, const torch::Tensor& boxes, const torch::Tensor& scores) {
  const std::string name(what);
  if (!boxes.defined() || !scores.defined()) throw UsageError(name + ": boxes and scores must be defined tensors");
  if (boxes.dim() != 2 || boxes.size(1) != 4)
    throw UsageError(name + ": boxes must be K x 4 (x1, y1, x2, y2), got " + c10::str(boxes.sizes()));
  if (scores.dim() != 1 || scores.size(0) != boxes.size(0))
    throw UsageError(name + ": scores must be a vector of K = " + std::to_string(boxes.size(0)) +
                     " values (one per box), got " + c10::str(scores.sizes()));
  if (boxes.scalar_type() != torch::kFloat && boxes.scalar_type() != torch::kDouble)
    throw UsageError(name + ": boxes must be float32 or float64, got " +
                     std::string(c10::toString(boxes.scalar_type())));
  if (!at::isFloatingType(scores.scalar_type()))
    throw UsageError(name + ": scores must be floating point, got " + std::string(c10::toString(scores.scalar_type())));
  if (scores.device() != boxes.device())
    throw UsageError(name + ": boxes (" + boxes.device().str() + ") and scores (" + scores.device().str() +
                     ") must be on the same device");
}

torch::Tensor empty_indices(const torch::Tensor& boxes) {
  return torch::empty({0}, boxes.options().dtype(torch::kLong));
}

// The order nms visits the boxes in: torchvision's kernels sort the scores
// descending with a stable sort (ties by increasing index).
torch::Tensor descending_order(const torch::Tensor& scores) {
  return std::get<1>(scores.sort(/*stable=*/true, /*dim=*/0, /*descending=*/true));
}

// The greedy pass on the CPU: box i (in decreasing score order) is kept unless
// a kept box before it overlaps it with IoU > threshold. IoU = inter / (area_i +
// area_j - inter) in T, compared in double, exactly as torchvision's CPU kernel.
template <typename T>
torch::Tensor nms_cpu(const torch::Tensor& boxes, const torch::Tensor& scores, double iou_threshold) {
  const int64_t count = boxes.size(0);
  const torch::Tensor order = descending_order(scores).contiguous();
  const torch::Tensor sorted = boxes.index_select(0, order).t().contiguous();  // 4 x K, by decreasing score
  const T* x1 = sorted.data_ptr<T>();
  const T* y1 = x1 + count;
  const T* x2 = y1 + count;
  const T* y2 = x2 + count;
  std::vector<T> area(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i) area[i] = (x2[i] - x1[i]) * (y2[i] - y1[i]);
  std::vector<uint8_t> suppressed(static_cast<size_t>(count), 0);
  std::vector<int64_t> kept;
  const int64_t* order_index = order.data_ptr<int64_t>();
  for (int64_t i = 0; i < count; ++i) {
    if (suppressed[i]) continue;
    kept.push_back(order_index[i]);
    const T ix1 = x1[i], iy1 = y1[i], ix2 = x2[i], iy2 = y2[i], iarea = area[i];
    for (int64_t j = i + 1; j < count; ++j) {
      if (suppressed[j]) continue;
      const T w = std::max(T(0), std::min(ix2, x2[j]) - std::max(ix1, x1[j]));
      const T h = std::max(T(0), std::min(iy2, y2[j]) - std::max(iy1, y1[j]));
      const T inter = w * h;
      const T iou = inter / (iarea + area[j] - inter);
      if (iou > iou_threshold) suppressed[j] = 1;
    }
  }
  return torch::tensor(kept, torch::kLong);
}

// The threshold a T-typed comparison needs to decide `iou > iou_threshold` (a
// double) exactly: for float, the largest float not above it.
double threshold_for(torch::ScalarType type, double iou_threshold) {
  if (type != torch::kFloat || std::isnan(iou_threshold)) return iou_threshold;
  float t = static_cast<float>(iou_threshold);
  if (static_cast<double>(t) > iou_threshold) t = std::nextafter(t, -std::numeric_limits<float>::infinity());
  return t;
}

}  // namespace

namespace detail {

torch::Tensor nms_by_mask(const torch::Tensor& boxes, const torch::Tensor& scores, double iou_threshold) {
  check_inputs("nms", boxes, scores);
  const int64_t count = boxes.size(0);
  if (count == 0) return empty_indices(boxes);
  torch::NoGradGuard no_grad;
  const torch::Tensor order = descending_order(scores);
  const torch::Tensor sorted = boxes.index_select(0, order);
  const torch::Tensor x1 = sorted.select(1, 0), y1 = sorted.select(1, 1);
  const torch::Tensor x2 = sorted.select(1, 2), y2 = sorted.select(1, 3);
  const torch::Tensor area = (x2 - x1) * (y2 - y1);
  const double threshold = threshold_for(boxes.scalar_type(), iou_threshold);
  // The IoU > threshold mask, packed on the device into 64-bit words (bit b
  // of word w: column 64w + b), as torchvision's CUDA kernel does: one copy
  // of K x K/64 words to the host in all (for K up to ~4000; row chunks
  // bound each temporary to ~4M elements beyond that).
  const int64_t words = (count + 63) / 64;
  // 1 << b as int64 (bit 63: the sign bit), made on the host: no signed overflow anywhere.
  torch::Tensor bit_values = torch::empty({64}, torch::kLong);
  for (int b = 0; b < 64; ++b) {
    const uint64_t bit = uint64_t{1} << b;
    std::memcpy(bit_values.data_ptr<int64_t>() + b, &bit, sizeof bit);
  }
  bit_values = bit_values.to(boxes.device());
  const int64_t rows_per_chunk = std::max<int64_t>(1, (int64_t{1} << 22) / (words * 64));
  std::vector<uint64_t> mask(static_cast<size_t>(count * words));
  auto cols = [&](const torch::Tensor& v) { return v.unsqueeze(0); };
  for (int64_t r0 = 0; r0 < count; r0 += rows_per_chunk) {
    const int64_t r1 = std::min(count, r0 + rows_per_chunk);
    auto rows = [&](const torch::Tensor& v) { return v.slice(0, r0, r1).unsqueeze(1); };
    const torch::Tensor w = (torch::min(rows(x2), cols(x2)) - torch::max(rows(x1), cols(x1))).clamp_min_(0);
    const torch::Tensor h = (torch::min(rows(y2), cols(y2)) - torch::max(rows(y1), cols(y1))).clamp_min_(0);
    const torch::Tensor inter = w * h;
    const torch::Tensor iou = inter / ((rows(area) + cols(area)) - inter);
    torch::Tensor over = iou.gt(threshold);
    if (words * 64 > count) over = torch::constant_pad_nd(over, {0, words * 64 - count}, 0);
    // Distinct powers of two: the int64 sum is the word (bit 63 wraps to the sign).
    const torch::Tensor packed = (over.view({r1 - r0, words, 64}).to(torch::kLong) * bit_values).sum(2);
    const torch::Tensor host = packed.to(torch::kCPU).contiguous();
    std::memcpy(mask.data() + r0 * words, host.data_ptr<int64_t>(), static_cast<size_t>(host.numel()) * sizeof(int64_t));
  }
  // The greedy pass: box i is kept unless a kept box before it overlaps it.
  std::vector<uint64_t> removed(static_cast<size_t>(words), 0);
  std::vector<int64_t> kept_positions;
  for (int64_t i = 0; i < count; ++i) {
    if ((removed[static_cast<size_t>(i / 64)] >> (i % 64)) & 1u) continue;
    kept_positions.push_back(i);
    const uint64_t* row = mask.data() + i * words;
    for (int64_t word = i / 64; word < words; ++word) removed[static_cast<size_t>(word)] |= row[word];
  }
  const torch::Tensor positions = torch::tensor(kept_positions, torch::kLong).to(boxes.device());
  return order.index_select(0, positions);
}

torch::Tensor batched_nms_by_offsets(const torch::Tensor& boxes, const torch::Tensor& scores, const torch::Tensor& groups,
                                     double iou_threshold) {
  check_inputs("batched_nms", boxes, scores);
  if (boxes.size(0) == 0) return empty_indices(boxes);
  torch::NoGradGuard no_grad;
  // Each group's boxes shifted by group x (largest coordinate + 1), computed
  // as torchvision does, so that boxes of different groups never overlap.
  const torch::Tensor offsets = groups.to(boxes.scalar_type()) * (boxes.max() + 1);
  return nms_by_mask(boxes + offsets.unsqueeze(1), scores, iou_threshold);
}

}  // namespace detail

torch::Tensor nms(const torch::Tensor& boxes, const torch::Tensor& scores, double iou_threshold) {
  check_inputs("nms", boxes, scores);
  if (boxes.size(0) == 0) return empty_indices(boxes);
  if (!boxes.device().is_cpu()) return detail::nms_by_mask(boxes, scores, iou_threshold);
  torch::NoGradGuard no_grad;
  if (boxes.scalar_type() == torch::kDouble) return nms_cpu<double>(boxes, scores, iou_threshold);
  return nms_cpu<float>(boxes, scores, iou_threshold);
}

torch::Tensor batched_nms(const torch::Tensor& boxes, const torch::Tensor& scores, const torch::Tensor& groups,
                          double iou_threshold) {
  check_inputs("batched_nms", boxes, scores);
  if (!groups.defined() || groups.dim() != 1 || groups.size(0) != boxes.size(0))
    throw UsageError("batched_nms: groups must be a vector of K = " + std::to_string(boxes.size(0)) +
                     " group ids (one per box), got " + (groups.defined() ? c10::str(groups.sizes()) : "undefined"));
  if (!at::isIntegralType(groups.scalar_type(), /*includeBool=*/false))
    throw UsageError("batched_nms: groups must be integers (int64), got " +
                     std::string(c10::toString(groups.scalar_type())));
  const int64_t count = boxes.size(0);
  if (count == 0) return empty_indices(boxes);
  torch::NoGradGuard no_grad;
  if (!boxes.device().is_cpu()) return detail::batched_nms_by_offsets(boxes, scores, groups, iou_threshold);
  // torchvision's vanilla path: one nms per group on its boxes in index order,
  // the kept indices in increasing order, then sorted by decreasing score.
  const torch::Tensor ids = groups.to(torch::kCPU, torch::kLong).contiguous();
  const int64_t* id = ids.data_ptr<int64_t>();
  std::map<int64_t, std::vector<int64_t>> members;
  for (int64_t i = 0; i < count; ++i) members[id[i]].push_back(i);
  const auto device = boxes.device();
  torch::Tensor keep_mask = torch::zeros({count}, torch::TensorOptions().dtype(torch::kBool).device(device));
  if (members.size() == 1) {
    keep_mask.index_fill_(0, nms(boxes, scores, iou_threshold), true);
  } else {
    for (const auto& [group, indices] : members) {
      const torch::Tensor index = torch::tensor(indices, torch::kLong).to(device);
      const torch::Tensor kept = nms(boxes.index_select(0, index), scores.index_select(0, index), iou_threshold);
      keep_mask.index_fill_(0, index.index_select(0, kept), true);
    }
  }
  const torch::Tensor keep = keep_mask.nonzero().squeeze(1);
  // torchvision sorts here with torch's default sort, which is not stable (on
  // the CPU beyond 16 values): ties come out in its order, as in torchvision.
  const torch::Tensor by_score = std::get<1>(scores.index_select(0, keep).sort(/*dim=*/0, /*descending=*/true));
  return keep.index_select(0, by_score);
}

}  // namespace imret::detect
