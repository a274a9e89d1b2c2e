#pragma once
// Per-call search parameters for FAISS indexes: SearchParams turned into
// FAISS's own faiss::SearchParameters structs (SearchParametersIVF,
// SearchParametersHNSW, SearchParametersPQ, wrapped in
// SearchParametersPreTransform under OPQ / PCA), so that one faiss::Index
// answers concurrent searches with different parameters without being
// changed. FaissIndex uses it; compiled only with IMRET_WITH_FAISS.
//
// FAISS 1.7.3 sizes an HNSW search's candidate list with the index's own
// efSearch even when SearchParametersHNSW gives another (fixed in FAISS 1.8,
// pull request 3233): a per-call efSearch would only half apply. HNSW
// searches with a per-call efSearch (HNSW indexes, and the HNSW quantizer of
// an IVF index) therefore run imret's own implementation of the HNSW search
// over FAISS's graph (hnsw_search in faiss_search.cpp), which gives what FAISS
// gives with the index's efSearch set to that value (tested against it).
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "imret/search/search_params.hpp"

namespace faiss {
struct Index;
struct RangeSearchResult;
}  // namespace faiss

namespace imret::search {

// The parameters `index` takes per search call:
//  - IVF: nprobe, max_codes (visit at most that many codes; 0: no limit),
//    efSearch when the coarse quantizer is an HNSW (FAISS's name for the
//    quantizer's efSearch, as faiss::ParameterSpace has it), and
//    quantizer_<name> for each name of the coarse quantizer
//    (quantizer_efSearch);
//  - HNSW (HNSW<M>, HNSW<M>_PQ<m>, HNSW<M>_SQ8 ...): efSearch;
//  - PQ: ht (the polysemous Hamming threshold);
//  - through a pre-transform (OPQ, PCA, ...): the transformed index's.
// Parameters FAISS 1.7.3 reads only from the index itself are not among them
// (the search names them as such): IVF-PQ's ht, IVFPQR's k_factor, refine's
// k_factor_rf, and every parameter under an IDMap, a refine, a fast-scan IVF
// or an HNSW2Level. Flat, SQ and LSH indexes have none.
std::vector<std::string> per_call_parameter_names(const faiss::Index& index);

// One search call's parameters for one FAISS index: the index's own settings
// (its saved parameters) with those the call gives in their place.
class FaissSearch {
 public:
  // `name`: the index in messages ("faiss:IVF256,Flat"). Throws UsageError
  // for a parameter `index` cannot take per call (naming the ones it can) or
  // a value out of range (nprobe and efSearch: whole numbers >= 1; max_codes
  // and ht: whole numbers >= 0, max_codes also inf).
  FaissSearch(const faiss::Index& index, const SearchParams& params, const std::string& name);
  ~FaissSearch();
  FaissSearch(const FaissSearch&) = delete;
  FaissSearch& operator=(const FaissSearch&) = delete;

  // faiss::Index::search and range_search of the index, with the parameters.
  // FAISS's exceptions pass through.
  void search(int64_t n, const float* x, int64_t k, float* distances, int64_t* labels) const;
  void range_search(int64_t n, const float* x, float radius, faiss::RangeSearchResult* result) const;

  struct Level;  // one index of the chain (pre-transform -> IVF -> quantizer), faiss_search.cpp

 private:
  const faiss::Index& index_;
  std::unique_ptr<Level> root_;  // null: no parameters, the index's own settings
};

}  // namespace imret::search
