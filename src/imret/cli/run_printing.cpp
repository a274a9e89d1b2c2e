#include "imret/cli/run_printing.hpp"

#include <cstdio>

#include "imret/cli/common.hpp"

namespace imret::cli {

void print_metrics(const pipeline::EvaluationOutcome& outcome) {
  const nlohmann::json& metrics = outcome.metrics;
  std::printf("%s", outcome.table.c_str());
  if (metrics.contains("knn"))
    std::printf("k-NN (k=%lld) accuracy: %.4f\n", static_cast<long long>(metrics["knn"].value("k", 0)),
                metrics["knn"].value("accuracy", 0.0));
}

void RunPrinter::step(int number, int total, const std::string& title) {
  std::printf("%s== %d/%d %s ==\n", number > 1 ? "\n" : "", number, total, title.c_str());
}

void RunPrinter::trained(const learn::TrainResult& result, const std::filesystem::path& run_dir) {
  print_training_summary(result, run_dir);
}

void RunPrinter::evaluated(const pipeline::EvaluationOutcome& outcome) { print_metrics(outcome); }

void RunPrinter::reporting() { std::printf("\n== report: metrics, curves, embedding maps, retrieval grids ==\n"); }

void RunPrinter::reranking(const std::string& name) { std::printf("\n== re-ranking: %s ==\n", name.c_str()); }

void RunPrinter::row_reused(size_t number, size_t total, const pipeline::PlannedRow& row,
                            const std::filesystem::path& result) {
  std::printf("[%zu/%zu] %s: reusing %s\n", number, total, row.name.c_str(), result.c_str());
}

void RunPrinter::row_started(size_t number, size_t total, const pipeline::PlannedRow& row) {
  std::printf("\n[%zu/%zu] %s%s%s\n", number, total, row.name.c_str(), row.description.empty() ? "" : ": ",
              row.description.c_str());
}

}  // namespace imret::cli
