#include "imret/pipeline/query.hpp"

#include <torch/torch.h>

#include <random>

#include "imret/core/error.hpp"
#include "imret/data/image_folder.hpp"
#include "imret/data/transforms.hpp"
#include "imret/pipeline/networks.hpp"

namespace imret::pipeline {
namespace {

// An RGB image (3 x H x W) as the 1 x 28 x 28 grey image a Fashion-MNIST network takes.
at::Tensor as_grey_28(const at::Tensor& image) {
  const at::Tensor weights = torch::tensor({0.299f, 0.587f, 0.114f}).view({3, 1, 1});
  const at::Tensor grey = (image * weights).sum(0, true);
  return torch::nn::functional::interpolate(grey.unsqueeze(0), torch::nn::functional::InterpolateFuncOptions()
                                                                   .size(std::vector<int64_t>{28, 28})
                                                                   .mode(torch::kBilinear)
                                                                   .align_corners(false))
      .squeeze(0);
}

const EmbeddedItem& item_of(const std::vector<EmbeddedItem>& items, int64_t id) {
  if (id < 0 || id >= static_cast<int64_t>(items.size()))
    throw Error("search result id " + std::to_string(id) + " has no item (the index holds " +
                std::to_string(items.size()) + ")");
  return items[static_cast<size_t>(id)];
}

Hit hit_of(int64_t rank, int64_t id, float score, const EmbeddedItem& query, const std::vector<EmbeddedItem>& database) {
  const EmbeddedItem& item = item_of(database, id);
  return {rank, id, score, &item, query.label >= 0 && item.label == query.label};
}

}  // namespace

QueryImagePreparer::QueryImagePreparer(const models::LoadedNetwork& network)
    : transform_(data::make_eval_transform(data::Preprocess::from_json(network.info.preprocess))),
      grey_(network.info.spec.in_channels == 1) {}

at::Tensor QueryImagePreparer::prepare(const at::Tensor& rgb) const {
  std::mt19937_64 rng(0);  // the evaluation transform draws nothing
  return transform_->apply(grey_ ? as_grey_28(rgb) : rgb, rng);
}

EmbeddingSet embed_query_images(const std::vector<std::string>& images, const models::LoadedNetwork& loaded) {
  const QueryImagePreparer preparer(loaded);
  std::vector<at::Tensor> inputs;
  EmbeddingSet queries;
  for (const auto& path : images) {
    inputs.push_back(preparer.prepare(data::decode_image_rgb(path)));
    queries.items.push_back({static_cast<int64_t>(queries.items.size()), path, -1, "", std::nullopt});
  }
  loaded.network->eval();
  torch::NoGradGuard no_grad;
  at::Tensor embedded = loaded.network->embed(torch::stack(inputs)).contiguous();
  queries.embeddings.rows = embedded.size(0);
  queries.embeddings.cols = embedded.size(1);
  queries.embeddings.values.assign(embedded.data_ptr<float>(), embedded.data_ptr<float>() + embedded.numel());
  return queries;
}

EmbeddingSet load_queries(const QuerySource& source, const nlohmann::json& database_meta) {
  if (source.folder.empty() == source.images.empty())
    throw UsageError("give either the queries (an embedding folder) or images (image files)");
  if (source.images.empty()) {
    EmbeddingSet queries = load_embedding_set(source.folder);
    match_database_whitening(queries, database_meta, source.folder);
    return queries;
  }
  return embed_query_images(source.images, embedding_network(database_meta, source.checkpoint));
}

std::vector<QueryHits> top_k_hits(const search::SearchResult& result, const std::vector<EmbeddedItem>& queries,
                                  int64_t count, const std::vector<EmbeddedItem>& database,
                                  const at::Tensor& rerank_scores) {
  auto ids = result.ids.accessor<int64_t, 2>();
  auto scores = result.scores.accessor<float, 2>();
  const at::Tensor reranked = rerank_scores.defined() ? rerank_scores.contiguous() : at::Tensor();
  const float* rerank = reranked.defined() ? reranked.data_ptr<float>() : nullptr;
  std::vector<QueryHits> out;
  for (int64_t q = 0; q < count; ++q) {
    const EmbeddedItem& query = queries.at(static_cast<size_t>(q));
    QueryHits hits{q, &query, {}};
    for (int64_t r = 0; r < result.ids.size(1) && ids[q][r] >= 0; ++r) {
      hits.hits.push_back(hit_of(r + 1, ids[q][r], scores[q][r], query, database));
      if (rerank) hits.hits.back().rerank_score = rerank[q * result.ids.size(1) + r];
    }
    out.push_back(std::move(hits));
  }
  return out;
}

std::vector<QueryHits> range_hits(const search::RangeResult& result, const std::vector<EmbeddedItem>& queries,
                                  const std::vector<EmbeddedItem>& database) {
  auto lims = result.lims.accessor<int64_t, 1>();
  auto ids = result.ids.accessor<int64_t, 1>();
  auto scores = result.scores.accessor<float, 1>();
  std::vector<QueryHits> out;
  for (int64_t q = 0; q + 1 < result.lims.size(0); ++q) {
    const EmbeddedItem& query = queries.at(static_cast<size_t>(q));
    QueryHits hits{q, &query, {}};
    for (int64_t j = lims[q]; j < lims[q + 1]; ++j)
      hits.hits.push_back(hit_of(j - lims[q] + 1, ids[j], scores[j], query, database));
    out.push_back(std::move(hits));
  }
  return out;
}

const char* score_name(search::Metric metric) { return metric == search::Metric::Cosine ? "similarity" : "distance"; }

nlohmann::json hits_json(const std::vector<QueryHits>& queries, search::Metric metric) {
  nlohmann::json out = nlohmann::json::array();
  for (const QueryHits& query : queries) {
    nlohmann::json results = nlohmann::json::array();
    for (const Hit& hit : query.hits) {
      results.push_back({{"rank", hit.rank},
                         {"id", hit.id},
                         {score_name(metric), hit.score},
                         {"source", hit.item->source},
                         {"label", hit.item->label},
                         {"class", hit.item->class_name},
                         {"same_class", hit.same_class}});
      if (hit.rerank_score) results.back()["rerank_score"] = *hit.rerank_score;
    }
    out.push_back({{"query", query.query},
                   {"source", query.item->source},
                   {"label", query.item->label},
                   {"class", query.item->class_name},
                   {"results", std::move(results)}});
  }
  return out;
}

}  // namespace imret::pipeline
