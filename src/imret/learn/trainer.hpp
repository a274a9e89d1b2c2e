#pragma once
// Training an embedding network: a classifier whose penultimate layer becomes
// the retrieval embedding (cross-entropy), or a metric-learning loss on P x K
// batches (see objective.hpp). Adam or SGD, an LR schedule, gradient
// clipping, per-epoch validation on a stratified held-out part (accuracy,
// and retrieval P@1 / mAP@R of the held-out items among themselves), early
// stopping, checkpoints and resume.
//
// Multi-label data (dataset->has_objects(), COCO): the objective compares
// object counts (data::Batch::objects) under the config's label relation
// (positive_overlap, negatives), P x K batches come from
// data::MultiLabelPKSampler, and validation ranks the held-out images with
// eval::ObjectRelevance in Selection mode (relevant = shares a class).
// Classification trains one yes/no per class (binary cross-entropy).
// Offline tuples need single-label data (UsageError).
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <vector>

#include "imret/data/dataset.hpp"
#include "imret/learn/train_config.hpp"
#include "imret/learn/training_loop.hpp"
#include "imret/search/index.hpp"

namespace imret::dist {
class Communicator;
}

namespace imret::learn {

struct TrainResult {
  std::filesystem::path last_checkpoint;
  std::filesystem::path best_checkpoint;  // best validation mAP@R (last epoch without validation)
  std::vector<EpochRecord> history;
  int64_t bad_images = 0;
};

// How the embeddings of a run are best compared: by angle (cosine) for
// classification features and L2-normalised metric-learning embeddings, by
// Euclidean distance for raw metric-learning embeddings and a learned
// (Mahalanobis) distance: the distance descriptor's metrics (registry.hpp).
search::Metric retrieval_metric(const TrainConfig& config);

// Trains on `dataset` into `run_dir` (checkpoints/last.safetensors,
// checkpoints/best.safetensors, train_log.csv): the training loop of
// training_loop.hpp with the config's batch source (batch_source.hpp), the
// standard step and the standard hooks (training_hooks.hpp). With `resume_from`, loads that
// checkpoint and its optimizer state and continues after its epoch up to
// config.epochs (the rest of the configuration must match the checkpoint's).
//
// Data-parallel (`group`: this process's place among several, dist/): every
// rank calls this with the same configuration and data. Each trains on its
// part of every batch (BatchPart), the objective sees the gathered global
// batch, gradients are summed over the ranks (StandardStep), validation is
// split (ValidationHook); the result equals one process training on the
// whole batches, but for batch norm, which normalises each rank's part with
// its own statistics (running statistics follow rank 0). Rank 0 alone writes
// `run_dir` and logs the epochs; the others write nothing. A resumed run may
// have another number of ranks: the batches are planned for the world, not
// per rank. SettingError when a batch has fewer entries than ranks.
TrainResult train_embedding(const TrainConfig& config, std::shared_ptr<const data::Dataset> dataset,
                             const std::filesystem::path& run_dir, const std::filesystem::path& resume_from = {},
                             std::shared_ptr<dist::Communicator> group = nullptr);

}  // namespace imret::learn
