#include "imret/eval/comparison.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "support/scratch.hpp"

using imret::eval::ExperimentResult;

namespace {
ExperimentResult result(const std::string& name, const std::string& method, double p1, double map) {
  ExperimentResult r;
  r.name = name;
  r.settings = {{"method", method}, {"distance", "cosine"}, {"margin", 0.2}, {"network", {{"embedding_dim", 64}}}};
  r.miner = method == "triplet" ? "semi-hard" : "-";
  if (method != "classification") {  // as learn::table_distance / table_margin give them
    r.distance = "cosine";
    r.margin = "0.2";
  }
  r.metric = "cosine";
  r.retrieval = {{"mAP", map},
                 {"mAP@R", 0.5},
                 {"R-precision", 0.6},
                 {"MRR", 0.9},
                 {"P@K", {{"1", p1}, {"10", 0.8}, {"5", 0.85}}},
                 {"R@K", {{"1", 0.001}, {"10", 0.01}, {"5", 0.005}}}};
  r.knn_accuracy = 0.9;
  r.epochs_run = 3;
  r.train_seconds = 180;
  r.images_per_second = 950;
  if (method != "classification") {
    r.tuples_per_batch = 250;
    r.nonzero_fraction = 0.25;
  }
  return r;
}

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}
}  // namespace

TEST(Comparison, MarkdownHasOneRowPerExperimentWithItsNumbers) {
  const auto md = lines(imret::eval::comparison_markdown("Fashion", {result("cls", "classification", 0.91234, 0.85),
                                                                     result("tri", "triplet", 0.88, 0.75)}));
  ASSERT_EQ(md.size(), 6u);  // title, blank, header, rule, two rows
  EXPECT_EQ(md[0], "## Fashion");
  EXPECT_EQ(md[4], "| cls | classification | - | - | - | 64 | 3 | 0.9123 | 0.8000 | 0.8500 | 0.5000 | 0.9000 | - | 3.0 | 950 |");
  EXPECT_EQ(md[5], "| tri | triplet | semi-hard | cosine | 0.2 | 64 | 3 | 0.8800 | 0.8000 | 0.7500 | 0.5000 | 0.9000 | 25.0% | 3.0 | 950 |");
}

TEST(Comparison, CsvListsTheCutOffsInNumericOrder) {
  const auto csv = lines(imret::eval::comparison_csv({result("tri", "triplet", 0.88, 0.75)}));
  ASSERT_EQ(csv.size(), 2u);
  EXPECT_NE(csv[0].find(",P@1,P@5,P@10,R@1,R@5,R@10,"), std::string::npos) << csv[0];
  EXPECT_EQ(csv[1].rfind("tri,triplet,semi-hard,cosine,0.2,64,3,cosine,0.750000,", 0), 0u) << csv[1];
}

TEST(Comparison, ResultsSurviveAJsonRoundTripAndAreWrittenAtomically) {
  ExperimentResult r = result("cls", "classification", 0.9, 0.8);
  const ExperimentResult back = ExperimentResult::from_json(r.to_json());
  EXPECT_EQ(back.to_json(), r.to_json());
  EXPECT_TRUE(std::isnan(back.nonzero_fraction));
  // The loss columns follow from the settings: not stored, the reader fills them.
  ExperimentResult triplet = result("tri", "triplet", 0.9, 0.8);
  EXPECT_FALSE(triplet.to_json().contains("distance"));
  EXPECT_EQ(ExperimentResult::from_json(triplet.to_json()).distance, "-");

  const auto folder = imret::testing::scratch_path("comparison", "table");
  imret::eval::write_comparison(folder, "t", {r});
  EXPECT_EQ(imret::testing::count_entries(folder), 3);
  std::ifstream json(folder / "results.json");
  const auto parsed = nlohmann::json::parse(json);
  EXPECT_EQ(parsed.at("experiments").size(), 1u);
  EXPECT_EQ(parsed.at("experiments")[0].at("name"), "cls");
}
