#include "imret/rerank/reranker.hpp"

#include <torch/torch.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>

#include "imret/core/error.hpp"
#include "imret/rerank/methods.hpp"
#include "imret/search/search_params.hpp"

namespace imret::rerank {

Reordered Reranker::reorder(const at::Tensor& /*queries*/, const search::SearchResult& shortlist,
                            const search::Index& /*index*/) const {
  at::Tensor scores = shortlist.metric == search::Metric::Euclidean ? -shortlist.scores : shortlist.scores.clone();
  const int64_t depth = shortlist.ids.size(1);
  return {torch::arange(depth, torch::kLong).repeat({shortlist.ids.size(0), 1}), scores};
}

const char* method_names() { return "aqe, dba, kreciprocal, diffusion"; }

namespace {

// The parameters of one spec, with defaults, checked as they are read.
class Parameters {
 public:
  Parameters(std::string spec, const std::string& text, std::map<std::string, double> defaults)
      : spec_(std::move(spec)), values_(std::move(defaults)) {
    if (text.empty()) return;
    search::SearchParams given;
    try {
      given = search::parse_search_parameters(text);
    } catch (const UsageError&) {
      throw UsageError("re-ranking '" + spec_ + "': parameters are name=number, joined by ',' (e.g. aqe:k=2,alpha=3)");
    }
    for (const auto& [name, value] : given.entries()) {
      if (!values_.count(name)) {
        std::string valid;
        for (const auto& entry : values_) valid += (valid.empty() ? "" : ", ") + entry.first;
        throw UsageError("re-ranking '" + spec_ + "': unknown parameter '" + name + "' (valid: " + valid + ")");
      }
      values_[name] = value;
    }
  }
  int64_t count(const std::string& name, int64_t lowest, int64_t highest = 1000000) const {
    const double value = values_.at(name);
    if (value != std::floor(value) || value < static_cast<double>(lowest) || value > static_cast<double>(highest))
      throw UsageError("re-ranking '" + spec_ + "': " + name + " must be a whole number from " +
                       std::to_string(lowest) + " to " + std::to_string(highest));
    return static_cast<int64_t>(value);
  }
  double real(const std::string& name, double lowest, double highest, bool open_above = false) const {
    const double value = values_.at(name);
    if (!std::isfinite(value) || value < lowest || value > highest || (open_above && value >= highest))
      throw UsageError("re-ranking '" + spec_ + "': " + name + " must be in [" + format(lowest) + ", " +
                       format(highest) + (open_above ? ")" : "]"));
    return value;
  }

 private:
  static std::string format(double value) {
    char text[32];
    std::snprintf(text, sizeof text, "%g", value);
    return text;
  }
  std::string spec_;
  std::map<std::string, double> values_;
};

}  // namespace

std::unique_ptr<Reranker> make_reranker(const std::string& spec) {
  const size_t colon = spec.find(':');
  const std::string name = spec.substr(0, colon);
  const std::string text = colon == std::string::npos ? "" : spec.substr(colon + 1);
  if (name == "aqe") {
    const Parameters p(spec, text, {{"k", 2}, {"alpha", 3}});
    return std::make_unique<QueryExpansion>(p.count("k", 0, 10000), p.real("alpha", 0, 100));
  }
  if (name == "dba") {
    const Parameters p(spec, text, {{"k", 5}, {"alpha", 3}});
    return std::make_unique<DatabaseAugmentation>(p.count("k", 0, 10000), p.real("alpha", 0, 100));
  }
  if (name == "kreciprocal") {
    const Parameters p(spec, text, {{"k1", 20}, {"k2", 6}, {"lambda", 0.3}});
    return std::make_unique<KReciprocal>(p.count("k1", 1, 10000), p.count("k2", 1, 10000), p.real("lambda", 0, 1));
  }
  if (name == "diffusion") {
    const Parameters p(spec, text, {{"k", 50}, {"kq", 10}, {"alpha", 0.99}, {"gamma", 3}, {"iterations", 20}});
    return std::make_unique<Diffusion>(p.count("k", 1, 10000), p.count("kq", 1, 10000), p.real("alpha", 0, 1, true),
                                       p.real("gamma", 0, 100), p.count("iterations", 1, 10000));
  }
  throw UsageError("unknown re-ranking '" + spec + "' (methods: " + method_names() + ", or none)");
}

}  // namespace imret::rerank
