#include "imret/models/whitening.hpp"

#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <cmath>
#include <cstdio>
#include <algorithm>
#include <map>

#include "imret/core/error.hpp"
#include "imret/core/named_spec.hpp"
#include "imret/core/safetensors.hpp"

namespace imret::models {

namespace {

constexpr double kRank = 1e-9;  // a direction with less variance than this share of the largest has none

// The eigen-decomposition of a symmetric matrix, largest eigenvalue first.
std::pair<torch::Tensor, torch::Tensor> eigen_descending(const torch::Tensor& symmetric) {
  auto [values, vectors] = torch::linalg_eigh((symmetric + symmetric.t()) / 2);
  return {values.flip(0), vectors.flip(1)};
}

// How many of the eigenvalues have variance, and the dim asked for within that.
int64_t kept_directions(const torch::Tensor& values, int64_t dim, const std::string& spec) {
  const double largest = values[0].item<double>();
  const int64_t rank = largest > 0 ? (values > largest * kRank).sum().item<int64_t>() : 0;
  if (rank == 0) throw UsageError("--whiten " + spec + ": the embeddings do not vary (every row is the same)");
  if (dim > rank)
    throw UsageError("--whiten " + spec + ": dim=" + std::to_string(dim) + ", but the embeddings vary in only " +
                     std::to_string(rank) + " directions (use dim <= " + std::to_string(rank) + ")");
  return dim > 0 ? dim : rank;
}

Whitening finished(const std::string& method, const torch::Tensor& mean, const torch::Tensor& projection,
                   nlohmann::json info) {
  Whitening w;
  w.method = method;
  w.mean = mean.to(torch::kFloat).contiguous();
  w.projection = projection.to(torch::kFloat).contiguous();
  w.info = std::move(info);
  return w;
}

Whitening learn_pca(const WhitenSpec& spec, const torch::Tensor& x) {
  const int64_t n = x.size(0);
  if (n < 2) throw UsageError("--whiten " + spec.to_string() + ": PCA whitening needs at least 2 embeddings");
  const torch::Tensor mean = x.mean(0);
  const torch::Tensor centred = x - mean;
  const torch::Tensor covariance = centred.t().mm(centred) / static_cast<double>(n - 1);
  auto [values, vectors] = eigen_descending(covariance);
  const int64_t d = kept_directions(values, spec.dim, spec.to_string());
  const torch::Tensor projection = vectors.slice(1, 0, d).t() / values.slice(0, 0, d).sqrt().unsqueeze(1);
  return finished("pca", mean, projection, {{"items", n}});
}

// Each labelled row with the next row of its class (the last with the first).
std::pair<std::vector<int64_t>, std::vector<int64_t>> matching_pairs(const std::vector<int64_t>& labels) {
  std::map<int64_t, std::vector<int64_t>> by_class;
  for (size_t i = 0; i < labels.size(); ++i)
    if (labels[i] >= 0) by_class[labels[i]].push_back(static_cast<int64_t>(i));
  std::vector<int64_t> first, second;
  for (size_t i = 0; i < labels.size(); ++i) {
    if (labels[i] < 0) continue;
    const std::vector<int64_t>& members = by_class[labels[i]];
    if (members.size() < 2) continue;
    const size_t at = static_cast<size_t>(std::lower_bound(members.begin(), members.end(), static_cast<int64_t>(i)) -
                                          members.begin());
    first.push_back(static_cast<int64_t>(i));
    second.push_back(members[(at + 1) % members.size()]);
  }
  return {first, second};
}

Whitening learn_supervised(const WhitenSpec& spec, const torch::Tensor& x, const std::vector<int64_t>& labels) {
  const std::string name = spec.to_string();
  if (static_cast<int64_t>(labels.size()) != x.size(0))
    throw Error("--whiten " + name + ": " + std::to_string(labels.size()) + " labels for " +
                std::to_string(x.size(0)) + " embeddings");
  auto [first, second] = matching_pairs(labels);
  const int64_t dims = x.size(1);
  if (first.empty())
    throw UsageError("--whiten " + name + ": learned whitening needs labelled items, two or more of one class "
                     "(the data has none; use --whiten pca)");
  // The pairs' D x D scatter needs more pairs than dimensions; with fewer, every direction the
  // pairs do not span would be scaled up without bound and swamp the descriptor.
  if (static_cast<int64_t>(first.size()) <= dims)
    throw UsageError("--whiten " + name + ": learned whitening needs more matching pairs than dimensions (" +
                     std::to_string(first.size()) + " pairs of same-class items, " + std::to_string(dims) +
                     " dimensions); use pca:dim=D, or more labelled items");
  const torch::Tensor a = x.index_select(0, torch::tensor(first)), b = x.index_select(0, torch::tensor(second));
  const torch::Tensor mean = a.mean(0);
  const torch::Tensor differences = a - b;
  torch::Tensor scatter = differences.t().mm(differences) / static_cast<double>(differences.size(0));
  // Matching pairs that never differ along some direction (fewer pairs than
  // dimensions, dead units) leave the scatter singular: a small ridge keeps the
  // Cholesky factor defined, and is recorded.
  double ridge = 0;
  torch::Tensor factor, status;
  std::tie(factor, status) = torch::linalg_cholesky_ex(scatter);
  // A rank-deficient scatter may still factor, with pivots that are rounding noise: those
  // directions would be scaled up a million-fold. Treat it as singular too.
  const auto degenerate = [&] {
    if (status.item<int64_t>() != 0) return true;
    const torch::Tensor pivots = factor.diagonal().pow(2);
    return pivots.min().item<double>() < 1e-9 * pivots.max().item<double>();
  };
  if (degenerate()) {
    ridge = 1e-6 * scatter.diagonal().mean().item<double>();
    if (!(ridge > 0)) ridge = 1e-12;
    std::tie(factor, status) = torch::linalg_cholesky_ex(scatter + ridge * torch::eye(dims, scatter.options()));
    if (status.item<int64_t>() != 0)
      throw Error("--whiten " + name + ": the matching pairs' differences could not be whitened");
    spdlog::warn("--whiten {}: the matching pairs do not differ along every direction; added a ridge of {:.3g} to "
                 "their scatter", name, ridge);
  }
  const torch::Tensor whiten_pairs = torch::linalg_inv(factor);
  const torch::Tensor projected = (x - mean).mm(whiten_pairs.t());
  auto [values, vectors] = eigen_descending(projected.t().mm(projected));
  const int64_t d = kept_directions(values, spec.dim, name);
  const torch::Tensor projection = vectors.slice(1, 0, d).t().mm(whiten_pairs);
  nlohmann::json info = {{"items", x.size(0)}, {"pairs", static_cast<int64_t>(first.size())}};
  if (ridge > 0) info["ridge"] = ridge;
  return finished("learned", mean, projection, info);
}

uint64_t fnv1a(const torch::Tensor& t, uint64_t hash) {
  const torch::Tensor c = t.contiguous();
  const auto* bytes = static_cast<const unsigned char*>(c.data_ptr());
  for (size_t i = 0; i < static_cast<size_t>(c.nbytes()); ++i) hash = (hash ^ bytes[i]) * 1099511628211ULL;
  return hash;
}

}  // namespace

std::string WhitenSpec::to_string() const {
  return dim > 0 ? method + ":dim=" + std::to_string(dim) : method;
}

WhitenSpec parse_whiten(const std::string& text, const std::string& option) {
  const std::string name = text.substr(0, text.find(':'));
  std::map<std::string, double> defaults;
  if (name == "pca") defaults = {{"dim", 0}};
  else if (name == "learned") defaults = {{"dim", 0}};
  else throw UsageError(option + " '" + text + "': unknown whitening (known: pca, learned)");
  const NamedSpec parsed = parse_named_spec(text, option, defaults);
  WhitenSpec spec;
  spec.method = name;
  for (const auto& [key, value] : parsed.values)
    if (value != std::floor(value) || value < 0 || value > 1e9)
      throw UsageError(option + " '" + text + "': " + key + " must be a whole number, 0 or more");
  spec.dim = static_cast<int64_t>(parsed.values.at("dim"));
  return spec;
}

Whitening learn_whitening(const WhitenSpec& spec, const at::Tensor& x_in, const std::vector<int64_t>& labels) {
  if (x_in.dim() != 2 || x_in.size(0) == 0) throw UsageError("--whiten " + spec.to_string() + ": no embeddings to learn from");
  torch::NoGradGuard no_grad;
  const torch::Tensor x = x_in.to(torch::kCPU, torch::kDouble);
  return spec.method == "learned" ? learn_supervised(spec, x, labels) : learn_pca(spec, x);
}

at::Tensor Whitening::apply(const at::Tensor& x) const {
  if (x.dim() != 2 || x.size(1) != input_dim())
    throw UsageError("whitening (" + method + ") takes " + std::to_string(input_dim()) + "-d embeddings, got " +
                     (x.dim() == 2 ? std::to_string(x.size(1)) + "-d" : std::to_string(x.dim()) + "-D input"));
  const torch::Tensor p = projection.to(x.device()), m = mean.to(x.device());
  const torch::Tensor y = (x.to(torch::kFloat) - m).mm(p.t());
  return y / y.norm(2, 1, true).clamp_min(1e-12);
}

std::string Whitening::fingerprint() const {
  const uint64_t hash = fnv1a(projection, fnv1a(mean, 14695981039346656037ULL));
  char text[20];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(hash));
  return text;
}

nlohmann::json Whitening::describe() const {
  nlohmann::json json = {{"method", method}, {"input_dim", input_dim()}, {"dim", output_dim()},
                         {"fingerprint", fingerprint()}};
  for (const auto& [key, value] : info.items()) json[key] = value;
  return json;
}

void save_whitening(const std::filesystem::path& path, const Whitening& whitening) {
  save_safetensors(path, {{"mean", whitening.mean}, {"projection", whitening.projection}},
                   {{"imret_whitening", nlohmann::json{{"method", whitening.method}, {"info", whitening.info}}.dump()}});
}

Whitening load_whitening(const std::filesystem::path& path) {
  if (!std::filesystem::exists(path))
    throw Error(path.string() + ": no such whitening file (it is written by imret embed --whiten)");
  TensorFile file = load_safetensors(path);
  const auto described = file.metadata.find("imret_whitening");
  if (described == file.metadata.end())
    throw Error(path.string() + ": not a whitening file (no \"imret_whitening\" in its metadata)");
  Whitening w;
  try {
    const nlohmann::json json = nlohmann::json::parse(described->second);
    w.method = json.at("method").get<std::string>();
    w.info = json.value("info", nlohmann::json::object());
  } catch (const nlohmann::json::exception& e) {
    throw Error(path.string() + ": malformed \"imret_whitening\" metadata (" + std::string(e.what()) + ")");
  }
  for (auto& [name, tensor] : file.tensors) {
    if (name == "mean") w.mean = tensor.to(torch::kFloat).contiguous();
    else if (name == "projection") w.projection = tensor.to(torch::kFloat).contiguous();
  }
  if (!w.mean.defined() || !w.projection.defined() || w.mean.dim() != 1 || w.projection.dim() != 2 ||
      w.projection.size(1) != w.mean.size(0) || w.projection.size(0) < 1)
    throw Error(path.string() + ": a whitening file needs \"mean\" (D) and \"projection\" (d x D)");
  return w;
}

}  // namespace imret::models
