#include "imret/learn/data_parallel.hpp"

#include <torch/torch.h>

#include <numeric>

#include "imret/core/error.hpp"
#include "imret/dist/communicator.hpp"

namespace imret::learn {
namespace {

class RankAlignedBatches : public BatchSource {
 public:
  RankAlignedBatches(std::unique_ptr<BatchSource> source, std::shared_ptr<dist::Communicator> group)
      : source_(std::move(source)), group_(std::move(group)) {}

  int64_t start_epoch(int64_t epoch) override { return source_->start_epoch(epoch); }

  std::optional<TrainingBatch> next() override {
    std::optional<TrainingBatch> batch = source_->next();
    const int64_t mine = batch ? batch->number : -1;
    const std::vector<at::Tensor> numbers = group_->all_gather(torch::full({1}, mine, torch::kLong));
    for (size_t r = 0; r < numbers.size(); ++r) {
      const int64_t theirs = numbers[r].item<int64_t>();
      const int64_t first = numbers[0].item<int64_t>();
      if (theirs == first) continue;
      // The rank that is ahead skipped a batch (or ended early).
      const bool r_ahead = first >= 0 && (theirs < 0 || theirs > first);
      const size_t behind_rank = r_ahead ? r : 0;
      const int64_t skipped = r_ahead ? first : theirs;
      throw Error("rank " + std::to_string(behind_rank) + " has no readable image in its part of batch " +
                  std::to_string(skipped) +
                  " (every rank needs one at every step): remove the unreadable images or use fewer processes");
    }
    return batch;
  }

  std::string description() const override { return source_->description(); }
  int64_t bad_images() const override { return source_->bad_images(); }

 private:
  std::unique_ptr<BatchSource> source_;
  std::shared_ptr<dist::Communicator> group_;
};

// An all-reduce sum that autograd follows: the gradient is all-reduced too.
class AllReduceSum : public torch::autograd::Function<AllReduceSum> {
 public:
  static at::Tensor forward(torch::autograd::AutogradContext* context, const at::Tensor& local,
                            dist::Communicator* group) {
    context->saved_data["group"] = reinterpret_cast<int64_t>(group);
    at::Tensor total = local.detach().contiguous().clone();
    group->all_reduce_sum(total);
    return total;
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* context,
                                                 torch::autograd::variable_list gradients) {
    auto* group = reinterpret_cast<dist::Communicator*>(context->saved_data["group"].toInt());
    at::Tensor total = gradients[0].contiguous().clone();
    group->all_reduce_sum(total);
    return {total, at::Tensor()};
  }
};

class GroupStatisticsSum : public models::BatchStatisticsSum {
 public:
  explicit GroupStatisticsSum(std::shared_ptr<dist::Communicator> group) : group_(std::move(group)) {}
  at::Tensor sum(const at::Tensor& local) override { return AllReduceSum::apply(local, group_.get()); }

 private:
  std::shared_ptr<dist::Communicator> group_;
};

}  // namespace

std::shared_ptr<models::BatchStatisticsSum> statistics_sum(std::shared_ptr<dist::Communicator> group) {
  return std::make_shared<GroupStatisticsSum>(std::move(group));
}

std::unique_ptr<BatchSource> in_step_across_ranks(std::unique_ptr<BatchSource> source,
                                                  std::shared_ptr<dist::Communicator> group) {
  return std::make_unique<RankAlignedBatches>(std::move(source), std::move(group));
}

models::Embeddings split_embedding(
    dist::Communicator& group, const std::shared_ptr<const data::Dataset>& dataset,
    const std::function<models::Embeddings(std::shared_ptr<const data::Dataset>)>& embed) {
  std::vector<int64_t> all(static_cast<size_t>(dataset->size()));
  std::iota(all.begin(), all.end(), 0);
  const std::vector<int64_t> mine = part_of(all, {group.rank(), group.world_size()});
  models::Embeddings part = embed(data::subset(dataset, mine));
  std::vector<int64_t> indices;  // into `dataset`
  for (int64_t i : part.indices) indices.push_back(mine[static_cast<size_t>(i)]);
  models::Embeddings out;
  out.values = dist::gather_rows(group, part.values.contiguous());
  const at::Tensor gathered = dist::gather_rows(group, torch::tensor(indices, torch::kLong));
  out.indices.assign(gathered.data_ptr<int64_t>(), gathered.data_ptr<int64_t>() + gathered.numel());
  return out;
}

}  // namespace imret::learn
