// detect::roi_align against torchvision.ops.roi_align (0.14) run by
// tests/unit/detect/ops_reference.py: random features and rois (several seeds;
// rois partly or fully outside the feature map, tiny, degenerate or inverted; in
// several batch images), aligned true and false, sampling ratios -1, 0
// (adaptive), 1, 2, 3, square and non-square outputs, spatial scales, float32
// (to 1e-5) and float64 (to 1e-10). Each case runs all three kernels: the CPU
// one on N x C x H x W data, the CPU one on channels-last data, and the
// tensor-operation path that other devices run (on the CPU here, in small
// chunks). Also: empty inputs, 1-pixel maps, errors.
#include "imret/detect/roi_align.hpp"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "detect_test_tensors.hpp"
#include "imret/core/error.hpp"
#include "support/reference_files.hpp"

namespace fs = std::filesystem;
using imret::detect::roi_align;
using imret::detect::detail::roi_align_by_gather;
using imret::detect::detail::roi_align_fixed_grid;

namespace {

using imret::testing::save_value;
using imret::testing::table;

struct RoiCase {
  std::string name;
  torch::Tensor input;  // N x C x H x W, float32 or float64
  torch::Tensor rois;   // K x 5, same type
  int64_t pooled_h = 7, pooled_w = 7;
  double spatial_scale = 1;
  int64_t sampling_ratio = 2;
  bool aligned = false;
};

torch::Tensor load_value(const fs::path& dir, const std::string& name, torch::ScalarType type) {
  if (type != torch::kDouble) return imret::testing::load(dir / (name + ".npy"));
  return imret::testing::load(dir / (name + "_hi.npy")).to(torch::kDouble) +
         imret::testing::load(dir / (name + "_lo.npy")).to(torch::kDouble);
}

void expect_close(const torch::Tensor& ours, const torch::Tensor& expected, const std::string& what) {
  ASSERT_EQ(ours.sizes(), expected.sizes()) << what;
  ASSERT_EQ(ours.scalar_type(), expected.scalar_type()) << what;
  const double tolerance = ours.scalar_type() == torch::kDouble ? 1e-10 : 1e-5;
  const torch::Tensor error = (ours - expected).abs() - tolerance * (1 + expected.abs());
  const double worst = error.numel() ? error.max().item<double>() : -1;
  EXPECT_LE(worst, 0) << what << ": max |ours - torchvision| = " << ((ours - expected).abs().max().item<double>())
                      << " beyond " << tolerance;
}

// Runs every case through torchvision (one Python process) and compares our three kernels.
void check_against_torchvision(const std::string& test, std::vector<RoiCase> cases) {
  const fs::path root = imret::testing::reference_folder("detect_roi_align", test);
  for (size_t i = 0; i < cases.size(); ++i) {
    RoiCase& c = cases[i];
    const fs::path dir = root / ("case_" + std::to_string(1000 + i));
    fs::create_directories(dir);
    const torch::Tensor saved = save_value(dir, "input", c.input.reshape({c.input.size(0), -1}));
    if (c.input.scalar_type() == torch::kDouble) c.input = saved.reshape(c.input.sizes());  // else keep its strides
    c.rois = save_value(dir, "rois", c.rois);
    imret::testing::save(dir / "shape.npy", torch::tensor(c.input.sizes().vec(), torch::kFloat).reshape({1, 4}));
    std::ostringstream op;
    op.precision(17);
    op << "roi_align " << (c.input.scalar_type() == torch::kDouble ? "float64" : "float32") << " " << c.pooled_h << " "
       << c.pooled_w << " " << c.spatial_scale << " " << c.sampling_ratio << " " << (c.aligned ? 1 : 0) << "\n";
    std::ofstream(dir / "op.txt") << op.str();
  }
  ASSERT_EQ(imret::testing::run_reference("tests/unit/detect/ops_reference.py", root.string()), 0);
  for (size_t i = 0; i < cases.size(); ++i) {
    const RoiCase& c = cases[i];
    const fs::path dir = root / ("case_" + std::to_string(1000 + i));
    const int64_t k = c.rois.size(0), channels = c.input.size(1);
    const torch::Tensor expected =
        load_value(dir, "out", c.input.scalar_type()).reshape({k, channels, c.pooled_h, c.pooled_w});
    std::ostringstream trace;
    trace << c.name << ": input " << c.input.sizes() << " " << c.input.scalar_type() << ", " << k << " rois, "
          << c.pooled_h << "x" << c.pooled_w << ", scale " << c.spatial_scale << ", sampling " << c.sampling_ratio
          << ", aligned " << c.aligned;
    SCOPED_TRACE(trace.str());
    auto run = [&](const torch::Tensor& input) {
      return roi_align(input, c.rois, c.pooled_h, c.pooled_w, c.spatial_scale, c.sampling_ratio, c.aligned);
    };
    expect_close(run(c.input), expected, "CPU kernel");
    expect_close(run(c.input.contiguous(at::MemoryFormat::ChannelsLast)), expected, "CPU kernel, channels last");
    expect_close(roi_align_by_gather(c.input, c.rois, c.pooled_h, c.pooled_w, c.spatial_scale, c.sampling_ratio,
                                     c.aligned, /*max_chunk_elements=*/5000),
                 expected, "tensor-operation path");
    if (c.sampling_ratio > 0)
      expect_close(roi_align_fixed_grid(c.input, c.rois, c.pooled_h, c.pooled_w, c.spatial_scale, c.sampling_ratio,
                                        c.aligned, /*max_chunk_elements=*/5000),
                   expected, "device path (positions and weights as tensors)");
  }
}

// K rois over an image of (height, width) pixels: corners from -20% to 110% of
// it, sides up to 60% (some tiny), batch indices in [0, images).
torch::Tensor random_rois(int64_t k, int64_t images, double height, double width, torch::ScalarType type) {
  const torch::Tensor batch = torch::randint(images, {k, 1}, torch::kLong).to(torch::kDouble);
  const torch::Tensor x1 = (torch::rand({k, 1}, torch::kDouble) * 1.3 - 0.2) * width;
  const torch::Tensor y1 = (torch::rand({k, 1}, torch::kDouble) * 1.3 - 0.2) * height;
  const torch::Tensor tiny = torch::rand({k, 1}, torch::kDouble).lt(0.15).to(torch::kDouble);
  const torch::Tensor scale = tiny * 0.02 + (1 - tiny) * 0.6;
  const torch::Tensor w = torch::rand({k, 1}, torch::kDouble) * width * scale;
  const torch::Tensor h = torch::rand({k, 1}, torch::kDouble) * height * scale;
  return torch::cat({batch, x1, y1, x1 + w, y1 + h}, 1).to(type);
}

}  // namespace

TEST(RoiAlign, RandomRoisMatchTorchvision) {
  std::vector<RoiCase> cases;
  struct Setting {
    int64_t ph, pw;
    double scale;
    int64_t sampling;
  };
  const std::vector<Setting> settings = {{7, 7, 0.25, 2},  {14, 14, 0.5, 2},    {7, 7, 0.125, 0}, {3, 5, 1.0, 1},
                                         {5, 2, 0.25, -1}, {4, 4, 1.0 / 16, 3}, {1, 1, 0.5, 0}};
  for (int seed = 0; seed < 3; ++seed) {
    torch::manual_seed(seed);
    for (size_t s = 0; s < settings.size(); ++s) {
      const Setting& st = settings[s];
      for (bool aligned : {false, true})
        for (auto type : {torch::kFloat, torch::kDouble}) {
          const int64_t images = 1 + (seed + static_cast<int>(s)) % 3;
          const int64_t channels = (s % 2) ? 5 : 13;  // below 8 channels and not a multiple of 8
          const int64_t height = 9 + 7 * seed + static_cast<int64_t>(s), width = 23 - 3 * seed;
          RoiCase c{"seed " + std::to_string(seed),
                    torch::randn({images, channels, height, width}, torch::kDouble).to(type),
                    random_rois(30, images, height / st.scale, width / st.scale, type),
                    st.ph,
                    st.pw,
                    st.scale,
                    st.sampling,
                    aligned};
          cases.push_back(c);
        }
    }
  }
  check_against_torchvision("random", cases);
}

TEST(RoiAlign, EdgeCasesMatchTorchvision) {
  // Rois on a 10 x 12 map, scale 1: inside, touching and crossing every border,
  // fully outside (within and beyond the one-pixel margin), zero width or
  // height, a point, inverted (x2 < x1), sub-pixel, covering the whole map.
  const torch::Tensor edge = table({{0, 2, 3, 8, 7},
                                    {0, -3, -2, 4, 5},
                                    {0, 8, 6, 14, 13},
                                    {0, -5, -5, -1.5, -1.2},
                                    {0, -0.9, 1, -0.2, 3},
                                    {0, 12, 10, 13, 11},
                                    {0, 11.5, 2, 12.5, 4},
                                    {0, 3, 3, 3, 6},
                                    {0, 3, 3, 7, 3},
                                    {0, 4, 4, 4, 4},
                                    {0, 7, 6, 2, 1},
                                    {0, 5.2, 5.3, 5.4, 5.45},
                                    {0, 0, 0, 12, 10},
                                    {0, -40, -40, 60, 60},
                                    {0, 10.999, 9.999, 11.0, 10.0}},
                                   torch::kDouble);
  std::vector<RoiCase> cases;
  torch::manual_seed(42);
  const torch::Tensor map = torch::randn({1, 9, 10, 12}, torch::kDouble);
  for (bool aligned : {false, true})
    for (int64_t sampling : {0, 1, 2, -1})
      for (auto type : {torch::kFloat, torch::kDouble})
        cases.push_back({"hand-made rois", map.to(type), edge.to(type), 3, 4, 1.0, sampling, aligned});
  // Maps of one row, one column, one pixel.
  for (auto size : {std::pair<int64_t, int64_t>{1, 9}, {9, 1}, {1, 1}})
    for (bool aligned : {false, true}) {
      const torch::Tensor m = torch::randn({2, 10, size.first, size.second});
      cases.push_back({"thin map", m, random_rois(20, 2, size.first * 2.0, size.second * 2.0, torch::kFloat), 2, 3, 0.5,
                       0, aligned});
    }
  // Non-contiguous input, rois in three images, large outputs.
  const torch::Tensor wide = torch::randn({3, 20, 16, 40}).slice(1, 0, 20, 2);
  cases.push_back({"strided input", wide, random_rois(25, 3, 32, 80, torch::kFloat), 14, 14, 0.5, 2, false});
  cases.push_back({"strided input", wide, random_rois(25, 3, 32, 80, torch::kFloat), 6, 9, 0.5, 0, true});
  // Detector-like: features of an FPN level, rois of 8-200 px.
  const torch::Tensor level = torch::randn({1, 16, 50, 76});
  const torch::Tensor corner = torch::rand({60, 2}) * torch::tensor({304.0f, 200.0f});
  const torch::Tensor side = torch::rand({60, 2}) * 192 + 8;
  const torch::Tensor rois = torch::cat({torch::zeros({60, 1}), corner, corner + side}, 1);
  cases.push_back({"detector-like", level, rois, 7, 7, 0.25, 2, false});
  cases.push_back({"detector-like mask head", level, rois, 14, 14, 0.25, 2, false});
  cases.push_back({"detector-like aligned adaptive", level, rois, 7, 7, 0.25, 0, true});
  check_against_torchvision("edge", cases);
}

TEST(RoiAlign, EmptyInputsGiveEmptyOutputs) {
  for (auto type : {torch::kFloat, torch::kDouble}) {
    const torch::Tensor input = torch::randn({2, 6, 8, 9}).to(type);
    const torch::Tensor rois = torch::empty({0, 5}, type);
    for (const torch::Tensor& out :
         {roi_align(input, rois, 7, 5, 0.5, 2, false), roi_align_by_gather(input, rois, 7, 5, 0.5, 2, false)}) {
      EXPECT_EQ(out.sizes(), torch::IntArrayRef({0, 6, 7, 5}));
      EXPECT_EQ(out.scalar_type(), type);
    }
    // No channels: K x 0 x PH x PW.
    const torch::Tensor no_channels =
        roi_align(torch::empty({1, 0, 8, 9}, type), table({{0, 1, 1, 5, 5}}, type), 2, 2, 1.0, 2, true);
    EXPECT_EQ(no_channels.sizes(), torch::IntArrayRef({1, 0, 2, 2}));
  }
}

TEST(RoiAlign, ConstantMapGivesItsValueInsideAndAverageOfSamplesOnBorders) {
  // Independent of torchvision: a constant map gives the constant for rois
  // inside it, 0 for rois more than a pixel outside it.
  const torch::Tensor input = torch::full({1, 3, 8, 8}, 2.5f);
  const torch::Tensor rois = table({{0.0, 1, 1, 6, 6}, {0.0, -20, -20, -12, -12}});
  const torch::Tensor out = roi_align(input, rois, 2, 2, 1.0, 2, false);
  EXPECT_TRUE(torch::allclose(out[0], torch::full({3, 2, 2}, 2.5f)));
  EXPECT_TRUE(torch::equal(out[1], torch::zeros({3, 2, 2})));
}

TEST(RoiAlign, RoisOfAnotherTypeAreConverted) {
  torch::manual_seed(3);
  const torch::Tensor input = torch::randn({2, 4, 10, 10});
  const torch::Tensor rois = random_rois(10, 2, 20, 20, torch::kDouble);
  EXPECT_TRUE(torch::equal(roi_align(input, rois, 3, 3, 0.5, 2, true),
                           roi_align(input, rois.to(torch::kFloat), 3, 3, 0.5, 2, true)));
}

TEST(RoiAlign, BadArgumentsAreUsageErrors) {
  const torch::Tensor input = torch::randn({2, 4, 10, 10});
  const torch::Tensor rois = table({{1.0, 1, 1, 5, 5}});
  EXPECT_THROW(roi_align(torch::randn({4, 10, 10}), rois, 2, 2, 1.0, 2, false), imret::UsageError);
  EXPECT_THROW(roi_align(input, table({{1.0, 1, 5, 5}}), 2, 2, 1.0, 2, false), imret::UsageError);
  EXPECT_THROW(roi_align(input, rois.reshape({5}), 2, 2, 1.0, 2, false), imret::UsageError);
  EXPECT_THROW(roi_align(input, table({{2.0, 1, 1, 5, 5}}), 2, 2, 1.0, 2, false), imret::UsageError);
  EXPECT_THROW(roi_align(input, table({{-1.0, 1, 1, 5, 5}}), 2, 2, 1.0, 2, false), imret::UsageError);
  EXPECT_THROW(roi_align(input, rois, 0, 2, 1.0, 2, false), imret::UsageError);
  EXPECT_THROW(roi_align(input.to(torch::kInt), rois, 2, 2, 1.0, 2, false), imret::UsageError);
  EXPECT_THROW(roi_align(input, rois.to(torch::kLong), 2, 2, 1.0, 2, false), imret::UsageError);
  EXPECT_THROW(roi_align(torch::Tensor(), rois, 2, 2, 1.0, 2, false), imret::UsageError);
  EXPECT_THROW(roi_align_by_gather(input, table({{2.0, 1, 1, 5, 5}}), 2, 2, 1.0, 2, false), imret::UsageError);
  try {
    roi_align(input, table({{2.0, 1, 1, 5, 5}}), 2, 2, 1.0, 2, false);
  } catch (const imret::UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("batch index"), std::string::npos) << e.what();
  }
}
