#include "imret/serve/query_service.hpp"

#include <torch/torch.h>

#include <chrono>

#include "imret/data/dataset.hpp"
#include "imret/data/image_folder.hpp"
#include "imret/serve/request_error.hpp"

namespace imret::serve {

namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

nlohmann::json item_json(const EmbeddedItem& item, int64_t id) {
  nlohmann::json j = {{"id", id}, {"index", item.index}, {"path", item.source}, {"label", item.label},
                      {"class", item.class_name}};
  if (item.objects) {
    nlohmann::json objects = nlohmann::json::array();
    for (const ObjectCount& o : *item.objects) objects.push_back({o.category, o.count});
    j["objects"] = objects;
  }
  return j;
}

}  // namespace

QueryService::QueryService(std::shared_ptr<const Collection> collection, BatcherOptions batching, ServiceLimits limits,
                           std::shared_ptr<ServiceMetrics> metrics)
    : collection_(std::move(collection)), limits_(limits), metrics_(std::move(metrics)) {
  if (collection_->image_queries()) {
    preparer_ = std::make_unique<pipeline::QueryImagePreparer>(collection_->network());
    if (metrics_ && !batching.on_batch) {
      std::shared_ptr<ServiceMetrics> m = metrics_;
      batching.on_batch = [m](int64_t images) { m->batch(images); };
    }
    batcher_ = std::make_unique<EmbedBatcher>(collection_->network().network, batching);
  }
}

const EmbeddedItem& QueryService::existing_item(int64_t id) const {
  const EmbeddedItem* item = collection_->item(id);
  if (!item)
    throw RequestError(404, "no item " + std::to_string(id) + " (ids 0.." + std::to_string(collection_->size() - 1) + ")");
  return *item;
}

nlohmann::json QueryService::search(const SearchQueries& queries) {
  const auto start = Clock::now();
  const Collection& c = *collection_;
  const int64_t count = static_cast<int64_t>(queries.count());
  at::Tensor vectors;
  double decode_ms = 0, embed_ms = 0;
  std::vector<nlohmann::json> described;
  std::vector<const EmbeddedItem*> known(static_cast<size_t>(count), nullptr);  // a query that is an item
  switch (queries.kind) {
    case SearchQueries::Kind::Images: {
      if (!batcher_) throw RequestError(400, "image queries are off for this collection: " + c.network_problem());
      std::vector<at::Tensor> inputs;
      for (const UploadedFile& file : queries.images) {
        const auto* bytes = reinterpret_cast<const uint8_t*>(file.bytes.data());
        const data::ImageHeader header = data::read_image_header(bytes, file.bytes.size());
        if (header.has_size()) {
          const std::string violation = data::image_limit_violation(header.width, header.height, limits_.image_limits);
          if (!violation.empty()) throw RequestError(413, file.name + ": " + violation);
        }
        try {
          inputs.push_back(preparer_->prepare(data::decode_image_rgb(bytes, file.bytes.size(), file.name,
                                                                     limits_.image_limits)));
        } catch (const data::BadImageError& e) {
          throw RequestError(400, e.what());
        }
        described.push_back({{"kind", "image"}, {"name", file.name}});
      }
      decode_ms = ms_since(start);
      const auto embed_start = Clock::now();
      try {
        vectors = batcher_->embed(inputs);
      } catch (const Overloaded& e) {
        throw RequestError(503, e.what());
      }
      embed_ms = ms_since(embed_start);
      break;
    }
    case SearchQueries::Kind::Embeddings: {
      vectors = torch::empty({count, c.dimension()}, torch::kFloat32);
      for (int64_t q = 0; q < count; ++q) {
        const std::vector<float>& row = queries.embeddings[static_cast<size_t>(q)];
        if (static_cast<int64_t>(row.size()) != c.dimension())
          throw RequestError(400, std::string(count == 1 ? "embedding" : "embeddings[" + std::to_string(q) + "]") +
                                      ": " + std::to_string(row.size()) + " numbers, the collection's vectors have " +
                                      std::to_string(c.dimension()));
        std::copy(row.begin(), row.end(), vectors[q].data_ptr<float>());
        described.push_back({{"kind", "embedding"}});
      }
      break;
    }
    case SearchQueries::Kind::Ids: {
      std::vector<at::Tensor> rows;
      for (int64_t q = 0; q < count; ++q) {
        const int64_t id = queries.ids[static_cast<size_t>(q)];
        const EmbeddedItem& item = existing_item(id);
        try {
          rows.push_back(c.vector(id));
        } catch (const UsageError& e) {
          throw RequestError(409, e.what());
        }
        known[static_cast<size_t>(q)] = &item;
        nlohmann::json d = item_json(item, id);
        d["kind"] = "id";
        described.push_back(d);
      }
      vectors = torch::cat(rows);
      break;
    }
  }
  const search::Metric metric = queries.metric.value_or(c.default_metric());
  const int64_t k = std::min({queries.k, limits_.max_k, c.size()});
  const auto search_start = Clock::now();
  search::SearchResult result;
  try {
    result = c.search(vectors, k, metric, queries.params);
  } catch (const UsageError& e) {
    throw RequestError(400, e.what());
  }
  const double search_ms = ms_since(search_start);

  auto ids = result.ids.accessor<int64_t, 2>();
  auto scores = result.scores.accessor<float, 2>();
  nlohmann::json answers = nlohmann::json::array();
  int64_t served = 0;
  for (int64_t q = 0; q < count; ++q) {
    nlohmann::json results = nlohmann::json::array();
    const EmbeddedItem* query_item = known[static_cast<size_t>(q)];
    for (int64_t r = 0; r < result.ids.size(1) && ids[q][r] >= 0; ++r) {
      const EmbeddedItem& item = existing_item(ids[q][r]);
      nlohmann::json hit = {{"rank", r + 1},        {"id", ids[q][r]},          {"score", scores[q][r]},
                            {"label", item.label}, {"class", item.class_name}, {"path", item.source}};
      if (query_item && query_item->label >= 0) hit["same_class"] = item.label == query_item->label;
      results.push_back(std::move(hit));
      ++served;
    }
    answers.push_back({{"query", described[static_cast<size_t>(q)]}, {"results", std::move(results)}});
  }
  if (metrics_) metrics_->items_served(served);
  return {{"k", k},
          {"metric", search::to_string(metric)},
          {"score", pipeline::score_name(metric)},
          {"queries", std::move(answers)},
          {"timings_ms", {{"decode", decode_ms}, {"embed", embed_ms}, {"search", search_ms}, {"total", ms_since(start)}}}};
}

nlohmann::json QueryService::info() const {
  nlohmann::json info = collection_->info();
  info["limits"] = {{"max_k", limits_.max_k},
                    {"max_queries", limits_.max_queries},
                    {"max_pixels", limits_.image_limits.max_pixels}};
  return info;
}

nlohmann::json QueryService::item(int64_t id) const { return item_json(existing_item(id), id); }

ItemImage QueryService::item_image(int64_t id) {
  const EmbeddedItem& item = existing_item(id);
  try {
    return images_.image_of(item);
  } catch (const Error& e) {
    throw RequestError(404, e.what());
  }
}

}  // namespace imret::serve
