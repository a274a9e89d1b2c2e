#pragma once
// Saved indexes as jobs: build one from an embedding folder, add another
// embedding folder to one, and index a database in memory for a search
// (`imret index build|add`, `imret search`).
#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "imret/core/embedding_set.hpp"
#include "imret/rerank/plan.hpp"
#include "imret/search/index.hpp"
#include "imret/search/search_params.hpp"

namespace imret::pipeline {

struct IndexFill {
  int64_t trained_on = 0;  // training points; 0 when the index needed none
  int64_t added = 0;
  double train_seconds = 0;
  double add_seconds = 0;
};

// Trains `index` when it needs it, on `train_size` vectors drawn with `seed`
// (0: all), then adds all `vectors`.
IndexFill train_and_add(search::Index& index, const at::Tensor& vectors, int64_t train_size, uint64_t seed);

// An index of `spec` (search::make_index) over `database`, trained on all of
// it when it needs training, with `parameters` set first; the vectors go
// through `plan`'s database-side methods (DBA) first.
std::unique_ptr<search::Index> index_in_memory(const EmbeddingSet& database, const std::string& spec,
                                               search::Metric metric, c10::Device device,
                                               const search::SearchParams& parameters = {},
                                               const rerank::Plan& plan = {});

// Checks that an index saved with `augmentation` (its manifest's) can run
// `plan`: the plan's database-side part must be the one the vectors went
// through. UsageError naming both otherwise.
void check_augmentation(const std::string& folder, const std::string& augmentation, const rerank::Plan& plan);

struct IndexBuildRequest {
  std::string embeddings;  // the embedding folder to index
  std::string spec = "exact";
  search::Metric metric = search::Metric::Euclidean;
  int64_t train_size = 0;  // vectors to train on (0: all)
  uint64_t seed = 0;       // of the training sample
  // Split into this many shards (search::ShardedIndex: contiguous parts of
  // the rows, searched in parallel and merged as one; 1: one index).
  int64_t shards = 1;
  // Set on the index before its vectors go in (build-time ones such as
  // efConstruction) and saved as its query-time defaults (nprobe...).
  search::SearchParams parameters;
  bool drop_nonfinite = false;  // leave out rows with NaN/inf (else refuse the folder)
  // Database-side re-ranking applied to the vectors before they are indexed
  // ("dba:k=5"; rerank::Plan syntax, database methods only).
  std::string augment;
  bool replace = false;         // an earlier index in the folder may be replaced
  std::string replace_hint;     // how the caller allows that, for the refusal's message
};

struct IndexBuildOutcome {
  IndexFill fill;
  std::string describe;  // the index, one line
  double seconds = 0;
};

// Builds the index of the request into `folder` under the output-folder
// contract. UsageError naming the folder when it has no embeddings.
IndexBuildOutcome build_index_folder(const IndexBuildRequest& request, const std::filesystem::path& folder);

struct IndexAddOutcome {
  int64_t added = 0;
  std::string describe;
  std::vector<std::string> warnings;  // e.g. the folders were embedded with other networks
};

// Adds the vectors of the `embeddings` folder to the index saved in `folder`
// and rewrites it whole, locked for the whole job (two adds at once would
// each lose the other's vectors). UsageError naming the embedding folder
// when it is empty or its dimension is not the index's; Error when the saved
// index is not trained.
IndexAddOutcome add_to_index_folder(const std::filesystem::path& folder, const std::string& embeddings,
                                    bool drop_nonfinite = false);

}  // namespace imret::pipeline
