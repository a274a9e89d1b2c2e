#include "imret/learn/miner.hpp"

#include <torch/torch.h>

#include <algorithm>
#include <cstring>
#include <functional>
#include <limits>
#include <random>
#include <vector>

#include "imret/core/error.hpp"
#include "imret/data/random.hpp"
#include "imret/learn/registry.hpp"

namespace imret::learn {
namespace {

// A batch ready for mining, on the CPU: `close` is the N x N matrix where
// smaller means closer (a distance, or minus a similarity); `positive` and
// `negative` the relation's masks (label_relation.hpp).
struct MiningBatch {
  int64_t n = 0;
  int64_t dim = 0;
  std::vector<uint8_t> positive, negative;  // row-major N x N
  std::vector<double> close;  // row-major N x N
  std::vector<double> raw;    // the distance's own values, row-major N x N
  at::Device device = at::kCPU;

  double at(int64_t i, int64_t j) const { return close[static_cast<size_t>(i * n + j)]; }
  bool is_positive(int64_t i, int64_t j) const { return positive[static_cast<size_t>(i * n + j)] != 0; }
  bool is_negative(int64_t i, int64_t j) const { return negative[static_cast<size_t>(i * n + j)] != 0; }
};

void check_inputs(const at::Tensor& embeddings, const at::Tensor& labels, const char* who) {
  if (!embeddings.defined() || embeddings.dim() != 2)
    throw Error(std::string(who) + ": embeddings must be an N x D tensor");
  check_relation_labels(labels, embeddings.size(0), who);
}

std::vector<uint8_t> to_bytes(const at::Tensor& mask) {
  at::Tensor m = mask.to(at::kCPU, at::kByte).contiguous();
  return std::vector<uint8_t>(m.data_ptr<uint8_t>(), m.data_ptr<uint8_t>() + m.numel());
}

// The relation's masks of a checked batch, on the CPU.
void set_relation(MiningBatch& batch, const at::Tensor& labels, const LabelRelation& relation) {
  const RelationMasks masks = relation_masks(labels.detach().to(at::kCPU), relation);
  batch.positive = to_bytes(masks.positive);
  batch.negative = to_bytes(masks.negative);
}

std::vector<double> to_vector(const at::Tensor& matrix) {
  at::Tensor m = matrix.detach().to(at::kCPU, at::kDouble).contiguous();
  const double* data = m.data_ptr<double>();
  return std::vector<double>(data, data + m.numel());
}

MiningBatch prepare(const at::Tensor& embeddings, const at::Tensor& labels, const Distance& distance, const char* who,
                    const LabelRelation& relation) {
  check_inputs(embeddings, labels, who);
  torch::NoGradGuard no_grad;
  MiningBatch batch;
  batch.n = embeddings.size(0);
  batch.dim = embeddings.size(1);
  batch.device = embeddings.device();
  set_relation(batch, labels, relation);
  if (batch.n == 0) return batch;
  at::Tensor e = embeddings.detach();
  at::Tensor matrix = distance.matrix(e, e);
  if (matrix.dim() != 2 || matrix.size(0) != batch.n || matrix.size(1) != batch.n)
    throw Error(std::string(who) + ": distance '" + distance.name() + "' returned a matrix of the wrong shape");
  batch.raw = to_vector(matrix);
  batch.close = batch.raw;
  if (distance.is_similarity())
    for (double& v : batch.close) v = -v;
  return batch;
}

at::Tensor to_index_tensor(const std::vector<int64_t>& values, at::Device device) {
  at::Tensor t = torch::empty({static_cast<int64_t>(values.size())}, torch::kLong);
  if (!values.empty()) std::memcpy(t.data_ptr<int64_t>(), values.data(), values.size() * sizeof(int64_t));
  return device.is_cpu() ? t : t.to(device);
}

struct TripletLists {
  std::vector<int64_t> a, p, n;
  void add(int64_t x, int64_t y, int64_t z) {
    a.push_back(x);
    p.push_back(y);
    n.push_back(z);
  }
  Triplets tensors(at::Device device) const {
    return {to_index_tensor(a, device), to_index_tensor(p, device), to_index_tensor(n, device)};
  }
};

// Per anchor: the positive chosen by `better_positive` and the negative chosen
// by `better_negative` (first index wins ties); one triplet per anchor.
template <typename BetterPositive, typename BetterNegative>
Triplets one_per_anchor(const MiningBatch& b, BetterPositive better_positive, BetterNegative better_negative) {
  TripletLists out;
  for (int64_t a = 0; a < b.n; ++a) {
    int64_t pos = -1, neg = -1;
    for (int64_t j = 0; j < b.n; ++j) {
      if (b.is_positive(a, j)) {
        if (pos < 0 || better_positive(b.at(a, j), b.at(a, pos))) pos = j;
      } else if (b.is_negative(a, j)) {
        if (neg < 0 || better_negative(b.at(a, j), b.at(a, neg))) neg = j;
      }
    }
    if (pos >= 0 && neg >= 0) out.add(a, pos, neg);
  }
  return out.tensors(b.device);
}

// Index drawn with probability weights[i] / sum(weights); weights >= 0, sum > 0.
size_t draw_weighted(const std::vector<double>& weights, double total, std::mt19937_64& rng) {
  const double target = data::uniform_real(rng, 0.0, total);
  double cumulative = 0;
  size_t last_positive = 0;
  for (size_t i = 0; i < weights.size(); ++i) {
    if (weights[i] <= 0) continue;
    cumulative += weights[i];
    last_positive = i;
    if (target < cumulative) return i;
  }
  return last_positive;  // rounding: target landed at the very end
}

}  // namespace

// ---------------------------------------------------------------- triplets

Triplets AllTripletMiner::mine(const at::Tensor& embeddings, const at::Tensor& labels, const Distance&, double) const {
  check_inputs(embeddings, labels, "all-triplets miner");
  MiningBatch b;
  b.n = embeddings.size(0);
  set_relation(b, labels, relation_);
  TripletLists out;
  for (int64_t a = 0; a < b.n; ++a)
    for (int64_t p = 0; p < b.n; ++p) {
      if (!b.is_positive(a, p)) continue;
      for (int64_t x = 0; x < b.n; ++x)
        if (b.is_negative(a, x)) out.add(a, p, x);
    }
  return out.tensors(embeddings.device());
}

Triplets BatchHardTripletMiner::mine(const at::Tensor& embeddings, const at::Tensor& labels, const Distance& distance,
                                     double) const {
  const MiningBatch b = prepare(embeddings, labels, distance, "batch-hard miner", relation_);
  return one_per_anchor(
      b, [](double d, double best) { return d > best; }, [](double d, double best) { return d < best; });
}

Triplets EasyPositiveTripletMiner::mine(const at::Tensor& embeddings, const at::Tensor& labels,
                                        const Distance& distance, double) const {
  const MiningBatch b = prepare(embeddings, labels, distance, "easy-positive miner", relation_);
  return one_per_anchor(
      b, [](double d, double best) { return d < best; }, [](double d, double best) { return d < best; });
}

Triplets SemiHardTripletMiner::mine(const at::Tensor& embeddings, const at::Tensor& labels, const Distance& distance,
                                    double margin) const {
  if (embeddings.defined() && !embeddings.device().is_cpu())
    return detail::semi_hard_on_device(embeddings, labels, distance, margin, keep_all_, relation_);
  const MiningBatch b = prepare(embeddings, labels, distance, "semi-hard miner", relation_);
  TripletLists out;
  for (int64_t a = 0; a < b.n; ++a)
    for (int64_t p = 0; p < b.n; ++p) {
      if (!b.is_positive(a, p)) continue;
      const double ap = b.at(a, p);
      int64_t hardest = -1;
      for (int64_t x = 0; x < b.n; ++x) {
        if (!b.is_negative(a, x)) continue;
        const double an = b.at(a, x);
        if (!(an > ap && an < ap + margin)) continue;
        if (keep_all_)
          out.add(a, p, x);
        else if (hardest < 0 || an < b.at(a, hardest))
          hardest = x;
      }
      if (hardest >= 0) out.add(a, p, hardest);
    }
  return out.tensors(b.device);
}

namespace detail {

Triplets semi_hard_on_device(const at::Tensor& embeddings, const at::Tensor& labels, const Distance& distance,
                             double margin, bool keep_all, const LabelRelation& relation) {
  check_inputs(embeddings, labels, "semi-hard miner");
  torch::NoGradGuard no_grad;
  const auto device = embeddings.device();
  const int64_t n = embeddings.size(0);
  const auto index_options = torch::TensorOptions().dtype(torch::kLong).device(device);
  if (n == 0) {
    const at::Tensor none = torch::empty({0}, index_options);
    return {none, none, none};
  }
  const RelationMasks masks = relation_masks(labels.detach(), relation);
  const at::Tensor positive = masks.positive.to(device, torch::kBool);
  const at::Tensor negative = masks.negative.to(device, torch::kBool);
  const at::Tensor e = embeddings.detach();
  at::Tensor close = distance.matrix(e, e).to(torch::kDouble);
  if (close.dim() != 2 || close.size(0) != n || close.size(1) != n)
    throw Error("semi-hard miner: distance '" + distance.name() + "' returned a matrix of the wrong shape");
  if (distance.is_similarity()) close = close.neg();
  if (keep_all) {
    // Anchors in blocks of at most 2^24 (a, p, x) cells; one count per block.
    const int64_t block = std::max<int64_t>(1, (int64_t{1} << 24) / (n * n));
    std::vector<at::Tensor> found;
    for (int64_t a0 = 0; a0 < n; a0 += block) {
      const int64_t a1 = std::min(n, a0 + block);
      const at::Tensor ap = close.slice(0, a0, a1).unsqueeze(2);  // a x p x 1
      const at::Tensor an = close.slice(0, a0, a1).unsqueeze(1);  // a x 1 x x
      const at::Tensor valid = positive.slice(0, a0, a1).unsqueeze(2) & negative.slice(0, a0, a1).unsqueeze(1) &
                               an.gt(ap) & an.lt(ap + margin);
      at::Tensor cells = valid.nonzero();  // row-major: the loop's order
      cells.select(1, 0).add_(a0);
      found.push_back(cells);
    }
    const at::Tensor cells = torch::cat(found);
    return {cells.select(1, 0).contiguous(), cells.select(1, 1).contiguous(), cells.select(1, 2).contiguous()};
  }
  // The hardest: per anchor, its negatives' distances sorted (stable, so equal
  // distances keep index order); the first one above d(a,p) is the candidate.
  const double inf = std::numeric_limits<double>::infinity();
  const at::Tensor negatives_only = close.masked_fill(negative.logical_not(), inf);
  const auto [sorted, order] = negatives_only.sort(/*stable=*/true, /*dim=*/1, /*descending=*/false);
  const at::Tensor first_above = torch::searchsorted(sorted, close, /*out_int32=*/false, /*right=*/true).clamp_max(n - 1);
  const at::Tensor candidate = sorted.gather(1, first_above);
  const at::Tensor chosen = positive & candidate.gt(close) & candidate.lt(close + margin);
  const at::Tensor pairs = chosen.nonzero();
  const at::Tensor anchor = pairs.select(1, 0).contiguous(), pos = pairs.select(1, 1).contiguous();
  const at::Tensor neg = order.index({anchor, first_above.index({anchor, pos})});
  return {anchor, pos, neg};
}

}  // namespace detail

Triplets RandomHardTripletMiner::mine(const at::Tensor& embeddings, const at::Tensor& labels, const Distance& distance,
                                      double margin) const {
  const MiningBatch b = prepare(embeddings, labels, distance, "random-hard miner", relation_);
  std::mt19937_64 rng(data::derive_seed(seed_, calls_.fetch_add(1)));
  TripletLists out;
  std::vector<int64_t> candidates;
  for (int64_t a = 0; a < b.n; ++a)
    for (int64_t p = 0; p < b.n; ++p) {
      if (!b.is_positive(a, p)) continue;
      const double ap = b.at(a, p);
      candidates.clear();
      for (int64_t x = 0; x < b.n; ++x)
        if (b.is_negative(a, x) && b.at(a, x) < ap + margin) candidates.push_back(x);
      if (candidates.empty()) continue;
      out.add(a, p, candidates[data::uniform_below(rng, candidates.size())]);
    }
  return out.tensors(b.device);
}

double DistanceWeightedTripletMiner::log_weight(double d, int64_t dim) const {
  const double excluded = -std::numeric_limits<double>::infinity();
  if (!(d < nonzero_loss_cutoff_)) return excluded;  // also NaN
  const double n = static_cast<double>(dim);
  d = std::max(d, cutoff_);
  const double log_w = (2.0 - n) * std::log(d) - ((n - 3.0) / 2.0) * std::log(1.0 - 0.25 * d * d);
  return std::isfinite(log_w) ? log_w : excluded;
}

double DistanceWeightedTripletMiner::weight(double d, int64_t dim) const {
  const double w = std::exp(log_weight(d, dim));
  return std::isfinite(w) ? w : 0.0;
}

Triplets DistanceWeightedTripletMiner::mine(const at::Tensor& embeddings, const at::Tensor& labels,
                                            const Distance& distance, double) const {
  const MiningBatch b = prepare(embeddings, labels, distance, "distance-weighted miner", relation_);
  std::mt19937_64 rng(data::derive_seed(seed_, calls_.fetch_add(1)));
  const std::string kind = distance.name();
  TripletLists out;
  std::vector<double> weights(static_cast<size_t>(b.n));
  for (int64_t a = 0; a < b.n; ++a) {
    // Log-weights of the negatives, normalised by the row's largest finite one
    // so that exp() neither overflows nor underflows for large dimensions.
    std::vector<double> log_w(static_cast<size_t>(b.n), -std::numeric_limits<double>::infinity());
    double max_log = -std::numeric_limits<double>::infinity();
    for (int64_t x = 0; x < b.n; ++x) {
      if (!b.is_negative(a, x)) continue;
      double d = b.raw[static_cast<size_t>(a * b.n + x)];
      if (distance.is_similarity())
        d = std::sqrt(std::max(0.0, 2.0 - 2.0 * d));
      else if (kind == "squared-euclidean")
        d = std::sqrt(std::max(0.0, d));
      const double lw = log_weight(d, b.dim);
      if (!std::isfinite(lw)) continue;
      log_w[static_cast<size_t>(x)] = lw;
      max_log = std::max(max_log, lw);
    }
    if (!std::isfinite(max_log)) continue;
    double total = 0;
    for (size_t x = 0; x < weights.size(); ++x) {
      weights[x] = std::isfinite(log_w[x]) ? std::exp(log_w[x] - max_log) : 0.0;
      total += weights[x];
    }
    for (int64_t p = 0; p < b.n; ++p) {
      if (!b.is_positive(a, p)) continue;
      out.add(a, p, static_cast<int64_t>(draw_weighted(weights, total, rng)));
    }
  }
  return out.tensors(b.device);
}

// ---------------------------------------------------------------- pairs

Pairs AllPairMiner::mine(const at::Tensor& embeddings, const at::Tensor& labels, const Distance&, double) const {
  check_inputs(embeddings, labels, "all-pairs miner");
  MiningBatch b;
  b.n = embeddings.size(0);
  set_relation(b, labels, relation_);
  std::vector<int64_t> a1, p, a2, neg;
  for (int64_t i = 0; i < b.n; ++i)
    for (int64_t j = 0; j < b.n; ++j) {
      if (b.is_positive(i, j)) {
        a1.push_back(i);
        p.push_back(j);
      } else if (b.is_negative(i, j)) {
        a2.push_back(i);
        neg.push_back(j);
      }
    }
  const at::Device device = embeddings.device();
  return {to_index_tensor(a1, device), to_index_tensor(p, device), to_index_tensor(a2, device),
          to_index_tensor(neg, device)};
}

Pairs HardNegativePairMiner::mine(const at::Tensor& embeddings, const at::Tensor& labels, const Distance& distance,
                                  double margin) const {
  const MiningBatch b = prepare(embeddings, labels, distance, "hard-negative pair miner", relation_);
  const bool similarity = distance.is_similarity();
  // Closer than the margin: d < margin, or s > margin (close = -s < -margin).
  const double threshold = similarity ? -margin : margin;
  std::vector<int64_t> a1, p, a2, neg;
  for (int64_t i = 0; i < b.n; ++i) {
    int64_t hardest = -1;
    for (int64_t j = 0; j < b.n; ++j) {
      if (b.is_positive(i, j)) {
        a1.push_back(i);
        p.push_back(j);
        continue;
      }
      if (!b.is_negative(i, j) || !(b.at(i, j) < threshold)) continue;
      if (!hardest_only_) {
        a2.push_back(i);
        neg.push_back(j);
      } else if (hardest < 0 || b.at(i, j) < b.at(i, hardest)) {
        hardest = j;
      }
    }
    if (hardest >= 0) {
      a2.push_back(i);
      neg.push_back(hardest);
    }
  }
  return {to_index_tensor(a1, b.device), to_index_tensor(p, b.device), to_index_tensor(a2, b.device),
          to_index_tensor(neg, b.device)};
}

// ---------------------------------------------------------------- stats

namespace {

double mean_of(const std::vector<double>& values, const at::Tensor& rows, const at::Tensor& cols, int64_t n) {
  if (!rows.defined() || rows.numel() == 0) return NAN;
  at::Tensor r = rows.to(at::kCPU, at::kLong).contiguous(), c = cols.to(at::kCPU, at::kLong).contiguous();
  double sum = 0;
  for (int64_t i = 0; i < r.numel(); ++i)
    sum += values[static_cast<size_t>(r.data_ptr<int64_t>()[i] * n + c.data_ptr<int64_t>()[i])];
  return sum / static_cast<double>(r.numel());
}

void check_indices(const at::Tensor& t, int64_t n, const char* who) {
  if (!t.defined() || t.numel() == 0) return;
  at::Tensor c = t.to(at::kCPU, at::kLong);
  if (c.min().item<int64_t>() < 0 || c.max().item<int64_t>() >= n)
    throw Error(std::string(who) + ": a tuple index is outside the batch of " + std::to_string(n));
}

}  // namespace

MiningStats triplet_stats(const Triplets& t, const at::Tensor& embeddings, const Distance& distance, double margin) {
  const at::Tensor labels =
      torch::zeros({embeddings.defined() && embeddings.dim() == 2 ? embeddings.size(0) : 0}, torch::kLong);
  const MiningBatch b = prepare(embeddings, labels, distance, "triplet_stats", {});
  for (const auto* x : {&t.anchor, &t.positive, &t.negative}) check_indices(*x, b.n, "triplet_stats");
  MiningStats s;
  s.tuples = t.anchor.defined() ? t.anchor.numel() : 0;
  s.positive_pairs = s.negative_pairs = s.tuples;
  if (s.tuples == 0) return s;
  s.mean_positive = mean_of(b.raw, t.anchor, t.positive, b.n);
  s.mean_negative = mean_of(b.raw, t.anchor, t.negative, b.n);
  at::Tensor a = t.anchor.to(at::kCPU, at::kLong).contiguous(), p = t.positive.to(at::kCPU, at::kLong).contiguous(),
             x = t.negative.to(at::kCPU, at::kLong).contiguous();
  for (int64_t i = 0; i < s.tuples; ++i) {
    const int64_t ai = a.data_ptr<int64_t>()[i];
    if (b.at(ai, x.data_ptr<int64_t>()[i]) < b.at(ai, p.data_ptr<int64_t>()[i]) + margin) ++s.violating;
  }
  return s;
}

MiningStats pair_stats(const Pairs& pairs, const at::Tensor& embeddings, const Distance& distance, double margin) {
  const at::Tensor labels =
      torch::zeros({embeddings.defined() && embeddings.dim() == 2 ? embeddings.size(0) : 0}, torch::kLong);
  const MiningBatch b = prepare(embeddings, labels, distance, "pair_stats", {});
  for (const auto* x : {&pairs.a1, &pairs.p, &pairs.a2, &pairs.n}) check_indices(*x, b.n, "pair_stats");
  MiningStats s;
  s.positive_pairs = pairs.a1.defined() ? pairs.a1.numel() : 0;
  s.negative_pairs = pairs.a2.defined() ? pairs.a2.numel() : 0;
  s.tuples = s.positive_pairs + s.negative_pairs;
  s.mean_positive = mean_of(b.raw, pairs.a1, pairs.p, b.n);
  s.mean_negative = mean_of(b.raw, pairs.a2, pairs.n, b.n);
  if (s.negative_pairs > 0) {
    at::Tensor a = pairs.a2.to(at::kCPU, at::kLong).contiguous(), x = pairs.n.to(at::kCPU, at::kLong).contiguous();
    const double threshold = distance.is_similarity() ? -margin : margin;
    for (int64_t i = 0; i < s.negative_pairs; ++i)
      if (b.at(a.data_ptr<int64_t>()[i], x.data_ptr<int64_t>()[i]) < threshold) ++s.violating;
  }
  return s;
}

// ---------------------------------------------------------------- factories

namespace {

MinerDescriptor described(std::string name, TupleShape tuples, std::string help) {
  MinerDescriptor d;
  d.name = std::move(name);
  d.tuples = tuples;
  d.help = std::move(help);
  return d;
}

MinerDescriptor triplet_miner(std::string name, std::string help,
                              std::function<std::unique_ptr<TripletMiner>(uint64_t, LabelRelation)> make) {
  MinerDescriptor d = described(std::move(name), TupleShape::Triplets, std::move(help));
  d.make_triplet_miner = std::move(make);
  return d;
}

MinerDescriptor pair_miner(std::string name, std::string help,
                           std::function<std::unique_ptr<PairMiner>(uint64_t, LabelRelation)> make) {
  MinerDescriptor d = described(std::move(name), TupleShape::Pairs, std::move(help));
  d.make_pair_miner = std::move(make);
  return d;
}

}  // namespace

// The miners, in the order help texts and errors list them (registry.cpp's miners()).
const std::vector<const MinerDescriptor*>& builtin_miners() {
  static const std::vector<MinerDescriptor> all = {
      triplet_miner("all", "every valid triplet",
                    [](uint64_t, LabelRelation r) { return std::make_unique<AllTripletMiner>(r); }),
      triplet_miner("batch-hard", "per anchor its farthest positive and nearest negative",
                    [](uint64_t, LabelRelation r) { return std::make_unique<BatchHardTripletMiner>(r); }),
      triplet_miner("semi-hard", "negatives farther than the positive but within the margin",
                    [](uint64_t, LabelRelation r) { return std::make_unique<SemiHardTripletMiner>(true, r); }),
      triplet_miner("semi-hard-hardest", "the hardest semi-hard negative per pair",
                    [](uint64_t, LabelRelation r) { return std::make_unique<SemiHardTripletMiner>(false, r); }),
      triplet_miner("random-hard", "a random margin-violating negative per pair",
                    [](uint64_t seed, LabelRelation r) { return std::make_unique<RandomHardTripletMiner>(seed, r); }),
      triplet_miner("distance-weighted", "negatives drawn by inverse distance density (Wu et al. 2017)",
                    [](uint64_t seed, LabelRelation r) {
                      return std::make_unique<DistanceWeightedTripletMiner>(seed, 0.5, 1.4, r);
                    }),
      triplet_miner("easy-positive", "per anchor its nearest positive and nearest negative",
                    [](uint64_t, LabelRelation r) { return std::make_unique<EasyPositiveTripletMiner>(r); }),
      pair_miner("all", "every positive and negative pair",
                 [](uint64_t, LabelRelation r) { return std::make_unique<AllPairMiner>(r); }),
      pair_miner("hard-negative", "every positive pair, negatives within the margin",
                 [](uint64_t, LabelRelation r) { return std::make_unique<HardNegativePairMiner>(false, r); }),
      pair_miner("hardest-negative", "every positive pair, per anchor its nearest negative within the margin",
                 [](uint64_t, LabelRelation r) { return std::make_unique<HardNegativePairMiner>(true, r); }),
  };
  static const std::vector<const MinerDescriptor*> pointers = pointers_to(all);
  return pointers;
}

std::unique_ptr<TripletMiner> make_triplet_miner(const std::string& name, uint64_t seed, LabelRelation relation) {
  check_relation(relation, "miner " + name);
  return find_miner(name, TupleShape::Triplets).make_triplet_miner(seed, relation);
}

std::unique_ptr<PairMiner> make_pair_miner(const std::string& name, uint64_t seed, LabelRelation relation) {
  check_relation(relation, "miner " + name);
  return find_miner(name, TupleShape::Pairs).make_pair_miner(seed, relation);
}

}  // namespace imret::learn
