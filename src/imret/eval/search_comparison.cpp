#include "imret/eval/search_comparison.hpp"

#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <cmath>
#include <map>
#include <sstream>
#include <unordered_map>

#include "imret/core/atomic_file.hpp"
#include "imret/core/error.hpp"
#include "imret/core/progress.hpp"
#include "imret/core/setting_error.hpp"
#include "imret/eval/knn.hpp"
#include "imret/rerank/plan.hpp"

namespace imret::eval {
namespace {

std::string fixed(double value, int digits) {
  if (std::isnan(value)) return "-";
  std::ostringstream out;
  out.setf(std::ios::fixed);
  out.precision(digits);
  out << value;
  return out.str();
}

}  // namespace

double average_precision_at_k(const std::vector<bool>& relevant, int64_t num_relevant) {
  if (num_relevant <= 0) return 0;
  double sum = 0;
  int64_t hits = 0;
  for (size_t i = 0; i < relevant.size(); ++i)
    if (relevant[i]) sum += static_cast<double>(++hits) / static_cast<double>(i + 1);
  return sum / static_cast<double>(std::min<int64_t>(num_relevant, static_cast<int64_t>(relevant.size())));
}

double recall_against(const search::SearchResult& found, const search::SearchResult& exact, int64_t k) {
  if (found.ids.size(0) != exact.ids.size(0) || found.ids.size(1) < k || exact.ids.size(1) < k)
    throw Error("recall_against: results of different shapes or fewer than k columns");
  if (exact.ids.size(0) == 0) return 0;
  const at::Tensor f = found.ids.narrow(1, 0, k), e = exact.ids.narrow(1, 0, k);
  const at::Tensor matches = f.unsqueeze(2).eq(e.unsqueeze(1)).logical_and(e.unsqueeze(1).ge(0)).any(2);
  return matches.sum().item<double>() / static_cast<double>(e.numel());
}

TopKQuality top_k_quality(const search::SearchResult& result, const std::vector<int64_t>& database_labels,
                          const std::vector<int64_t>& query_labels) {
  if (static_cast<int64_t>(query_labels.size()) != result.ids.size(0))
    throw Error("top_k_quality: " + std::to_string(query_labels.size()) + " query labels for " +
                std::to_string(result.ids.size(0)) + " result rows");
  std::unordered_map<int64_t, int64_t> class_size;
  for (int64_t label : database_labels) ++class_size[label];
  const int64_t k = result.ids.size(1);
  auto ids = result.ids.accessor<int64_t, 2>();
  TopKQuality quality;
  std::vector<bool> relevant(static_cast<size_t>(k));
  for (int64_t q = 0; q < result.ids.size(0); ++q) {
    const int64_t label = query_labels[static_cast<size_t>(q)];
    const auto size = class_size.find(label);
    if (label < 0 || size == class_size.end()) continue;
    for (int64_t r = 0; r < k; ++r) {
      const int64_t id = ids[q][r];
      if (id >= static_cast<int64_t>(database_labels.size())) throw Error("top_k_quality: id out of range");
      relevant[static_cast<size_t>(r)] = id >= 0 && database_labels[static_cast<size_t>(id)] == label;
    }
    ++quality.queries;
    quality.map_at_k += average_precision_at_k(relevant, size->second);
    quality.precision_at_1 += relevant[0] ? 1.0 : 0.0;
    const int64_t five = std::min<int64_t>(5, k);
    quality.precision_at_5 +=
        static_cast<double>(std::count(relevant.begin(), relevant.begin() + five, true)) / 5.0;
  }
  if (quality.queries > 0) {
    const double n = static_cast<double>(quality.queries);
    quality.map_at_k /= n;
    quality.precision_at_1 /= n;
    quality.precision_at_5 /= n;
  }
  return quality;
}

nlohmann::json SearchBackendResult::to_json() const {
  auto number = [](double v) { return std::isnan(v) ? nlohmann::json() : nlohmann::json(v); };
  nlohmann::json params = nlohmann::json::object();
  for (const auto& [name, value] : parameters.entries()) params[name] = value;
  return {{"index", spec},
          {"rerank", rerank},
          {"parameters", params},
          {"train_seconds", train_seconds},
          {"add_seconds", add_seconds},
          {"memory_bytes", memory_bytes},
          {"queries_per_second", queries_per_second},
          {"recall_at_1", recall_at_1},
          {"recall_at_10", recall_at_10},
          {"k", k},
          {"map_at_k", quality.map_at_k},
          {"precision_at_1", quality.precision_at_1},
          {"precision_at_5", quality.precision_at_5},
          {"knn_k", knn_k},
          {"knn_vote", knn_distance_weighted ? "distance" : "majority"},
          {"knn_accuracy", number(knn_accuracy)}};
}

std::pair<std::string, search::SearchParams> split_spec_parameters(const std::string& spec) {
  const size_t at = spec.find('@');
  if (at == std::string::npos) return {spec, {}};
  search::SearchParams parameters;
  std::istringstream list(spec.substr(at + 1));
  std::string item;
  while (std::getline(list, item, ',')) {
    try {
      const auto [name, value] = search::parse_search_parameter(item);
      parameters.set(name, value);
    } catch (const UsageError&) {
      throw UsageError("index '" + spec + "': after @ come query-time parameters name=value[,name=value], e.g. @nprobe=16");
    }
  }
  if (parameters.empty()) throw UsageError("index '" + spec + "': nothing after @");
  return {spec.substr(0, at), parameters};
}

namespace {

// A spec split for building: the backend and its build-time parameters name
// the index (specs that agree on them share one); the query-time ones go to
// each search call.
struct PlannedSpec {
  std::string backend;
  search::SearchParams build;  // set on the index before the vectors are added
  search::SearchParams query;  // per search call
  search::SearchParams all;    // as the spec gives them, for its row
  std::string index_key() const { return backend + "@" + build.to_string(); }
};

PlannedSpec plan_spec(const std::string& spec) {
  auto [backend, parameters] = split_spec_parameters(spec);
  auto [build, query] = search::split_build_parameters(parameters);
  return {backend, build, query, parameters};
}

// A backend's index, trained and filled once for the specs that share it.
struct BuiltIndex {
  std::unique_ptr<search::Index> index;
  double train_seconds = 0;
  double add_seconds = 0;
  int64_t memory_bytes = 0;
};

BuiltIndex build_index(const PlannedSpec& spec, const at::Tensor& database, const SearchComparisonOptions& options) {
  BuiltIndex built;
  built.index = search::make_index(spec.backend, c10::kCPU, options.metric);
  for (const auto& [name, value] : spec.build.entries()) built.index->set_parameter(name, value);
  if (built.index->needs_training()) {
    const at::Tensor sample = search::training_sample(database, options.train_size, options.seed);
    const auto start = std::chrono::steady_clock::now();
    built.index->train(sample);
    built.train_seconds = seconds_since(start);
  }
  const auto add_start = std::chrono::steady_clock::now();
  built.index->add(database);
  built.add_seconds = seconds_since(add_start);
  built.memory_bytes = built.index->memory_bytes();
  return built;
}

}  // namespace

std::vector<SearchBackendResult> compare_search_backends(const std::vector<std::string>& specs,
                                                         const at::Tensor& database,
                                                         const std::vector<int64_t>& database_labels,
                                                         const at::Tensor& queries,
                                                         const std::vector<int64_t>& query_labels,
                                                         const SearchComparisonOptions& options) {
  if (options.k < 10) throw SettingError("k", " must be at least 10 (recall@10 is reported)");
  if (options.knn_k < 1 || options.knn_k > options.k) throw SettingError("knn", " must be in [1, k]");
  if (database.size(0) != static_cast<int64_t>(database_labels.size()) ||
      queries.size(0) != static_cast<int64_t>(query_labels.size()))
    throw Error("compare_search_backends: labels do not match the embeddings");
  // Parse every spec first: a typo in the last one fails before any work.
  std::vector<rerank::Plan> plans;
  for (const auto& text : options.rerank) plans.emplace_back(text, options.rerank_depth);
  std::vector<PlannedSpec> planned;
  std::map<std::string, size_t> last_use;  // index key -> the last spec searching that index
  for (const auto& spec : specs) {
    planned.push_back(plan_spec(spec));
    search::make_index(planned.back().backend, c10::kCPU, options.metric);
    last_use[planned.back().index_key()] = planned.size() - 1;
  }
  spdlog::info("ground truth: exact {} search of {} queries in {} vectors", search::to_string(options.metric),
               queries.size(0), database.size(0));
  auto exact = search::make_index("exact", c10::kCPU, options.metric);
  exact->add(database);
  const search::SearchResult truth = exact->search(queries, 10);

  int64_t num_classes = 0;
  bool labelled = !query_labels.empty();
  for (int64_t label : database_labels) num_classes = std::max(num_classes, label + 1);
  for (int64_t label : query_labels) labelled = labelled && label >= 0 && label < num_classes;
  for (int64_t label : database_labels) labelled = labelled && label >= 0;

  std::vector<SearchBackendResult> rows;
  std::map<std::string, BuiltIndex> built;  // the indexes a later spec still searches
  for (size_t i = 0; i < specs.size(); ++i) {
    const PlannedSpec& spec = planned[i];
    const std::string key = spec.index_key();
    auto index = built.find(key);
    if (index == built.end()) {
      spdlog::info("{}: building", specs[i]);
      index = built.emplace(key, build_index(spec, database, options)).first;
    } else {
      spdlog::info("{}: searching the {} index built for an earlier spec", specs[i], spec.backend);
    }
    // One row: `search` timed over every query, graded against the truth.
    const auto measure = [&](const BuiltIndex& with, const std::string& rerank,
                             const std::function<search::SearchResult()>& search) {
      SearchBackendResult row;
      row.spec = specs[i];
      row.rerank = rerank;
      row.parameters = spec.all;
      row.k = options.k;
      row.knn_k = options.knn_k;
      row.knn_distance_weighted = options.knn_distance_weighted;
      row.train_seconds = with.train_seconds;
      row.add_seconds = with.add_seconds;
      row.memory_bytes = with.memory_bytes;
      const auto search_start = std::chrono::steady_clock::now();
      const search::SearchResult found = search();
      row.queries_per_second = static_cast<double>(queries.size(0)) / seconds_since(search_start);
      row.recall_at_1 = recall_against(found, truth, 1);
      row.recall_at_10 = recall_against(found, truth, 10);
      row.quality = top_k_quality(found, database_labels, query_labels);
      row.knn_accuracy = labelled ? knn_classify(found, database_labels, query_labels, options.knn_k, num_classes,
                                                 options.knn_distance_weighted)
                                        .accuracy
                                  : NAN;
      spdlog::info("{}{}: {:.0f} queries/s, recall@10 {:.4f}, mAP@{} {:.4f}", specs[i],
                   rerank == "none" ? "" : " + " + rerank, row.queries_per_second, row.recall_at_10, options.k,
                   row.quality.map_at_k);
      rows.push_back(std::move(row));
    };
    const BuiltIndex& plain = index->second;
    measure(plain, "none", [&] { return plain.index->search(queries, options.k, spec.query); });
    for (rerank::Plan plan : plans) {
      BuiltIndex augmented;
      if (!plan.database_spec().empty()) {
        spdlog::info("{}: building on the vectors {} augments", specs[i], plan.database_spec());
        augmented = build_index(spec, plan.augment_database(database, options.metric), options);
      }
      const BuiltIndex& with = augmented.index ? augmented : plain;
      plan.prepare(*with.index);
      measure(with, plan.spec(), [&] { return plan.search(*with.index, queries, options.k, spec.query).result; });
    }
    if (last_use.at(key) == i) built.erase(index);
  }
  return rows;
}

std::string search_comparison_markdown(const std::string& title, const std::vector<SearchBackendResult>& rows) {
  std::ostringstream md;
  const int64_t k = rows.empty() ? 0 : rows.front().k;
  const int64_t knn_k = rows.empty() ? 0 : rows.front().knn_k;
  const bool weighted = !rows.empty() && rows.front().knn_distance_weighted;
  const bool reranked = std::any_of(rows.begin(), rows.end(), [](const auto& r) { return r.rerank != "none"; });
  md << "# " << title << "\n\n"
     << "| index |" << (reranked ? " rerank |" : "") << " train s | add s | memory MB | queries/s | recall@1 | recall@10 | mAP@" << k
     << " | P@1 | P@5 | " << knn_k << "-NN acc" << (weighted ? " (distance-weighted)" : "") << " |\n"
     << "|---|" << (reranked ? "---|" : "") << "---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n";
  for (const auto& r : rows)
    md << "| `" << r.spec << "` | " << (reranked ? (r.rerank == "none" ? std::string("none") : "`" + r.rerank + "`") + " | " : "")
       << fixed(r.train_seconds, 2) << " | " << fixed(r.add_seconds, 2) << " | "
       << fixed(static_cast<double>(r.memory_bytes) / 1e6, 1) << " | " << fixed(r.queries_per_second, 0) << " | "
       << fixed(r.recall_at_1, 4) << " | " << fixed(r.recall_at_10, 4) << " | " << fixed(r.quality.map_at_k, 4) << " | "
       << fixed(r.quality.precision_at_1, 4) << " | " << fixed(r.quality.precision_at_5, 4) << " | "
       << fixed(r.knn_accuracy, 4) << " |\n";
  return md.str();
}

std::string search_comparison_csv(const std::vector<SearchBackendResult>& rows) {
  std::ostringstream csv;
  csv << "index,parameters,train_seconds,add_seconds,memory_bytes,queries_per_second,recall_at_1,recall_at_10,k,"
         "map_at_k,precision_at_1,precision_at_5,knn_k,knn_vote,knn_accuracy,rerank\n";
  for (const auto& r : rows)
    csv << '"' << r.spec << "\",\"" << r.parameters.to_string() << "\"," << r.train_seconds << ','
        << r.add_seconds << ',' << r.memory_bytes << ',' << r.queries_per_second << ',' << r.recall_at_1 << ','
        << r.recall_at_10 << ',' << r.k << ',' << r.quality.map_at_k << ',' << r.quality.precision_at_1 << ','
        << r.quality.precision_at_5 << ',' << r.knn_k << ',' << (r.knn_distance_weighted ? "distance" : "majority") << ',' << (std::isnan(r.knn_accuracy) ? "" : fixed(r.knn_accuracy, 6))
        << ",\"" << r.rerank << "\"\n";
  return csv.str();
}

void write_search_comparison(const std::filesystem::path& folder, const std::string& title,
                             const std::vector<SearchBackendResult>& rows, const nlohmann::json& setup) {
  nlohmann::json json = {{"title", title}, {"setup", setup}, {"rows", nlohmann::json::array()}};
  for (const auto& r : rows) json["rows"].push_back(r.to_json());
  write_file_atomic(folder / "results.md", search_comparison_markdown(title, rows));
  write_file_atomic(folder / "results.csv", search_comparison_csv(rows));
  write_file_atomic(folder / "results.json", json.dump(2) + "\n");
}

}  // namespace imret::eval
