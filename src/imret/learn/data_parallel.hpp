#pragma once
// The pieces of a data-parallel training run (several processes over c10d,
// dist/) that are not in the step or the objective (training_loop.hpp's
// StandardStep, Objective::gather_across):
//   in_step_across_ranks  a batch source whose ranks are checked to train on
//                         the same planned batch at every step;
//   split_embedding       each rank embeds its part of a dataset, every rank
//                         gets all of it (validation);
//   statistics_sum        batch norm over the whole batch (sync_batch_norm).
#include <functional>
#include <memory>

#include "imret/data/dataset.hpp"
#include "imret/learn/batch_source.hpp"
#include "imret/models/batch_norm.hpp"
#include "imret/models/embed.hpp"

namespace imret::dist {
class Communicator;
}

namespace imret::learn {

// `source`, with every next() agreed between the ranks: each says which
// planned batch it has (or that its epoch ended); when they differ (a rank's
// part held only unreadable images and was skipped), every rank throws the
// same imret::Error naming the rank and the batch, instead of a collective
// that would wait for ever.
std::unique_ptr<BatchSource> in_step_across_ranks(std::unique_ptr<BatchSource> source,
                                                  std::shared_ptr<dist::Communicator> group);

// embed(part) on this rank's contiguous part of `dataset` (part_of), then
// the parts gathered in rank order: every rank returns the embeddings of the
// whole dataset, as one process would (indices into `dataset`).
models::Embeddings split_embedding(
    dist::Communicator& group, const std::shared_ptr<const data::Dataset>& dataset,
    const std::function<models::Embeddings(std::shared_ptr<const data::Dataset>)>& embed);

// Sums over the ranks for synchronised batch norm (models::synchronize_batch_norm):
// the forward all-reduces the local sums, the backward all-reduces their
// gradients (each rank's backward holds its own rows' share of them).
std::shared_ptr<models::BatchStatisticsSum> statistics_sum(std::shared_ptr<dist::Communicator> group);

}  // namespace imret::learn
