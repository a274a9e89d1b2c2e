#include "imret/viz/tsne.hpp"

#include <torch/torch.h>

#include <cfloat>
#include <cmath>
#include <functional>
#include <optional>
#include <sstream>

#include "imret/core/error.hpp"
#include "imret/core/progress.hpp"
#include "imret/viz/pca.hpp"
#include "imret/viz/tsne_affinities.hpp"
#include "imret/viz/tsne_gradient.hpp"

namespace imret::viz {
namespace {

using namespace tsne_detail;

// sklearn's learning schedule constants.
constexpr int64_t kExplorationIterations = 250;  // with early exaggeration, momentum 0.5
constexpr int64_t kCheckEvery = 50;              // iterations between KL / progress checks
constexpr double kExplorationMomentum = 0.5;
constexpr double kFinalMomentum = 0.8;
constexpr float kMinGain = 0.01f;
constexpr double kInitialScale = 1e-4;  // std of the first embedding column

[[noreturn]] void bad_option(const std::string& message) { throw UsageError("t-SNE: " + message); }

std::string text(double value) {
  std::ostringstream out;
  out << value;
  return out.str();
}

}  // namespace

void check_tsne_options(const TsneOptions& o, int64_t n, int64_t features) {
  if (n < 2) bad_option("needs at least 2 points (got " + std::to_string(n) + ")");
  if (features < 1) bad_option("data has no features");
  if (o.method != "barnes_hut" && o.method != "exact")
    bad_option("unknown method '" + o.method + "' (expected barnes_hut or exact)");
  if (o.init != "pca" && o.init != "random") bad_option("unknown init '" + o.init + "' (expected pca or random)");
  if (!(o.perplexity > 0) || o.perplexity >= static_cast<double>(n))
    bad_option("perplexity must be positive and less than the number of points (" + std::to_string(n) + "), got " +
               text(o.perplexity));
  if (o.method == "barnes_hut" && (o.dimensions < 2 || o.dimensions > 3))
    bad_option("dimensions must be 2 or 3 for method barnes_hut (a quadtree or octree), got " +
               std::to_string(o.dimensions));
  if (o.dimensions < 1) bad_option("dimensions must be at least 1, got " + std::to_string(o.dimensions));
  if (o.init == "pca" && o.dimensions > std::min(n, features))
    bad_option("init pca needs dimensions (" + std::to_string(o.dimensions) +
               ") <= min(points, features) = " + std::to_string(std::min(n, features)));
  if (!(o.early_exaggeration >= 1)) bad_option("early_exaggeration must be at least 1, got " + text(o.early_exaggeration));
  if (o.iterations < kExplorationIterations)
    bad_option("iterations must be at least 250, got " + std::to_string(o.iterations));
  if (o.iterations_without_progress < -1)
    bad_option("iterations_without_progress must be at least -1, got " + std::to_string(o.iterations_without_progress));
  if (!(o.min_grad_norm >= 0)) bad_option("min_grad_norm must be non-negative, got " + text(o.min_grad_norm));
  if (!(o.angle >= 0 && o.angle <= 1)) bad_option("angle must be in [0, 1], got " + text(o.angle));
  if (!std::isfinite(o.learning_rate)) bad_option("learning_rate must be finite (<= 0: auto)");
}

namespace {

void validate(const at::Tensor& data, const TsneOptions& o) {
  if (data.dim() != 2 || !data.is_floating_point() || !data.device().is_cpu())
    bad_option("data must be an N x D floating-point matrix on the CPU");
  check_tsne_options(o, data.size(0), data.size(1));
  if (!torch::isfinite(data).all().item<bool>()) bad_option("data contains NaN or infinity");
}

// sklearn 1.2: PCA scaled so that the first column's std is 1e-4, or
// 1e-4 * standard normal.
std::vector<float> initial_embedding(const at::Tensor& x, const TsneOptions& o) {
  at::Tensor y;
  if (o.init == "pca") {
    // sklearn uses a randomized PCA here; the exact one differs from it by
    // that method's error only, and the result is scaled to 1e-4 anyway.
    y = pca(x, o.dimensions).projected;
    y = y / y.select(1, 0).std(/*unbiased=*/false) * kInitialScale;
  } else {
    at::Generator generator = at::detail::createCPUGenerator(o.seed);
    y = at::randn({x.size(0), o.dimensions}, generator, at::kFloat) * kInitialScale;
  }
  y = y.to(at::kFloat).contiguous();
  return std::vector<float>(y.data_ptr<float>(), y.data_ptr<float>() + y.numel());
}

// Fills grad for embedding y; returns KL(P || Q) when asked (NaN otherwise).
using Objective = std::function<double(const float* y, float* grad, bool compute_error, double p_scale)>;

struct Stage {
  int64_t first = 0;  // iteration index to start at
  int64_t end = 0;    // one past the last iteration index
  double momentum = 0;
  int64_t without_progress = 0;
  double p_scale = 1;
};

struct StageResult {
  double kl_divergence = 0;
  int64_t last = 0;  // index of the last iteration run
};

// sklearn's _gradient_descent: momentum, per-parameter gains (+0.2 when the
// gradient's sign flips against the update, *0.8 otherwise, at least 0.01);
// every 50 iterations the KL is computed and the stage stops after
// `without_progress` iterations without a new best KL or when the gained
// gradient's norm is at most min_grad_norm. Update and gains start afresh for
// every stage, as sklearn calls the function once per stage.
StageResult descend(const Objective& objective, std::vector<float>& y, const Stage& stage, double learning_rate,
                    double min_grad_norm, Progress* progress) {
  const size_t size = y.size();
  std::vector<float> update(size, 0.0f), gains(size, 1.0f), grad(size);
  double error = DBL_MAX, best_error = DBL_MAX;
  int64_t best_iteration = stage.first, last = stage.first;
  for (int64_t i = stage.first; i < stage.end; ++i) {
    last = i;
    const bool check = (i + 1) % kCheckEvery == 0;
    error = objective(y.data(), grad.data(), check || i == stage.end - 1, stage.p_scale);
    double squared_norm = 0.0;
    for (size_t c = 0; c < size; ++c) {
      const bool same_direction = update[c] * grad[c] < 0.0f;  // descending along the update
      gains[c] = std::max(same_direction ? gains[c] + 0.2f : gains[c] * 0.8f, kMinGain);
      grad[c] *= gains[c];
      update[c] = static_cast<float>(stage.momentum * update[c] - learning_rate * grad[c]);
      y[c] += update[c];
      squared_norm += static_cast<double>(grad[c]) * grad[c];
    }
    if (progress) progress->advance();
    if (!check) continue;
    if (progress) progress->set_status("KL " + text(error));
    if (error < best_error) {
      best_error = error;
      best_iteration = i;
    } else if (i - best_iteration > stage.without_progress) {
      break;
    }
    if (std::sqrt(squared_norm) <= min_grad_norm) break;
  }
  return {error, last};
}

Objective make_objective(const at::Tensor& x, const TsneOptions& o, int dof) {
  const int64_t n = x.size(0), dims = o.dimensions;
  if (o.method == "exact") {
    auto p = std::make_shared<std::vector<double>>(joint_probabilities_exact(x, o.perplexity));
    return [p, n, dims, dof](const float* y, float* grad, bool compute_error, double p_scale) {
      return exact_kl_gradient(*p, p_scale, y, n, dims, dof, grad, compute_error);
    };
  }
  const int64_t k = std::min<int64_t>(n - 1, static_cast<int64_t>(3.0 * o.perplexity + 1.0));
  auto p = std::make_shared<SparseAffinities>(joint_probabilities_nn(nearest_neighbours(x, k), o.perplexity));
  const double angle = o.angle;
  return [p, dims, dof, angle](const float* y, float* grad, bool compute_error, double p_scale) {
    return barnes_hut_kl_gradient(*p, p_scale, y, dims, dof, angle, grad, compute_error);
  };
}

}  // namespace

TsneResult tsne(const at::Tensor& data, const TsneOptions& options) {
  validate(data, options);
  const at::Tensor x = data.to(at::kFloat).contiguous();
  const int64_t n = x.size(0);
  const int dof = static_cast<int>(std::max<int64_t>(options.dimensions - 1, 1));
  const double learning_rate = options.learning_rate > 0
                                   ? options.learning_rate
                                   : std::max(static_cast<double>(n) / options.early_exaggeration / 4.0, 50.0);

  const Objective objective = make_objective(x, options, dof);
  std::vector<float> y = initial_embedding(x, options);

  std::optional<Progress> progress;
  if (options.progress) progress.emplace("t-SNE", options.iterations, "iterations");
  Progress* bar = progress ? &*progress : nullptr;
  StageResult result =
      descend(objective, y, {0, kExplorationIterations, kExplorationMomentum, kExplorationIterations,
                             options.early_exaggeration},
              learning_rate, options.min_grad_norm, bar);
  if (result.last < kExplorationIterations - 1 || options.iterations > kExplorationIterations)
    result = descend(objective, y,
                     {result.last + 1, options.iterations, kFinalMomentum, options.iterations_without_progress, 1.0},
                     learning_rate, options.min_grad_norm, bar);
  if (progress) progress->finish();

  TsneResult out;
  out.embedding = torch::from_blob(y.data(), {n, options.dimensions}, torch::kFloat).clone();
  out.kl_divergence = result.kl_divergence;
  out.iterations = result.last + 1;
  return out;
}

}  // namespace imret::viz
