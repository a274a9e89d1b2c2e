// detect::nms and detect::batched_nms against torchvision.ops (0.14) run by
// tests/unit/detect/ops_reference.py: identical kept indices, in the same order,
// on random boxes (several seeds and sizes, partly outside the image, clustered
// so that IoUs fall near the thresholds), tied scores, degenerate boxes,
// thresholds 0 and 1, one group or many; both algorithms (the CPU loop and the
// mask path that other devices run) are checked. Also: empty inputs, errors.
#include "imret/detect/nms.hpp"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "detect_test_tensors.hpp"
#include "imret/core/error.hpp"
#include "support/reference_files.hpp"

namespace fs = std::filesystem;
using imret::detect::batched_nms;
using imret::detect::nms;
using imret::detect::detail::batched_nms_by_offsets;
using imret::detect::detail::nms_by_mask;

namespace {

using imret::testing::save_value;
using imret::testing::table;

struct NmsCase {
  std::string name;
  torch::Tensor boxes, scores;  // float32 or float64
  torch::Tensor groups;         // int64, batched_nms only
  double threshold = 0.5;
  bool public_is_exact = false;  // batched_nms: torchvision's public function must agree too
};

torch::Tensor load_indices(const fs::path& file) {
  return imret::testing::load(file).reshape({-1}).round().to(torch::kLong);
}

std::string dtype_name(const torch::Tensor& t) { return t.scalar_type() == torch::kDouble ? "float64" : "float32"; }

std::string describe(const torch::Tensor& indices) {
  std::ostringstream out;
  out << "[" << indices.numel() << "]";
  for (int64_t i = 0; i < std::min<int64_t>(indices.numel(), 30); ++i) out << " " << indices[i].item<int64_t>();
  return out.str();
}

// Runs every case through torchvision (one Python process) and compares.
void check_against_torchvision(const std::string& test, std::vector<NmsCase> cases) {
  const fs::path root = imret::testing::reference_folder("detect_nms", test);
  for (size_t i = 0; i < cases.size(); ++i) {
    NmsCase& c = cases[i];
    const fs::path dir = root / ("case_" + std::to_string(1000 + i));
    fs::create_directories(dir);
    c.boxes = save_value(dir, "boxes", c.boxes);
    c.scores = save_value(dir, "scores", c.scores);
    if (c.groups.defined()) imret::testing::save(dir / "groups.npy", c.groups.to(torch::kFloat));
    std::ostringstream op;
    op.precision(17);
    op << (c.groups.defined() ? "batched_nms " : "nms ") << dtype_name(c.boxes) << " " << c.threshold << "\n";
    std::ofstream(dir / "op.txt") << op.str();
  }
  ASSERT_EQ(imret::testing::run_reference("tests/unit/detect/ops_reference.py", root.string()), 0);
  for (size_t i = 0; i < cases.size(); ++i) {
    const NmsCase& c = cases[i];
    const fs::path dir = root / ("case_" + std::to_string(1000 + i));
    const torch::Tensor expected = load_indices(dir / "keep.npy");
    SCOPED_TRACE(c.name + " (K = " + std::to_string(c.boxes.size(0)) + ", threshold " + std::to_string(c.threshold) +
                 ", " + dtype_name(c.boxes) + ")");
    if (!c.groups.defined()) {
      const torch::Tensor ours = nms(c.boxes, c.scores, c.threshold);
      EXPECT_EQ(ours.scalar_type(), torch::kLong);
      EXPECT_TRUE(torch::equal(ours, expected)) << "ours " << describe(ours) << "\ntorchvision " << describe(expected);
      const torch::Tensor masked = nms_by_mask(c.boxes, c.scores, c.threshold);
      EXPECT_TRUE(torch::equal(masked, expected))
          << "mask path " << describe(masked) << "\ntorchvision " << describe(expected);
    } else {
      const torch::Tensor ours = batched_nms(c.boxes, c.scores, c.groups, c.threshold);
      EXPECT_EQ(ours.scalar_type(), torch::kLong);
      EXPECT_TRUE(torch::equal(ours, expected))
          << "ours " << describe(ours) << "\ntorchvision vanilla " << describe(expected);
      const torch::Tensor expected_public = load_indices(dir / "keep_public.npy");
      if (c.public_is_exact || c.boxes.size(0) > 1000)  // above 1000 boxes torchvision's own path is vanilla
        EXPECT_TRUE(torch::equal(ours, expected_public))
            << "ours " << describe(ours) << "\ntorchvision batched_nms " << describe(expected_public);
      if (c.boxes.size(0) <= 1000) {  // torchvision's coordinate trick: what the device path does
        const torch::Tensor offsets = batched_nms_by_offsets(c.boxes, c.scores, c.groups, c.threshold);
        EXPECT_TRUE(torch::equal(offsets, expected_public))
            << "offsets path " << describe(offsets) << "\ntorchvision batched_nms " << describe(expected_public);
      }
    }
  }
}

// K boxes with corners in [lo, hi) and sides in [0, max_side): partly outside a 0..600 image.
torch::Tensor random_boxes(int64_t k, double lo, double hi, double max_side, torch::ScalarType type) {
  const torch::Tensor corner = torch::rand({k, 2}, torch::kDouble) * (hi - lo) + lo;
  const torch::Tensor side = torch::rand({k, 2}, torch::kDouble) * max_side;
  return torch::cat({corner, corner + side}, 1).to(type);
}

// K boxes jittered around a few centres: many pairs with IoUs near any threshold.
torch::Tensor clustered_boxes(int64_t k, int64_t clusters, torch::ScalarType type) {
  const torch::Tensor centre = torch::rand({clusters, 2}, torch::kDouble) * 500;
  const torch::Tensor size = torch::rand({clusters, 2}, torch::kDouble) * 150 + 10;
  const torch::Tensor pick = torch::randint(clusters, {k}, torch::kLong);
  const torch::Tensor c = centre.index_select(0, pick) + torch::randn({k, 2}, torch::kDouble) * 8;
  const torch::Tensor s = size.index_select(0, pick) * (torch::rand({k, 2}, torch::kDouble) * 0.5 + 0.75);
  return torch::cat({c - s / 2, c + s / 2}, 1).to(type);
}

}  // namespace

TEST(Nms, RandomBoxesMatchTorchvision) {
  std::vector<NmsCase> cases;
  for (int seed = 0; seed < 4; ++seed) {
    torch::manual_seed(seed);
    for (double threshold : {0.3, 0.5, 0.7}) {
      const int64_t k = seed % 2 ? 1200 : 250;
      cases.push_back({"uniform seed " + std::to_string(seed),
                       random_boxes(k, -100, 650, 200, torch::kFloat),
                       torch::rand({k}),
                       {},
                       threshold});
      cases.push_back({"clustered seed " + std::to_string(seed),
                       clustered_boxes(k, 12, torch::kFloat),
                       torch::rand({k}),
                       {},
                       threshold});
    }
    cases.push_back({"clustered float64 seed " + std::to_string(seed),
                     clustered_boxes(400, 10, torch::kDouble),
                     torch::rand({400}, torch::kDouble),
                     {},
                     0.5});
  }
  check_against_torchvision("random", cases);
}

TEST(Nms, TiedScoresKeepTorchvisionsOrder) {
  // torchvision's nms sorts stably (ties by increasing index); the final sort
  // of batched_nms is torch's default one, not stable beyond 16 values on the
  // CPU (see BatchedNms.GroupsMatchTorchvision): the same orders, not just the same sets.
  std::vector<NmsCase> cases;
  for (int seed = 0; seed < 3; ++seed) {
    torch::manual_seed(100 + seed);
    const int64_t k = 300;
    cases.push_back({"5 score levels",
                     clustered_boxes(k, 15, torch::kFloat),
                     torch::randint(5, {k}, torch::kLong).to(torch::kFloat) / 4,
                     {},
                     0.5});
    cases.push_back({"all scores equal", random_boxes(k, 0, 600, 120, torch::kFloat), torch::ones({k}), {}, 0.3});
  }
  cases.push_back({"16 equal scores", clustered_boxes(16, 3, torch::kFloat), torch::full({16}, 0.5), {}, 0.4});
  check_against_torchvision("ties", cases);
}

TEST(Nms, EdgeCasesMatchTorchvision) {
  const torch::Tensor edge = table({{10, 10, 50, 50},       // 0
                                    {10, 10, 50, 50},       // 1: same as 0 (IoU 1)
                                    {50, 10, 90, 50},       // 2: touches 0 (IoU 0)
                                    {49, 10, 89, 50},       // 3: overlaps 0 a little
                                    {20, 20, 20, 40},       // 4: zero width
                                    {30, 30, 30, 30},       // 5: a point
                                    {30, 30, 30, 30},       // 6: the same point (IoU 0/0)
                                    {60, 60, 40, 40},       // 7: x2 < x1, y2 < y1
                                    {-80, -80, -20, -20},   // 8: outside the image
                                    {-30, -30, 20, 20},     // 9: partly outside
                                    {0, 0, 1e4, 1e4},       // 10: huge
                                    {11, 11, 49, 49},       // 11: inside 0 (IoU 0.9025)
                                    {100, 100, 110, 110},   // 12
                                    {100, 100, 110, 106}},  // 13: inside 12, IoU 0.6 (in float32 above 0.6)
                                   torch::kFloat);
  const torch::Tensor scores =
      torch::tensor({0.9, 0.8, 0.7, 0.6, 0.95, 0.5, 0.55, 0.85, 0.4, 0.3, 0.2, 0.75, 0.1, 0.05}, torch::kFloat);
  std::vector<NmsCase> cases;
  for (double threshold : {0.0, 1.0, 0.5, 0.6, 0.9025, 0.99, -0.5})
    for (auto type : {torch::kFloat, torch::kDouble})
      cases.push_back({"hand-made", edge.to(type), scores.to(type), {}, threshold});
  cases.push_back({"one box", edge.slice(0, 0, 1), scores.slice(0, 0, 1), {}, 0.5});
  torch::manual_seed(7);
  for (double threshold : {0.0, 1.0}) {
    cases.push_back({"random", clustered_boxes(500, 8, torch::kFloat), torch::rand({500}), {}, threshold});
    // Integer boxes: many exactly equal IoUs, boxes identical to others (IoU exactly 1).
    cases.push_back(
        {"integer boxes", clustered_boxes(500, 4, torch::kFloat).round(), torch::rand({500}), {}, threshold});
  }
  check_against_torchvision("edge", cases);
}

TEST(BatchedNms, GroupsMatchTorchvision) {
  std::vector<NmsCase> cases;
  for (int seed = 0; seed < 3; ++seed) {
    torch::manual_seed(200 + seed);
    for (int64_t k : {300, 2500}) {
      const torch::Tensor boxes = clustered_boxes(k, 20, torch::kFloat);
      cases.push_back({"one group", boxes, torch::rand({k}), torch::full({k}, 3, torch::kLong), 0.5});
      cases.push_back({"5 groups (levels)", boxes, torch::rand({k}), torch::randint(5, {k}, torch::kLong), 0.7});
      cases.push_back({"80 groups (classes)", boxes, torch::rand({k}), torch::randint(1, 81, {k}, torch::kLong), 0.5});
      cases.push_back({"ties, odd ids", boxes, torch::randint(4, {k}, torch::kLong).to(torch::kFloat),
                       torch::randint(-3, 3, {k}, torch::kLong) * 1000, 0.5});
      cases.push_back({"float64", boxes.to(torch::kDouble), torch::rand({k}, torch::kDouble),
                       torch::randint(7, {k}, torch::kLong), 0.6});
    }
    // Integer coordinates and distinct scores: torchvision's coordinate-offset
    // path (below 1000 boxes) computes the very same IoUs, so it must agree too.
    const int64_t k = 600;
    cases.push_back({"integer boxes, offset path", clustered_boxes(k, 20, torch::kFloat).round(),
                     torch::randperm(k, torch::kLong).to(torch::kFloat) / k, torch::randint(6, {k}, torch::kLong), 0.5,
                     /*public_is_exact=*/true});
  }
  for (double threshold : {0.0, 1.0}) {
    torch::manual_seed(300);
    cases.push_back({"threshold", clustered_boxes(400, 10, torch::kFloat), torch::rand({400}),
                     torch::randint(3, {400}, torch::kLong), threshold});
  }
  check_against_torchvision("batched", cases);
}

TEST(Nms, EmptyInputsGiveEmptyIndices) {
  for (auto type : {torch::kFloat, torch::kDouble}) {
    const torch::Tensor boxes = torch::empty({0, 4}, type), scores = torch::empty({0}, type);
    for (const torch::Tensor& keep : {nms(boxes, scores, 0.5), nms_by_mask(boxes, scores, 0.5),
                                      batched_nms(boxes, scores, torch::empty({0}, torch::kLong), 0.5)}) {
      EXPECT_EQ(keep.sizes(), torch::IntArrayRef({0}));
      EXPECT_EQ(keep.scalar_type(), torch::kLong);
    }
  }
}

TEST(Nms, KeptIndicesAreByDecreasingScoreAndNeverOverlapTooMuch) {
  // Properties of any correct result, independent of torchvision.
  torch::manual_seed(11);
  const torch::Tensor boxes = clustered_boxes(800, 10, torch::kFloat), scores = torch::rand({800});
  const torch::Tensor keep = nms(boxes, scores, 0.4);
  ASSERT_GT(keep.numel(), 1);
  const torch::Tensor kept_scores = scores.index_select(0, keep);
  EXPECT_TRUE(kept_scores.slice(0, 1).le(kept_scores.slice(0, 0, -1)).all().item<bool>());
  const torch::Tensor b = boxes.index_select(0, keep);
  const torch::Tensor lt = torch::max(b.slice(1, 0, 2).unsqueeze(1), b.slice(1, 0, 2).unsqueeze(0));
  const torch::Tensor rb = torch::min(b.slice(1, 2, 4).unsqueeze(1), b.slice(1, 2, 4).unsqueeze(0));
  const torch::Tensor inter = (rb - lt).clamp_min(0).prod(2);
  const torch::Tensor area = (b.select(1, 2) - b.select(1, 0)) * (b.select(1, 3) - b.select(1, 1));
  const torch::Tensor iou = inter / (area.unsqueeze(1) + area.unsqueeze(0) - inter);
  EXPECT_LE((iou - torch::eye(keep.size(0))).max().item<float>(), 0.4f);
}

TEST(Nms, BadShapesAreUsageErrors) {
  const torch::Tensor boxes = torch::rand({5, 4}), scores = torch::rand({5});
  EXPECT_THROW(nms(torch::rand({5, 3}), scores, 0.5), imret::UsageError);
  EXPECT_THROW(nms(torch::rand({5, 4, 1}), scores, 0.5), imret::UsageError);
  EXPECT_THROW(nms(boxes, torch::rand({4}), 0.5), imret::UsageError);
  EXPECT_THROW(nms(boxes, torch::rand({5, 1}), 0.5), imret::UsageError);
  EXPECT_THROW(nms(boxes.to(torch::kInt), scores, 0.5), imret::UsageError);
  EXPECT_THROW(nms(boxes, torch::Tensor(), 0.5), imret::UsageError);
  EXPECT_THROW(nms_by_mask(torch::rand({5, 3}), scores, 0.5), imret::UsageError);
  EXPECT_THROW(batched_nms(boxes, scores, torch::zeros({4}, torch::kLong), 0.5), imret::UsageError);
  EXPECT_THROW(batched_nms(boxes, scores, torch::zeros({5}), 0.5), imret::UsageError);
  EXPECT_THROW(batched_nms(torch::rand({5, 2}), scores, torch::zeros({5}, torch::kLong), 0.5), imret::UsageError);
  try {
    nms(torch::rand({5, 3}), scores, 0.5);
  } catch (const imret::UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("K x 4"), std::string::npos) << e.what();
  }
}
