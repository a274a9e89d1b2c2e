#include "imret/search/faiss_search.hpp"

#include <ATen/Parallel.h>
#include <faiss/IndexHNSW.h>
#include <faiss/IndexIDMap.h>
#include <faiss/IndexIVF.h>
#include <faiss/IndexIVFFastScan.h>
#include <faiss/IndexIVFPQ.h>
#include <faiss/IndexIVFPQR.h>
#include <faiss/IndexPQ.h>
#include <faiss/IndexPreTransform.h>
#include <faiss/IndexRefine.h>
#include <faiss/impl/AuxIndexStructures.h>
#include <faiss/impl/DistanceComputer.h>
#include <faiss/impl/FaissException.h>
#include <faiss/impl/HNSW.h>
#include <faiss/utils/Heap.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <optional>
#include <sstream>

#include "imret/core/error.hpp"

namespace imret::search {

namespace {

using idx_t = faiss::Index::idx_t;
static_assert(sizeof(idx_t) == sizeof(int64_t), "FAISS ids are 64-bit");

// An IVF index that takes SearchParametersIVF (FAISS 1.7.3's fast-scan IVF
// indexes refuse search parameters).
const faiss::IndexIVF* as_ivf(const faiss::Index& index) {
  const auto* ivf = dynamic_cast<const faiss::IndexIVF*>(&index);
  return ivf && !dynamic_cast<const faiss::IndexIVFFastScan*>(ivf) ? ivf : nullptr;
}

// An HNSW index that hnsw_search searches as FAISS does: the index_factory
// kinds (flat, PQ or SQ storage) with FAISS's default search settings.
// HNSW2Level has a search of its own, which takes no parameters.
const faiss::IndexHNSW* as_hnsw(const faiss::Index& index) {
  const auto* hnsw = dynamic_cast<const faiss::IndexHNSW*>(&index);
  if (!hnsw || dynamic_cast<const faiss::IndexHNSW2Level*>(hnsw) || !hnsw->storage ||
      hnsw->reconstruct_from_neighbors || hnsw->hnsw.upper_beam != 1 || !hnsw->hnsw.search_bounded_queue)
    return nullptr;
  return hnsw;
}

const faiss::IndexHNSW* hnsw_quantizer(const faiss::IndexIVF& ivf) { return as_hnsw(*ivf.quantizer); }

// The parameter names of an index: `per_call` those a search call can give,
// `saved_only` those FAISS 1.7.3 reads only from the index itself
// (faiss::ParameterSpace sets them; no SearchParameters carries them through).
struct Names {
  std::vector<std::string> per_call;
  std::vector<std::string> saved_only;
};

// faiss::ParameterSpace's names, through the same wrappers; `per_call_ok`:
// false below a wrapper that takes no SearchParameters.
void collect_names(const faiss::Index& index, const std::string& prefix, bool per_call_ok, Names& names) {
  auto add = [&](const std::string& name, bool per_call) {
    (per_call && per_call_ok ? names.per_call : names.saved_only).push_back(prefix + name);
  };
  if (const auto* pre = dynamic_cast<const faiss::IndexPreTransform*>(&index)) {
    collect_names(*pre->index, prefix, per_call_ok, names);
  } else if (const auto* id_map = dynamic_cast<const faiss::IndexIDMap*>(&index)) {
    collect_names(*id_map->index, prefix, false, names);
  } else if (const auto* refine = dynamic_cast<const faiss::IndexRefine*>(&index)) {
    add("k_factor_rf", false);
    collect_names(*refine->base_index, prefix, false, names);
  } else if (const auto* ivf = dynamic_cast<const faiss::IndexIVF*>(&index)) {
    const bool takes = as_ivf(index) != nullptr;
    add("nprobe", takes);
    add("max_codes", takes);
    if (dynamic_cast<const faiss::IndexIVFPQ*>(ivf)) add("ht", false);  // its scanner reads the index's
    if (dynamic_cast<const faiss::IndexIVFPQR*>(ivf)) add("k_factor", false);
    if (dynamic_cast<const faiss::IndexHNSW*>(ivf->quantizer)) add("efSearch", takes && hnsw_quantizer(*ivf));
    collect_names(*ivf->quantizer, prefix + "quantizer_", per_call_ok && takes, names);
  } else if (dynamic_cast<const faiss::IndexHNSW*>(&index)) {
    add("efSearch", as_hnsw(index) != nullptr);
  } else if (dynamic_cast<const faiss::IndexPQ*>(&index)) {
    add("ht", true);
  }
}

Names names_of(const faiss::Index& index) {
  Names names;
  collect_names(index, "", true, names);
  return names;
}

// The call's parameters, read as FAISS's integer fields.
class Values {
 public:
  Values(SearchParams params, std::string index) : params_(std::move(params)), index_(std::move(index)) {}

  // A whole number >= `minimum` (and <= INT_MAX: FAISS keeps them in ints).
  std::optional<int> whole(const std::string& name, int minimum) const {
    const std::optional<double> value = params_.get(name);
    if (!value) return std::nullopt;
    if (!(*value >= minimum && *value <= INT_MAX && std::floor(*value) == *value)) out_of_range(name, *value, minimum);
    return static_cast<int>(*value);
  }
  // max_codes: a whole number >= 0, or inf for no limit (FAISS's 0), as
  // faiss::ParameterSpace reads it.
  std::optional<size_t> max_codes(const std::string& name) const {
    const std::optional<double> value = params_.get(name);
    if (value && std::isinf(*value) && *value > 0) return size_t{0};
    if (!value) return std::nullopt;
    if (!(*value >= 0 && *value <= 1e15 && std::floor(*value) == *value)) out_of_range(name, *value, 0);
    return static_cast<size_t>(*value);
  }
  // `alias` stands for `name` when `name` is not given.
  Values with_alias(const std::string& name, const std::string& alias) const {
    Values copy = *this;
    if (!params_.contains(name) && params_.contains(alias)) copy.params_.set(name, *params_.get(alias));
    return copy;
  }

 private:
  [[noreturn]] void out_of_range(const std::string& name, double value, int minimum) const {
    std::ostringstream got;
    got << value;
    throw UsageError(index_ + ": " + name + " must be a whole number >= " + std::to_string(minimum) + " (got " +
                     got.str() + ")");
  }

  SearchParams params_;
  std::string index_;
};

// Owns the queries a pre-transform's chain made (FAISS returns `x` itself
// for an empty chain).
class TransformedQueries {
 public:
  TransformedQueries(const faiss::IndexPreTransform& pre, idx_t n, const float* x)
      : x_(x), data_(pre.apply_chain(n, x)) {}
  ~TransformedQueries() {
    if (data_ != x_) delete[] data_;
  }
  TransformedQueries(const TransformedQueries&) = delete;
  TransformedQueries& operator=(const TransformedQueries&) = delete;
  const float* data() const { return data_; }

 private:
  const float* x_;
  const float* data_;
};

// -------- HNSW search: FAISS 1.7.3's loop (IndexHNSW::search, HNSW::search
// with upper_beam 1 and a bounded queue, greedy_update_nearest,
// search_from_candidates) with the candidate list sized by the call's
// efSearch, as FAISS 1.8 does.

// The distances HNSW minimises: an inner-product storage's similarities negated.
class NegatedDistance : public faiss::DistanceComputer {
 public:
  explicit NegatedDistance(std::unique_ptr<faiss::DistanceComputer> base) : base_(std::move(base)) {}
  void set_query(const float* x) override { base_->set_query(x); }
  float operator()(idx_t i) override { return -(*base_)(i); }
  float symmetric_dis(idx_t i, idx_t j) override { return -base_->symmetric_dis(i, j); }

 private:
  std::unique_ptr<faiss::DistanceComputer> base_;
};

std::unique_ptr<faiss::DistanceComputer> hnsw_distance(const faiss::IndexHNSW& index) {
  std::unique_ptr<faiss::DistanceComputer> base(index.storage->get_distance_computer());
  if (index.storage->metric_type != faiss::METRIC_INNER_PRODUCT) return base;
  return std::make_unique<NegatedDistance>(std::move(base));
}

using Node = faiss::HNSW::storage_idx_t;

// Walks an upper level of the graph to the node nearest the query.
void descend(const faiss::HNSW& hnsw, faiss::DistanceComputer& distance, int level, Node& nearest, float& d_nearest) {
  for (;;) {
    const Node previous = nearest;
    size_t begin = 0, end = 0;
    hnsw.neighbor_range(nearest, level, &begin, &end);
    for (size_t i = begin; i < end; ++i) {
      const Node v = hnsw.neighbors[i];
      if (v < 0) break;
      const float d = distance(v);
      if (d < d_nearest) {
        nearest = v;
        d_nearest = d;
      }
    }
    if (nearest == previous) return;
  }
}

// Best-first search of level 0 from `candidates`, keeping the k nearest in
// the max-heap (ids, distances).
void search_base_level(const faiss::HNSW& hnsw, faiss::DistanceComputer& distance, const faiss::SearchParametersHNSW& params,
                       faiss::HNSW::MinimaxHeap& candidates, faiss::VisitedTable& visited, idx_t k, idx_t* ids,
                       float* distances) {
  size_t found = 0;
  auto keep = [&](Node v, float d) {
    if (found < static_cast<size_t>(k)) faiss::maxheap_push(++found, distances, ids, d, static_cast<idx_t>(v));
    else if (d < distances[0]) faiss::maxheap_replace_top(found, distances, ids, d, static_cast<idx_t>(v));
  };
  for (int i = 0; i < candidates.size(); ++i) {
    keep(candidates.ids[i], candidates.dis[i]);
    visited.set(candidates.ids[i]);
  }
  int steps = 0;
  while (candidates.size() > 0) {
    float d0 = 0;
    const Node v0 = candidates.pop_min(&d0);
    // More than efSearch candidates nearer than the one to expand: done.
    if (params.check_relative_distance && candidates.count_below(d0) >= params.efSearch) break;
    size_t begin = 0, end = 0;
    hnsw.neighbor_range(v0, 0, &begin, &end);
    for (size_t j = begin; j < end; ++j) {
      const Node v = hnsw.neighbors[j];
      if (v < 0) break;
      if (visited.get(v)) continue;
      visited.set(v);
      const float d = distance(v);
      keep(v, d);
      candidates.push(v, d);
    }
    if (!params.check_relative_distance && ++steps > params.efSearch) break;
  }
}

void hnsw_search(const faiss::IndexHNSW& index, const faiss::SearchParametersHNSW& params, idx_t n, const float* x,
                 idx_t k, float* distances, idx_t* labels) {
  const faiss::HNSW& hnsw = index.hnsw;
  const int candidate_list = static_cast<int>(std::max<idx_t>(params.efSearch, k));
  at::parallel_for(0, n, 1, [&](int64_t first, int64_t last) {
    faiss::VisitedTable visited(static_cast<int>(index.ntotal));
    const std::unique_ptr<faiss::DistanceComputer> distance = hnsw_distance(index);
    for (int64_t q = first; q < last; ++q) {
      idx_t* ids = labels + q * k;
      float* dis = distances + q * k;
      distance->set_query(x + q * index.d);
      faiss::maxheap_heapify(static_cast<size_t>(k), dis, ids);
      if (hnsw.entry_point != -1) {
        Node nearest = hnsw.entry_point;
        float d_nearest = (*distance)(nearest);
        for (int level = hnsw.max_level; level >= 1; --level) descend(hnsw, *distance, level, nearest, d_nearest);
        faiss::HNSW::MinimaxHeap candidates(candidate_list);
        candidates.push(nearest, d_nearest);
        search_base_level(hnsw, *distance, params, candidates, visited, k, ids, dis);
        visited.advance();
      }
      faiss::maxheap_reorder(static_cast<size_t>(k), dis, ids);
    }
  });
  if (index.metric_type == faiss::METRIC_INNER_PRODUCT)
    for (idx_t i = 0; i < n * k; ++i) distances[i] = -distances[i];
}

}  // namespace

// One index of the chain, with the parameters of the call for it. `own_loop`:
// this index or one below needs hnsw_search, so FAISS's search of this index
// cannot be used; this level's search does FAISS's steps with the level
// below's search in place.
struct FaissSearch::Level {
  const faiss::Index* index = nullptr;
  std::unique_ptr<faiss::SearchParameters> params;
  std::unique_ptr<Level> inner;  // a pre-transform's index, an IVF's coarse quantizer
  bool own_loop = false;

  // The level for `index` from the parameters named `prefix` + name; null
  // when none of them is given (the index's own settings apply).
  static std::unique_ptr<Level> make(const faiss::Index& index, const std::string& prefix, const Values& values);

  void search(idx_t n, const float* x, idx_t k, float* distances, idx_t* labels) const {
    if (!own_loop) return index->search(n, x, k, distances, labels, params.get());
    if (const auto* pre = dynamic_cast<const faiss::IndexPreTransform*>(index)) {
      const TransformedQueries xt(*pre, n, x);
      return inner->search(n, xt.data(), k, distances, labels);
    }
    if (const auto* ivf = dynamic_cast<const faiss::IndexIVF*>(index)) {
      const auto& ivf_params = static_cast<const faiss::SearchParametersIVF&>(*params);
      const Coarse coarse = assign(*ivf, ivf_params, n, x);
      faiss::IndexIVFStats stats;  // FAISS's global ones would be written from every thread
      ivf->search_preassigned(n, x, k, coarse.lists.data(), coarse.distances.data(), distances, labels, false,
                              &ivf_params, &stats);
      return;
    }
    hnsw_search(static_cast<const faiss::IndexHNSW&>(*index), static_cast<const faiss::SearchParametersHNSW&>(*params),
                n, x, k, distances, labels);
  }

  void range_search(idx_t n, const float* x, float radius, faiss::RangeSearchResult* result) const {
    if (!own_loop) return index->range_search(n, x, radius, result, params.get());
    if (const auto* pre = dynamic_cast<const faiss::IndexPreTransform*>(index)) {
      const TransformedQueries xt(*pre, n, x);
      return inner->range_search(n, xt.data(), radius, result);
    }
    if (const auto* ivf = dynamic_cast<const faiss::IndexIVF*>(index)) {
      const auto& ivf_params = static_cast<const faiss::SearchParametersIVF&>(*params);
      const Coarse coarse = assign(*ivf, ivf_params, n, x);
      faiss::IndexIVFStats stats;
      ivf->range_search_preassigned(n, x, radius, coarse.lists.data(), coarse.distances.data(), result, false,
                                    &ivf_params, &stats);
      return;
    }
    throw faiss::FaissException("range search not implemented");  // HNSW, as FAISS says
  }

 private:
  // The nprobe nearest inverted lists of each query (IndexIVF::search's
  // first step), from the quantizer's level.
  struct Coarse {
    std::vector<idx_t> lists;
    std::vector<float> distances;
  };
  Coarse assign(const faiss::IndexIVF& ivf, const faiss::SearchParametersIVF& ivf_params, idx_t n,
                const float* x) const {
    const idx_t nprobe = static_cast<idx_t>(std::min(ivf.nlist, ivf_params.nprobe));
    Coarse coarse{std::vector<idx_t>(static_cast<size_t>(n * nprobe)), std::vector<float>(static_cast<size_t>(n * nprobe))};
    inner->search(n, x, nprobe, coarse.distances.data(), coarse.lists.data());
    ivf.invlists->prefetch_lists(coarse.lists.data(), static_cast<int>(n * nprobe));
    return coarse;
  }
};

std::unique_ptr<FaissSearch::Level> FaissSearch::Level::make(const faiss::Index& index, const std::string& prefix,
                                                            const Values& values) {
  auto level = std::make_unique<Level>();
  level->index = &index;
  if (const auto* pre = dynamic_cast<const faiss::IndexPreTransform*>(&index)) {
    level->inner = make(*pre->index, prefix, values);
    if (!level->inner) return nullptr;
    auto params = std::make_unique<faiss::SearchParametersPreTransform>();
    params->index_params = level->inner->params.get();
    level->params = std::move(params);
    level->own_loop = level->inner->own_loop;
    return level;
  }
  if (const auto* ivf = as_ivf(index)) {
    const std::string quantizer = prefix + "quantizer_";
    level->inner = make(*ivf->quantizer, quantizer,
                        hnsw_quantizer(*ivf) ? values.with_alias(quantizer + "efSearch", prefix + "efSearch") : values);
    const std::optional<int> nprobe = values.whole(prefix + "nprobe", 1);
    const std::optional<size_t> max_codes = values.max_codes(prefix + "max_codes");
    if (!nprobe && !max_codes && !level->inner) return nullptr;
    auto params = std::make_unique<faiss::SearchParametersIVF>();
    params->nprobe = nprobe ? static_cast<size_t>(*nprobe) : ivf->nprobe;
    params->max_codes = max_codes.value_or(ivf->max_codes);
    params->quantizer_params = level->inner ? level->inner->params.get() : nullptr;
    level->params = std::move(params);
    level->own_loop = level->inner && level->inner->own_loop;
    return level;
  }
  if (const auto* hnsw = as_hnsw(index)) {
    const std::optional<int> ef = values.whole(prefix + "efSearch", 1);
    if (!ef) return nullptr;
    auto params = std::make_unique<faiss::SearchParametersHNSW>();
    params->efSearch = *ef;
    params->check_relative_distance = hnsw->hnsw.check_relative_distance;
    level->params = std::move(params);
    level->own_loop = true;
    return level;
  }
  if (const auto* pq = dynamic_cast<const faiss::IndexPQ*>(&index)) {
    const std::optional<int> ht = values.whole(prefix + "ht", 0);
    if (!ht) return nullptr;
    auto params = std::make_unique<faiss::SearchParametersPQ>();
    // faiss::ParameterSpace's rule: all the code's bits or more is plain PQ search.
    const bool plain = static_cast<size_t>(*ht) >= pq->pq.code_size * 8;
    params->search_type = plain ? faiss::IndexPQ::ST_PQ : faiss::IndexPQ::ST_polysemous;
    params->polysemous_ht = plain ? pq->polysemous_ht : *ht;
    level->params = std::move(params);
    return level;
  }
  return nullptr;
}

std::vector<std::string> per_call_parameter_names(const faiss::Index& index) { return names_of(index).per_call; }

FaissSearch::FaissSearch(const faiss::Index& index, const SearchParams& params, const std::string& name)
    : index_(index) {
  const Names names = names_of(index);
  check_search_params(name, params, names.per_call, names.saved_only);
  if (!params.empty()) root_ = Level::make(index, "", Values(params, name));
}

FaissSearch::~FaissSearch() = default;

void FaissSearch::search(int64_t n, const float* x, int64_t k, float* distances, int64_t* labels) const {
  if (root_) root_->search(n, x, k, distances, labels);
  else index_.search(n, x, k, distances, labels);
}

void FaissSearch::range_search(int64_t n, const float* x, float radius, faiss::RangeSearchResult* result) const {
  if (root_) root_->range_search(n, x, radius, result);
  else index_.range_search(n, x, radius, result);
}

}  // namespace imret::search
