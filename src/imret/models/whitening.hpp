#pragma once
// Whitening of embeddings, learned from a database and applied to it and to
// its queries: x -> normalise(P (x - m)), with P d x D (d <= D) and the
// result L2-normalised, as the retrieval literature uses it.
//   pca      PCA whitening: P = diag(1/sqrt(variance)) V^T over the top d
//            principal directions of the database (scikit-learn's
//            PCA(whiten=True), then L2);
//   learned  Radenovic et al.'s supervised whitening from matching pairs: P
//            first whitens the differences of matching pairs (S = E[dd^T],
//            P1 = chol(S)^-1), then rotates onto the principal directions of
//            the P1-whitened database; m is the mean of the pairs' first items.
//            The pairs are each labelled item with the next item of its class
//            (in the embeddings' order, the last with the first).
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace imret::models {

struct WhitenSpec {
  std::string method = "pca";  // pca | learned
  int64_t dim = 0;             // output dimensions (0: every direction with variance)

  std::string to_string() const;  // "pca", "learned:dim=32"
};

// "pca", "pca:dim=64", "learned:dim=64"; UsageError naming `option`.
WhitenSpec parse_whiten(const std::string& text, const std::string& option = "--whiten");

struct Whitening {
  std::string method;
  at::Tensor mean;        // D, float32
  at::Tensor projection;  // d x D, float32
  nlohmann::json info = nlohmann::json::object();  // how it was learned: items, pairs, ridge

  int64_t input_dim() const { return projection.size(1); }
  int64_t output_dim() const { return projection.size(0); }
  // N x D (any float type, any device) -> N x d float32, L2-normalised.
  at::Tensor apply(const at::Tensor& x) const;
  // A hash of the mean and projection: two files with the same one whiten alike.
  std::string fingerprint() const;
  // {"method", "input_dim", "dim", "fingerprint", ...info}: what meta.json records.
  nlohmann::json describe() const;
};

// Learns `spec` from the rows of `x` (N x D). `labels` (one per row, < 0:
// none) are needed by "learned". Errors say what is missing: too few rows,
// no pair of one class, a dim above the directions with variance.
Whitening learn_whitening(const WhitenSpec& spec, const at::Tensor& x, const std::vector<int64_t>& labels);

// safetensors with "mean" and "projection" and the description in its
// metadata ("imret_whitening"); written atomically.
void save_whitening(const std::filesystem::path& path, const Whitening& whitening);
// Errors name the file: missing, not a whitening, shapes that do not fit.
Whitening load_whitening(const std::filesystem::path& path);

}  // namespace imret::models
