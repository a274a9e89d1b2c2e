// pipeline::visualize_to_folder: the maps it writes, what it tells its
// caller after each, and settings refused (naming the setting) before the
// first map is computed.
#include <gtest/gtest.h>

#include <fstream>

#include "imret/core/setting_error.hpp"
#include "imret/pipeline/visualize_job.hpp"
#include "pipeline/small_data.hpp"

namespace imret {
namespace {

namespace fs = std::filesystem;

fs::path saved_set(const std::string& name) {
  const EmbeddingSet set = testing::clustered_set(3, 20, 5, 0.3, 31);
  const fs::path folder = testing::scratch_path("pipeline", name);
  save_embedding_set(folder, set.embeddings.values.data(), set.embeddings.rows, set.embeddings.cols, set.items, {});
  return folder;
}

int lines_of(const fs::path& file) {
  std::ifstream in(file);
  int lines = 0;
  for (std::string line; std::getline(in, line);) ++lines;
  return lines;
}

TEST(VisualizeJob, WritesEachMapAndTellsTheCaller) {
  pipeline::VisualizeRequest request;
  request.embeddings = saved_set("viz_source").string();
  request.methods = {"pca"};
  request.formats = {};  // the CSV files only
  const fs::path out = testing::scratch_path("pipeline", "viz_out");
  std::vector<pipeline::MapWritten> maps;
  pipeline::visualize_to_folder(request, out, [&](const pipeline::MapWritten& map) { maps.push_back(map); });
  ASSERT_EQ(maps.size(), 1u);
  EXPECT_EQ(maps[0].method, "pca");
  EXPECT_EQ(maps[0].points, 60);
  EXPECT_EQ(maps[0].files, std::vector<std::string>{"pca.csv"});
  EXPECT_EQ(lines_of(out / "pca.csv"), 61);  // header + one line per point
  std::ifstream summary(out / "visualize.json");
  EXPECT_EQ(nlohmann::json::parse(summary)["pca"], maps[0].details);
  // Three tight, separated clusters stay apart in 2-D.
  EXPECT_GT(maps[0].details["knn_accuracy"].get<double>(), 0.95);
  EXPECT_NE(pipeline::map_quality_text(maps[0].details).find("-NN accuracy in 2-D"), std::string::npos);
}

TEST(VisualizeJob, BadSettingsAreNamedBeforeAnyMap) {
  pipeline::VisualizeRequest request;
  request.embeddings = saved_set("viz_bad").string();
  request.methods = {"pca"};
  const fs::path out = testing::scratch_path("pipeline", "viz_bad_out");
  const auto setting_of = [&](const pipeline::VisualizeRequest& r) {
    try {
      pipeline::visualize_to_folder(r, out);
    } catch (const SettingError& e) {
      return e.setting() + "|" + e.what();
    }
    return std::string("(no SettingError)");
  };
  pipeline::VisualizeRequest gif = request;
  gif.formats = {"png", "gif"};
  EXPECT_EQ(setting_of(gif), "format|format gif: expected png or svg");
  pipeline::VisualizeRequest tsne = request;
  tsne.map.tsne.method = "fast";
  EXPECT_EQ(setting_of(tsne), "tsne_method|tsne_method fast: expected barnes_hut or exact");
  pipeline::VisualizeRequest thumbnails = request;
  thumbnails.thumbnails = -1;
  EXPECT_EQ(setting_of(thumbnails), "thumbnails|thumbnails must be >= 0");
  EXPECT_FALSE(fs::exists(out));
}

}  // namespace
}  // namespace imret
