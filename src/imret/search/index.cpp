#include "imret/search/index.hpp"

#include <torch/torch.h>

#include <algorithm>
#include <cctype>

#include "imret/core/error.hpp"
#include "imret/search/exact_index.hpp"
#include "imret/search/similarity.hpp"

namespace imret::search {

Metric parse_metric(const std::string& text) {
  std::string lower = text;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  if (lower == "euclidean" || lower == "l2") return Metric::Euclidean;
  if (lower == "cosine") return Metric::Cosine;
  throw UsageError("unknown metric '" + text + "': expected euclidean, l2 or cosine");
}

std::string to_string(Metric metric) { return metric == Metric::Cosine ? "cosine" : "euclidean"; }

std::unique_ptr<Index> make_index(const std::string& spec, c10::Device device) {
  const std::string valid = "exact, exact:l2, exact:euclidean, exact:cosine";
  if (spec == "exact") return std::make_unique<ExactIndex>(Metric::Euclidean, device);
  const std::string prefix = "exact:";
  if (spec.rfind(prefix, 0) == 0) {
    const std::string metric = spec.substr(prefix.size());
    if (metric == "l2" || metric == "euclidean") return std::make_unique<ExactIndex>(Metric::Euclidean, device);
    if (metric == "cosine") return std::make_unique<ExactIndex>(Metric::Cosine, device);
  }
  throw UsageError("unknown index '" + spec + "': valid indexes are " + valid);
}

at::Tensor similarity(const at::Tensor& queries, const at::Tensor& database, Metric metric) {
  check_embeddings(queries, "queries");
  const PreparedDatabase prepared = prepare_database(database, metric, database.device());
  return similarity_block(queries, prepared).to(torch::kCPU).contiguous();
}

}  // namespace imret::search
