#include "imret/serve/query_service.hpp"

#include <torch/torch.h>

#include <algorithm>
#include <chrono>

#include "imret/data/dataset.hpp"
#include "imret/data/image_folder.hpp"
#include "imret/core/setting_error.hpp"
#include "imret/serve/request_error.hpp"

namespace imret::serve {

namespace fs = std::filesystem;

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

// The file name extension of an image of `format`.
std::string extension_of(data::ImageFormat format) {
  switch (format) {
    case data::ImageFormat::Jpeg: return "jpg";
    case data::ImageFormat::Png: return "png";
    case data::ImageFormat::Bmp: return "bmp";
    case data::ImageFormat::Gif: return "gif";
    case data::ImageFormat::WebP: return "webp";
    case data::ImageFormat::Tiff: return "tiff";
    case data::ImageFormat::Pnm: return "pnm";
    case data::ImageFormat::Unknown: break;
  }
  return "img";
}

}  // namespace

QueryService::QueryService(std::shared_ptr<Collection> collection, BatcherOptions batching, ServiceLimits limits,
                           std::shared_ptr<ServiceMetrics> metrics, bool allow_writes)
    : collection_(std::move(collection)), limits_(limits), metrics_(std::move(metrics)), allow_writes_(allow_writes) {
  searches_ = std::make_unique<SearchBatcher>(
      [c = collection_.get()](const at::Tensor& queries, int64_t k, search::Metric metric,
                              const search::SearchParams& params) { return c->search(queries, k, metric, params); },
      static_cast<int64_t>(std::max<size_t>(limits_.max_queries, 256)));
  if (allow_writes_) {
    const std::string problem = collection_->write_problem();
    if (!problem.empty()) throw SettingError("allow_writes", ": " + problem);
    const fs::path folder = collection_->folder();
    uploads_ = std::make_unique<UploadStore>(folder.parent_path() / (folder.filename().string() + "-uploads"));
  }
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

at::Tensor QueryService::prepared_image(const UploadedFile& file) const {
  const auto* bytes = reinterpret_cast<const uint8_t*>(file.bytes.data());
  const data::ImageHeader header = data::read_image_header(bytes, file.bytes.size());
  if (header.has_size()) {
    const std::string violation = data::image_limit_violation(header.width, header.height, limits_.image_limits);
    if (!violation.empty()) throw RequestError(413, file.name + ": " + violation);
  }
  try {
    return preparer_->prepare(data::decode_image_rgb(bytes, file.bytes.size(), file.name, limits_.image_limits));
  } catch (const data::BadImageError& e) {
    throw RequestError(400, e.what());
  }
}

at::Tensor QueryService::embedded(const std::vector<at::Tensor>& inputs) {
  try {
    return batcher_->embed(inputs);
  } catch (const Overloaded& e) {
    throw RequestError(503, e.what());
  }
}

at::Tensor QueryService::embedding_rows(const std::vector<std::vector<float>>& embeddings) const {
  const int64_t count = static_cast<int64_t>(embeddings.size());
  const int64_t dimension = collection_->dimension();
  at::Tensor rows = torch::empty({count, dimension}, torch::kFloat32);
  for (int64_t q = 0; q < count; ++q) {
    const std::vector<float>& row = embeddings[static_cast<size_t>(q)];
    if (static_cast<int64_t>(row.size()) != dimension)
      throw RequestError(400, std::string(count == 1 ? "embedding" : "embeddings[" + std::to_string(q) + "]") +
                                  ": " + std::to_string(row.size()) + " numbers, the collection's vectors have " +
                                  std::to_string(dimension));
    std::copy(row.begin(), row.end(), rows[q].data_ptr<float>());
  }
  return rows;
}

void QueryService::set_rerank(const std::string& spec, int64_t depth) {
  rerank::Plan plan;
  try {
    plan = rerank::Plan(spec, depth);
  } catch (const UsageError& e) {
    throw SettingError("rerank", ": " + std::string(e.what()));
  }
  if (plan.database_spec() != collection_->augmentation())
    throw SettingError("rerank", collection_->augmentation().empty()
                                     ? " " + plan.database_spec() + " acts when an index is built: serve a folder of "
                                           "imret index build --rerank " + plan.database_spec()
                                     : ": the index was built with " + collection_->augmentation() +
                                           "; name it in --rerank too (e.g. " + collection_->augmentation() + "+aqe)");
  if (plan.needs_preparing() && allow_writes_)
    throw SettingError("rerank", " " + plan.spec() + " makes a graph of the database once, which writes would leave "
                                     "stale: serve it without --allow-writes, or re-rank with aqe or kreciprocal");
  try {
    collection_->prepare_rerank(plan);
  } catch (const UsageError& e) {
    throw SettingError("rerank", ": " + std::string(e.what()));
  }
  rerank_ = std::move(plan);
}

rerank::Plan QueryService::plan_for(const SearchQueries& queries) const {
  // A request's depth is clamped as k is: k-reciprocal holds depth^2 doubles per query.
  constexpr int64_t kMaxDepth = 1000;
  // A request's own plan: at most this many methods, each parameter at most this.
  constexpr size_t kMaxMethods = 4;
  constexpr int64_t kMaxCount = 200;
  const int64_t depth =
      queries.rerank_depth > 0 ? std::min(queries.rerank_depth, std::max(kMaxDepth, rerank_.depth())) : rerank_.depth();
  rerank::Plan plan = rerank_;
  if (queries.rerank) {
    try {
      const rerank::Plan asked(*queries.rerank, depth);
      if (asked.spec() != rerank_.spec()) {
        if (asked.needs_preparing())
          throw RequestError(400, "rerank=" + *queries.rerank + " needs a graph of the database made at start: "
                                  "imret serve --rerank " + asked.spec());
        if (asked.size() > kMaxMethods || asked.largest_count() > kMaxCount)
          throw RequestError(400, "rerank=" + *queries.rerank + ": a request's own plan takes at most " +
                                  std::to_string(kMaxMethods) + " methods, each parameter at most " +
                                  std::to_string(kMaxCount) + " (start imret serve with --rerank for more)");
        plan = asked;
      }
    } catch (const UsageError& e) {
      throw RequestError(400, std::string("URL setting rerank: ") + e.what());
    }
  }
  return plan.with_depth(depth);
}

nlohmann::json QueryService::search(const SearchQueries& queries) {
  const auto start = Clock::now();
  const Collection& c = *collection_;
  const int64_t count = static_cast<int64_t>(queries.count());
  if (count == 0) throw RequestError(400, "no queries");
  at::Tensor vectors;
  double decode_ms = 0, embed_ms = 0;
  std::vector<nlohmann::json> described;
  std::vector<const EmbeddedItem*> known(static_cast<size_t>(count), nullptr);  // a query that is an item
  std::shared_lock<std::shared_mutex> hold;  // no write between the search and the items it names
  switch (queries.kind) {
    case SearchQueries::Kind::Images: {
      if (!batcher_) throw RequestError(400, "image queries are off for this collection: " + c.network_problem());
      std::vector<at::Tensor> inputs;
      for (const UploadedFile& file : queries.images) {
        inputs.push_back(prepared_image(file));
        described.push_back({{"kind", "image"}, {"name", file.name}});
      }
      decode_ms = ms_since(start);
      const auto embed_start = Clock::now();
      vectors = embedded(inputs);
      embed_ms = ms_since(embed_start);
      hold = c.reading();
      break;
    }
    case SearchQueries::Kind::Embeddings: {
      vectors = embedding_rows(queries.embeddings);
      for (int64_t q = 0; q < count; ++q) described.push_back({{"kind", "embedding"}});
      hold = c.reading();
      break;
    }
    case SearchQueries::Kind::Ids: {
      hold = c.reading();
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
  rerank::Plan plan = plan_for(queries);
  if (k < 1) plan = rerank::Plan();  // an empty collection: nothing to re-rank
  if (plan.needs_preparing() && metric != c.default_metric())
    throw RequestError(400, "rerank " + plan.spec() + ": its graph is made for the " +
                                search::to_string(c.default_metric()) + " ranking; search with metric=" +
                                search::to_string(c.default_metric()) + " or rerank=none");
  const auto search_start = Clock::now();
  search::SearchResult result;
  at::Tensor rerank_scores;
  try {
    if (plan.empty()) {
      result = searches_->search(vectors, k, metric, queries.params);
    } else {
      rerank::RerankedResult found = c.search_reranked(vectors, k, metric, queries.params, plan);
      result = std::move(found.result);
      if (found.rerank_scores.defined()) rerank_scores = found.rerank_scores.contiguous();
    }
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
      if (rerank_scores.defined()) hit["rerank_score"] = rerank_scores.data_ptr<float>()[q * result.ids.size(1) + r];
      results.push_back(std::move(hit));
      ++served;
    }
    answers.push_back({{"query", described[static_cast<size_t>(q)]}, {"results", std::move(results)}});
  }
  if (metrics_) metrics_->items_served(served);
  nlohmann::json answer = {
      {"k", k},
      {"metric", search::to_string(metric)},
      {"score", pipeline::score_name(metric)},
      {"queries", std::move(answers)},
      {"timings_ms", {{"decode", decode_ms}, {"embed", embed_ms}, {"search", search_ms}, {"total", ms_since(start)}}}};
  if (!plan.empty()) answer["rerank"] = plan.spec();
  return answer;
}

nlohmann::json QueryService::info() const {
  nlohmann::json info = collection_->info();
  info["rerank"] = {{"spec", rerank_.spec()}, {"depth", rerank_.depth()}};
  info["limits"] = {{"max_k", limits_.max_k},
                    {"max_queries", limits_.max_queries},
                    {"max_pixels", limits_.image_limits.max_pixels}};
  return info;
}

nlohmann::json QueryService::item(int64_t id) const {
  const auto hold = collection_->reading();
  return item_json(existing_item(id), id);
}

ItemImage QueryService::item_image(int64_t id) {
  EmbeddedItem item;
  {
    const auto hold = collection_->reading();
    item = existing_item(id);
  }
  try {
    return images_.image_of(item);
  } catch (const Error& e) {
    throw RequestError(404, e.what());
  }
}

void QueryService::check_writes() const {
  if (!allow_writes_) throw RequestError(403, "writes are off: start imret serve with --allow-writes to add and remove items");
}

nlohmann::json QueryService::add_items(const NewItems& request) {
  check_writes();
  const auto start = Clock::now();
  Collection& c = *collection_;
  const auto [label, class_name] = resolve_label(request, c.classes());
  const SearchQueries& content = request.content;
  const size_t count = content.count();
  if (count == 0) throw RequestError(400, "nothing to add");
  std::vector<EmbeddedItem> items(count);
  for (EmbeddedItem& item : items) {
    item.index = -1;  // the id it gets
    item.label = label;
    item.class_name = class_name;
  }
  at::Tensor vectors;
  double decode_ms = 0, embed_ms = 0;
  if (content.kind == SearchQueries::Kind::Images) {
    if (!batcher_) throw RequestError(409, "images cannot be added: " + c.network_problem());
    std::vector<at::Tensor> inputs;
    for (const UploadedFile& file : content.images) inputs.push_back(prepared_image(file));
    decode_ms = ms_since(start);
    const auto embed_start = Clock::now();
    vectors = embedded(inputs);
    embed_ms = ms_since(embed_start);
    for (size_t i = 0; i < count; ++i) {
      const std::string& bytes = content.images[i].bytes;
      const data::ImageFormat format =
          data::read_image_header(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()).format;
      items[i].source = uploads_->keep(bytes, extension_of(format)).string();
    }
  } else if (content.kind == SearchQueries::Kind::Embeddings) {
    vectors = embedding_rows(content.embeddings);
  } else {
    throw RequestError(400, "items are added from images or embeddings");
  }
  const auto write_start = Clock::now();
  int64_t first = 0;
  try {
    first = c.add(vectors, items);
  } catch (const UsageError& e) {
    throw RequestError(409, e.what());
  }
  const double write_ms = ms_since(write_start);
  nlohmann::json added = nlohmann::json::array();
  {
    const auto hold = c.reading();
    for (size_t i = 0; i < count; ++i) {
      items[i].index = first + static_cast<int64_t>(i);
      added.push_back(item_json(items[i], first + static_cast<int64_t>(i)));
    }
  }
  return {{"added", std::move(added)},
          {"vectors", c.size()},
          {"timings_ms", {{"decode", decode_ms}, {"embed", embed_ms}, {"write", write_ms}, {"total", ms_since(start)}}}};
}

nlohmann::json QueryService::remove_item(int64_t id) {
  check_writes();
  Collection& c = *collection_;
  const std::string problem = c.remove_problem();
  if (!problem.empty()) throw RequestError(409, problem);
  {
    const auto hold = c.reading();
    existing_item(id);  // 404
  }
  const auto start = Clock::now();
  try {
    c.remove(id);
  } catch (const UsageError& e) {
    throw RequestError(409, e.what());
  }
  return {{"removed", id}, {"vectors", c.size()}, {"timings_ms", {{"write", ms_since(start)}}}};
}

}  // namespace imret::serve
