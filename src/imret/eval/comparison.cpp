#include "imret/eval/comparison.hpp"

#include <algorithm>
#include <cstdio>
#include <iterator>
#include <sstream>

#include "imret/core/atomic_file.hpp"

namespace imret::eval {
namespace {

nlohmann::json number_or_null(double value) { return std::isnan(value) ? nlohmann::json() : nlohmann::json(value); }

double number(const nlohmann::json& json, const std::string& key) {
  return json.contains(key) && json.at(key).is_number() ? json.at(key).get<double>() : NAN;
}

// A metric of the summary: "mAP", or "P@K"/"R@K" with a cut-off.
double metric(const ExperimentResult& r, const std::string& key, const std::string& k = "") {
  if (k.empty()) return number(r.retrieval, key);
  return r.retrieval.contains(key) ? number(r.retrieval.at(key), k) : NAN;
}

const char* const kModes[] = {"selection", "aggregation", "weighted"};

// A metric of one object mode's summary; NaN when the row has none.
double mode_metric(const ExperimentResult& r, const char* mode, const std::string& key, const std::string& k = "") {
  if (!r.modes.contains(mode)) return NAN;
  const nlohmann::json& summary = r.modes.at(mode);
  if (k.empty()) return number(summary, key);
  return summary.contains(key) ? number(summary.at(key), k) : NAN;
}

std::string fixed(double value, int decimals) {
  if (std::isnan(value)) return "-";
  char text[32];
  std::snprintf(text, sizeof text, "%.*f", decimals, value);
  return text;
}

std::string setting(const ExperimentResult& r, const char* key) {
  if (!r.settings.contains(key)) return "-";
  const auto& value = r.settings.at(key);
  return value.is_string() ? value.get<std::string>() : value.dump();
}

std::string embedding_dim(const ExperimentResult& r) {
  return r.settings.contains("network") ? r.settings.at("network").value("embedding_dim", nlohmann::json()).dump() : "-";
}

// Offline tuples are drawn, not mined.
std::string miner_of(const ExperimentResult& r) { return setting(r, "tuples") == "offline" ? "offline" : r.miner; }

std::vector<std::string> cutoffs(const ExperimentResult& r) {
  std::vector<std::string> ks;
  if (r.retrieval.contains("P@K"))
    for (const auto& [k, value] : r.retrieval.at("P@K").items()) ks.push_back(k);
  std::sort(ks.begin(), ks.end(), [](const std::string& a, const std::string& b) { return std::stoi(a) < std::stoi(b); });
  return ks;
}

}  // namespace

nlohmann::json ExperimentResult::to_json() const {
  return {{"name", name},
          {"description", description},
          {"settings", settings},
          {"miner", miner},
          {"metric", metric},
          {"retrieval", retrieval},
          {"modes", modes},
          {"knn_accuracy", number_or_null(knn_accuracy)},
          {"epochs_run", epochs_run},
          {"train_seconds", train_seconds},
          {"images_per_second", number_or_null(images_per_second)},
          {"tuples_per_batch", number_or_null(tuples_per_batch)},
          {"nonzero_fraction", number_or_null(nonzero_fraction)}};
}

ExperimentResult ExperimentResult::from_json(const nlohmann::json& json) {
  ExperimentResult r;
  r.name = json.at("name").get<std::string>();
  r.description = json.value("description", "");
  r.settings = json.value("settings", nlohmann::json::object());
  r.miner = json.value("miner", "-");
  r.metric = json.value("metric", "");
  r.retrieval = json.value("retrieval", nlohmann::json::object());
  r.modes = json.value("modes", nlohmann::json::object());
  r.knn_accuracy = number(json, "knn_accuracy");
  r.epochs_run = json.value("epochs_run", int64_t{0});
  r.train_seconds = number(json, "train_seconds");
  r.images_per_second = number(json, "images_per_second");
  r.tuples_per_batch = number(json, "tuples_per_batch");
  r.nonzero_fraction = number(json, "nonzero_fraction");
  return r;
}

std::string comparison_markdown(const std::string& title, const std::vector<ExperimentResult>& results) {
  std::ostringstream md;
  md << "## " << title << "\n\n";
  md << "| experiment | method | miner | distance | margin | dim | epochs | P@1 | P@10 | mAP | mAP@R | k-NN acc | "
        "non-zero | train min | img/s |\n";
  md << "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n";
  for (const auto& r : results) {
    md << "| " << r.name << " | " << setting(r, "method") << " | " << miner_of(r) << " | " << r.distance << " | "
       << r.margin << " | " << embedding_dim(r) << " | " << r.epochs_run << " | " << fixed(metric(r, "P@K", "1"), 4)
       << " | " << fixed(metric(r, "P@K", "10"), 4) << " | " << fixed(metric(r, "mAP"), 4) << " | "
       << fixed(metric(r, "mAP@R"), 4) << " | " << fixed(r.knn_accuracy, 4) << " | "
       << (std::isnan(r.nonzero_fraction) ? "-" : fixed(100.0 * r.nonzero_fraction, 1) + "%") << " | "
       << fixed(r.train_seconds / 60.0, 1) << " | " << fixed(r.images_per_second, 0) << " |\n";
  }
  const bool any_modes =
      std::any_of(results.begin(), results.end(), [](const ExperimentResult& r) { return !r.modes.empty(); });
  if (any_modes) {
    md << "\n### Object relevance modes (same ranking, three meanings of \"correct\")\n\n";
    md << "| experiment |";
    for (const char* mode : kModes) md << ' ' << mode << " mAP | " << mode << " P@1 |";
    md << " weighted nDCG@10 | weighted graded mAP |\n|---|";
    for (size_t i = 0; i < 2 * std::size(kModes) + 2; ++i) md << "---|";
    md << '\n';
    for (const auto& r : results) {
      md << "| " << r.name << " |";
      for (const char* mode : kModes)
        md << ' ' << fixed(mode_metric(r, mode, "mAP"), 4) << " | " << fixed(mode_metric(r, mode, "P@K", "1"), 4) << " |";
      md << ' ' << fixed(mode_metric(r, "weighted", "nDCG@K", "10"), 4) << " | "
         << fixed(mode_metric(r, "weighted", "graded mAP"), 4) << " |\n";
    }
  }
  return md.str();
}

std::string comparison_csv(const std::vector<ExperimentResult>& results) {
  std::vector<std::string> ks = results.empty() ? std::vector<std::string>{} : cutoffs(results.front());
  std::ostringstream csv;
  csv << "experiment,method,miner,distance,margin,embedding_dim,epochs,metric,mAP,mAP@R,R-precision,MRR";
  for (const auto& k : ks) csv << ",P@" << k;
  for (const auto& k : ks) csv << ",R@" << k;
  csv << ",knn_accuracy,tuples_per_batch,nonzero_fraction,train_seconds,images_per_second\n";
  for (const auto& r : results) {
    csv << r.name << ',' << setting(r, "method") << ',' << miner_of(r) << ',' << r.distance << ',' << r.margin
        << ',' << embedding_dim(r) << ',' << r.epochs_run << ',' << r.metric << ',' << fixed(metric(r, "mAP"), 6) << ','
        << fixed(metric(r, "mAP@R"), 6) << ',' << fixed(metric(r, "R-precision"), 6) << ','
        << fixed(metric(r, "MRR"), 6);
    for (const auto& k : ks) csv << ',' << fixed(metric(r, "P@K", k), 6);
    for (const auto& k : ks) csv << ',' << fixed(metric(r, "R@K", k), 6);
    csv << ',' << fixed(r.knn_accuracy, 6) << ',' << fixed(r.tuples_per_batch, 1) << ','
        << fixed(r.nonzero_fraction, 6) << ',' << fixed(r.train_seconds, 1) << ',' << fixed(r.images_per_second, 1)
        << '\n';
  }
  return csv.str();
}

void write_comparison(const std::filesystem::path& folder, const std::string& title,
                      const std::vector<ExperimentResult>& results) {
  nlohmann::json rows = nlohmann::json::array();
  for (const auto& r : results) rows.push_back(r.to_json());
  write_file_atomic(folder / "results.md", comparison_markdown(title, results));
  write_file_atomic(folder / "results.csv", comparison_csv(results));
  write_file_atomic(folder / "results.json", nlohmann::json({{"title", title}, {"experiments", rows}}).dump(2) + "\n");
}

}  // namespace imret::eval
