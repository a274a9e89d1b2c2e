// imret's Faster R-CNN and Mask R-CNN give torchvision 0.14's outputs on the
// same weights: the transformed batch, the five pyramid levels (1e-4
// relative), the RPN proposals, and the final boxes (1e-3 px), scores, labels
// and masks of two images of different sizes batched together. Weights come
// in the zip format with current keys and in the legacy format with the keys
// of torchvision before 0.13.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "detector_reference.hpp"
#include "imret/core/error.hpp"
#include "imret/core/tensor_file.hpp"
#include "imret/detect/detector.hpp"

namespace fs = std::filesystem;
using namespace imret;
using imret::testing::images_of;
using imret::testing::load;
using imret::testing::reference_for;
using imret::testing::sizes_of;

namespace {

detect::DetectorOptions options() { return {}; }  // torchvision's defaults, frozen batch norm eps 0

double relative_error(const torch::Tensor& ours, const torch::Tensor& theirs) {
  return (ours - theirs).abs().max().item<double>() / std::max(theirs.abs().max().item<double>(), 1e-12);
}

// Proposals of equal scores up to rounding may come in either order: the
// largest distance (px) from one of ours to the nearest of theirs, when each
// of theirs is the nearest of exactly one of ours; infinity otherwise.
double matched_distance(const torch::Tensor& ours, const torch::Tensor& theirs) {
  const torch::Tensor distances = torch::cdist(ours, theirs, /*p=*/std::numeric_limits<double>::infinity());
  const auto [nearest, index] = distances.min(1);
  if (std::get<0>(torch::_unique(index)).numel() != theirs.size(0)) return std::numeric_limits<double>::infinity();
  return nearest.max().item<double>();
}

void expect_stages_match(const fs::path& dir, const detect::DetectorStages& stages, bool masks) {
  const nlohmann::json sizes = sizes_of(dir);
  const torch::Tensor batch = load(dir / "batch.npy").reshape(sizes["batch"].get<std::vector<int64_t>>());
  ASSERT_EQ(stages.batch.images.sizes(), batch.sizes());
  EXPECT_LT((stages.batch.images - batch).abs().max().item<double>(), 1e-5);
  for (size_t i = 0; i < stages.batch.sizes.size(); ++i) {
    EXPECT_EQ(stages.batch.sizes[i].first, sizes["image_sizes"][i][0].get<int64_t>());
    EXPECT_EQ(stages.batch.sizes[i].second, sizes["image_sizes"][i][1].get<int64_t>());
  }
  ASSERT_EQ(stages.features.size(), 5u);
  for (size_t level = 0; level < 5; ++level) {
    const auto shape = sizes["features"][level].get<std::vector<int64_t>>();
    const torch::Tensor expected = load(dir / ("features_" + std::to_string(level) + ".npy")).reshape(shape);
    ASSERT_EQ(stages.features[level].sizes(), expected.sizes()) << "level " << level;
    EXPECT_LT(relative_error(stages.features[level], expected), 1e-4) << "level " << level;
  }
  for (size_t i = 0; i < stages.proposals.size(); ++i) {
    const std::string n = std::to_string(i);
    const torch::Tensor proposals = load(dir / ("proposals_" + n + ".npy")).reshape({-1, 4});
    ASSERT_EQ(stages.proposals[i].size(0), proposals.size(0)) << "image " << i;
    EXPECT_LT(matched_distance(stages.proposals[i], proposals), 5e-3) << "image " << i;

    const detect::Detections& d = stages.detections[i];
    const torch::Tensor boxes = load(dir / ("boxes_" + n + ".npy")).reshape({-1, 4});
    ASSERT_GT(boxes.size(0), 0) << "the reference should have detections";
    ASSERT_EQ(d.size(), boxes.size(0)) << "image " << i;
    EXPECT_TRUE(torch::equal(d.labels, load(dir / ("labels_" + n + ".npy")).reshape(-1).to(torch::kInt64)));
    EXPECT_LT((d.boxes - boxes).abs().max().item<double>(), 1e-3) << "image " << i;
    EXPECT_LT((d.scores - load(dir / ("scores_" + n + ".npy")).reshape(-1)).abs().max().item<double>(), 1e-4);
    ASSERT_EQ(d.features.sizes(), (std::vector<int64_t>{d.size(), 1024}));
    ASSERT_EQ(d.has_masks(), masks);
    if (masks) {
      const torch::Tensor expected = load(dir / ("masks_" + n + ".npy")).reshape(d.masks.sizes());
      EXPECT_LT((d.masks - expected).abs().max().item<double>(), 1e-4) << "image " << i;
    }
  }
}

void expect_parity(const std::string& arch, bool masks) {
  torch::set_num_threads(2);  // as the reference: convolutions round differently with other thread counts
  const fs::path dir = reference_for(arch);
  auto detector = detect::Detector::load(dir / "weights_zip.pth", options());
  EXPECT_EQ(detector->arch(), masks ? detect::DetectorArch::MaskRCNN : detect::DetectorArch::FasterRCNN);
  EXPECT_EQ(detector->num_classes(), 91);
  const auto stages = detector->run(images_of(dir, sizes_of(dir)));
  expect_stages_match(dir, stages, masks);
}

// The legacy file with old keys holds the same tensors under other names.
void expect_spellings_agree(const std::string& arch) {
  const fs::path dir = reference_for(arch);
  TensorFile current = load_tensor_file(dir / "weights_zip.pth");
  TensorFile legacy = load_tensor_file(dir / "weights_legacy.pth");
  EXPECT_EQ(legacy.metadata.at("format"), "pth-legacy");
  bool renamed = false;
  for (const auto& [name, tensor] : legacy.tensors) renamed |= name.find("inner_blocks.0.weight") != std::string::npos;
  EXPECT_TRUE(renamed) << "the legacy file should use the old key spelling";
  detect::normalize_detector_keys(legacy);
  std::map<std::string, torch::Tensor> by_name(legacy.tensors.begin(), legacy.tensors.end());
  ASSERT_EQ(by_name.size(), current.tensors.size());
  for (const auto& [name, tensor] : current.tensors) {
    ASSERT_TRUE(by_name.count(name)) << name;
    EXPECT_TRUE(torch::equal(by_name[name], tensor)) << name;
  }
  EXPECT_NO_THROW(detect::Detector::load(dir / "weights_legacy.pth", options()));
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(DetectorParity, FasterRcnnMatchesTorchvision) { expect_parity("fasterrcnn", false); }
TEST(DetectorParity, MaskRcnnMatchesTorchvision) { expect_parity("maskrcnn", true); }
TEST(DetectorParity, LegacyFileWithOldKeysHoldsTheSameWeights) {
  expect_spellings_agree("fasterrcnn");
  expect_spellings_agree("maskrcnn");
}

TEST(DetectorWeights, WrongFilesNameTheFileAndTheKeys) {
  const fs::path dir = reference_for("fasterrcnn");
  TensorFile file = load_tensor_file(dir / "weights_zip.pth");
  // A missing key, a mis-shaped key and an unexpected key, all in one message.
  TensorFile broken = file;
  broken.tensors.erase(broken.tensors.begin());
  for (auto& [name, tensor] : broken.tensors)
    if (name == "roi_heads.box_head.fc7.weight") tensor = torch::zeros({3, 3});
  broken.tensors.emplace_back("extra.weight", torch::zeros({1}));
  const std::string message = error_of([&] { detect::Detector(broken, "broken.pth", options()); });
  EXPECT_NE(message.find("broken.pth"), std::string::npos) << message;
  EXPECT_NE(message.find("missing backbone.body.conv1.weight"), std::string::npos) << message;
  EXPECT_NE(message.find("roi_heads.box_head.fc7.weight is [3, 3], expected [1024, 1024]"), std::string::npos)
      << message;
  EXPECT_NE(message.find("unexpected extra.weight"), std::string::npos) << message;

  // A truncated file.
  const fs::path truncated = imret::testing::reference_folder("detector", "truncated") / "weights.pth";
  {
    std::ifstream in(dir / "weights_zip.pth", std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::ofstream out(truncated, std::ios::binary);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size() / 2));
  }
  const std::string truncated_message = error_of([&] { detect::Detector::load(truncated, options()); });
  EXPECT_NE(truncated_message.find(truncated.string()), std::string::npos) << truncated_message;
}
