#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "imret/data/transforms.hpp"
#include "test_util.hpp"

using namespace imret::data;
using imret::data::testing::throws_with;

namespace {

std::mt19937_64 rng_for_test(uint64_t seed = 1) { return std::mt19937_64(seed); }

// 1 x h x w image whose pixel (r, c) holds r * w + c.
at::Tensor ramp(int64_t h, int64_t w) { return torch::arange(h * w, torch::kFloat32).view({1, h, w}); }

std::vector<int64_t> shape(const at::Tensor& t) { return t.sizes().vec(); }

}  // namespace

TEST(Resize, ShorterSideFollowsTorchvision) {
  auto rng = rng_for_test();
  Resize resize(50);
  EXPECT_EQ(shape(resize.apply(torch::rand({3, 100, 200}), rng)), (std::vector<int64_t>{3, 50, 100}));
  EXPECT_EQ(shape(resize.apply(torch::rand({3, 200, 100}), rng)), (std::vector<int64_t>{3, 100, 50}));
  // int(20 * 47 / 30) = int(31.33) = 31
  EXPECT_EQ(Resize(20).output_size(30, 47), (std::pair<int64_t, int64_t>{20, 31}));
  EXPECT_EQ(Resize(20).output_size(47, 30), (std::pair<int64_t, int64_t>{31, 20}));
  EXPECT_EQ(Resize(64).output_size(32, 32), (std::pair<int64_t, int64_t>{64, 64}));
  EXPECT_EQ(shape(Resize(7, 9).apply(torch::rand({3, 100, 200}), rng)), (std::vector<int64_t>{3, 7, 9}));
  EXPECT_EQ(shape(Resize(10).apply(torch::rand({4, 3, 20, 30}), rng)), (std::vector<int64_t>{4, 3, 10, 15}));
}

TEST(Resize, SameSizeIsUnchanged) {
  auto rng = rng_for_test();
  auto image = torch::rand({3, 10, 12});
  EXPECT_TRUE(Resize(10).apply(image, rng).equal(image));
}

TEST(Resize, DownscaleIsAntialiasedLikePil) {
  auto rng = rng_for_test();
  // Halving [0 1 2 3] with PIL's triangle filter (support 2 input pixels):
  // out0 = (3*0 + 3*1 + 1*2) / 7, out1 = (1*1 + 3*2 + 3*3) / 7.
  auto out = Resize(1, 2).apply(torch::tensor({0.f, 1.f, 2.f, 3.f}).view({1, 1, 4}), rng);
  ASSERT_EQ(shape(out), (std::vector<int64_t>{1, 1, 2}));
  EXPECT_NEAR(out[0][0][0].item<float>(), 5.0f / 7.0f, 1e-5);
  EXPECT_NEAR(out[0][0][1].item<float>(), 16.0f / 7.0f, 1e-5);
}

TEST(Resize, UpscaleIsBilinearWithHalfPixelCentres) {
  auto rng = rng_for_test();
  auto out = Resize(1, 4).apply(torch::tensor({0.f, 1.f}).view({1, 1, 2}), rng);
  EXPECT_TRUE(torch::allclose(out.flatten(), torch::tensor({0.f, 0.25f, 0.75f, 1.f})));
  auto constant = Resize(37).apply(torch::full({3, 50, 80}, 0.25f), rng);
  EXPECT_TRUE(torch::allclose(constant, torch::full_like(constant, 0.25f)));
}

TEST(CenterCrop, UsesTorchvisionRounding) {
  auto rng = rng_for_test();
  // top = left = round((5 - 2) / 2) = round(1.5) = 2
  auto a = CenterCrop(2).apply(ramp(5, 5), rng);
  EXPECT_TRUE(a.equal(torch::tensor({12.f, 13.f, 17.f, 18.f}).view({1, 2, 2})));
  // round(2.5) = 2 (halves to even, as Python), not 3
  auto b = CenterCrop(2).apply(ramp(7, 7), rng);
  EXPECT_EQ(b[0][0][0].item<float>(), 2 * 7 + 2);
  // 4 x 6 -> 2 x 3: top = round(1) = 1, left = round(1.5) = 2
  auto c = CenterCrop(2, 3).apply(ramp(4, 6), rng);
  EXPECT_TRUE(c.equal(torch::tensor({8.f, 9.f, 10.f, 14.f, 15.f, 16.f}).view({1, 2, 3})));
  // batches
  auto batch = torch::stack({ramp(5, 5), ramp(5, 5) + 100});
  auto d = CenterCrop(2).apply(batch, rng);
  EXPECT_EQ(shape(d), (std::vector<int64_t>{2, 1, 2, 2}));
  EXPECT_EQ(d[1][0][0][0].item<float>(), 112.0f);
}

TEST(CenterCrop, PadsSmallImagesWithZerosLikeTorchvision) {
  auto rng = rng_for_test();
  // 1 x 1 -> 4 x 4: padding left/top (4-1)//2 = 1, right/bottom 2.
  auto out = CenterCrop(4).apply(torch::full({1, 1, 1}, 7.f), rng);
  ASSERT_EQ(shape(out), (std::vector<int64_t>{1, 4, 4}));
  EXPECT_EQ(out[0][1][1].item<float>(), 7.f);
  EXPECT_EQ(out.sum().item<float>(), 7.f);
}

TEST(RandomHorizontalFlip, FlipsWithProbabilityP) {
  auto rng = rng_for_test();
  auto image = ramp(2, 3);
  EXPECT_TRUE(RandomHorizontalFlip(1.0).apply(image, rng).equal(torch::tensor({2.f, 1.f, 0.f, 5.f, 4.f, 3.f}).view({1, 2, 3})));
  EXPECT_TRUE(RandomHorizontalFlip(0.0).apply(image, rng).equal(image));
  int flipped = 0;
  for (int k = 0; k < 1000; ++k) flipped += !RandomHorizontalFlip(0.5).apply(image, rng).equal(image);
  EXPECT_GT(flipped, 400);
  EXPECT_LT(flipped, 600);
}

TEST(Normalize, SubtractsMeanAndDividesByStdPerChannel) {
  auto rng = rng_for_test();
  auto image = torch::stack({torch::full({2, 2}, 0.5f), torch::full({2, 2}, 1.0f)});
  auto out = Normalize({0.5, 0.2}, {0.25, 0.4}).apply(image, rng);
  EXPECT_FLOAT_EQ(out[0][1][1].item<float>(), 0.0f);
  EXPECT_FLOAT_EQ(out[1][0][0].item<float>(), 2.0f);
  auto batch = Normalize({0.5, 0.2}, {0.25, 0.4}).apply(torch::stack({image, image}), rng);
  EXPECT_TRUE(batch[1].equal(out));
  EXPECT_TRUE(image.equal(torch::stack({torch::full({2, 2}, 0.5f), torch::full({2, 2}, 1.0f)})));  // input intact
  auto grey = Normalize({0.5}, {0.5}).apply(torch::ones({3, 2, 2}), rng);  // one value: every channel
  EXPECT_TRUE(grey.equal(torch::ones({3, 2, 2})));
}

TEST(Normalize, RejectsChannelMismatchAndBadStd) {
  auto rng = rng_for_test();
  Normalize rgb({0.485, 0.456, 0.406}, {0.229, 0.224, 0.225});
  EXPECT_TRUE(throws_with<imret::Error>([&] { rgb.apply(torch::ones({1, 28, 28}), rng); }, "3 mean/std values"));
  EXPECT_THROW(Normalize({0.5}, {0.0}), imret::Error);
  EXPECT_THROW(Normalize({0.5, 0.5}, {0.5}), imret::Error);
}

TEST(RandomResizedCrop, BoxesRespectScaleAndBounds) {
  auto rng = rng_for_test(3);
  RandomResizedCrop crop(32);
  for (int k = 0; k < 500; ++k) {
    auto box = crop.sample_box(100, 150, rng);
    ASSERT_GE(box.top, 0);
    ASSERT_GE(box.left, 0);
    ASSERT_LE(box.top + box.height, 100);
    ASSERT_LE(box.left + box.width, 150);
    const double fraction = static_cast<double>(box.height * box.width) / (100.0 * 150.0);
    ASSERT_GE(fraction, 0.07);
    ASSERT_LE(fraction, 1.0);
    const double ratio = static_cast<double>(box.width) / static_cast<double>(box.height);
    ASSERT_GT(ratio, 0.70);
    ASSERT_LT(ratio, 1.40);
  }
}

TEST(RandomResizedCrop, FallsBackToTheCentralCrop) {
  auto rng = rng_for_test();
  // An area fraction of 2..3 is never possible: torchvision's fallback.
  RandomResizedCrop impossible(8, {2.0, 3.0});
  auto wide = impossible.sample_box(10, 20, rng);  // ratio 2 > 4/3: h = 10, w = round(10 * 4/3) = 13
  EXPECT_EQ(wide.height, 10);
  EXPECT_EQ(wide.width, 13);
  EXPECT_EQ(wide.top, 0);
  EXPECT_EQ(wide.left, 3);
  auto tall = impossible.sample_box(20, 10, rng);  // ratio 0.5 < 3/4: w = 10, h = round(10 / 0.75) = 13
  EXPECT_EQ(tall.height, 13);
  EXPECT_EQ(tall.width, 10);
  EXPECT_EQ(tall.top, 3);
  auto square = impossible.sample_box(10, 10, rng);
  EXPECT_EQ(square.height, 10);
  EXPECT_EQ(square.width, 10);
}

TEST(RandomResizedCrop, OutputSizeAndDeterminism) {
  RandomResizedCrop crop(16);
  auto image = torch::rand({3, 40, 50});
  auto rng_a = rng_for_test(9), rng_b = rng_for_test(9);
  auto a = crop.apply(image, rng_a);
  EXPECT_EQ(shape(a), (std::vector<int64_t>{3, 16, 16}));
  EXPECT_TRUE(a.equal(crop.apply(image, rng_b)));
  EXPECT_FALSE(a.equal(crop.apply(image, rng_b)));  // the rng moved on
  auto keep = RandomResizedCrop(0).apply(image, rng_a);
  EXPECT_EQ(shape(keep), (std::vector<int64_t>{3, 40, 50}));
}

TEST(Compose, AppliesInOrderAndDescribes) {
  auto rng = rng_for_test();
  Compose both({std::make_shared<CenterCrop>(2), std::make_shared<Normalize>(std::vector<double>{1.0},
                                                                              std::vector<double>{2.0})});
  auto out = both.apply(ramp(5, 5), rng);
  EXPECT_TRUE(out.equal((torch::tensor({12.f, 13.f, 17.f, 18.f}).view({1, 2, 2}) - 1) / 2));
  EXPECT_TRUE(both.batchable());
  EXPECT_EQ(both.describe(), "Compose(CenterCrop(2), Normalize(mean=[1], std=[2]))");
  Compose random({std::make_shared<RandomHorizontalFlip>(0.5)});
  EXPECT_FALSE(random.batchable());
}

TEST(Preprocess, JsonRoundTripAndValidation) {
  Preprocess p;
  p.resize = 256;
  p.crop = 224;
  p.mean = {0.485, 0.456, 0.406};
  p.std = {0.229, 0.224, 0.225};
  auto back = Preprocess::from_json(p.to_json());
  EXPECT_EQ(back.resize, 256);
  EXPECT_EQ(back.crop, 224);
  EXPECT_EQ(back.mean, p.mean);
  EXPECT_EQ(back.std, p.std);
  auto defaults = Preprocess::from_json(nlohmann::json::object());
  EXPECT_EQ(defaults.resize, 0);
  EXPECT_EQ(defaults.mean, std::vector<double>{0.5});
  EXPECT_THROW(Preprocess::from_json(nlohmann::json{{"resize", "big"}}), imret::Error);
  EXPECT_THROW(Preprocess::from_json(nlohmann::json{{"crop", -1}}), imret::Error);
  EXPECT_THROW(Preprocess::from_json(nlohmann::json{{"mean", {0.1, 0.2}}, {"std", {0.1}}}), imret::Error);
  EXPECT_THROW(Preprocess::from_json(nlohmann::json::array()), imret::Error);
}

TEST(Preprocess, FactoriesBuildTheDocumentedPipelines) {
  Preprocess p;
  p.resize = 36;
  p.crop = 32;
  auto eval = make_eval_transform(p);
  EXPECT_EQ(eval->describe(), "Compose(Resize(36), CenterCrop(32), Normalize(mean=[0.5], std=[0.5]))");
  EXPECT_TRUE(eval->batchable());
  auto rng = rng_for_test();
  auto out = eval->apply(torch::full({1, 40, 60}, 1.0f), rng);
  EXPECT_EQ(shape(out), (std::vector<int64_t>{1, 32, 32}));
  EXPECT_NEAR(out.min().item<float>(), 1.0f, 1e-5);  // (1 - 0.5) / 0.5
  EXPECT_EQ(make_eval_transform(Preprocess{})->describe(), "Compose(Normalize(mean=[0.5], std=[0.5]))");
  auto train = make_train_transform(p, true);
  EXPECT_FALSE(train->batchable());
  EXPECT_NE(train->describe().find("RandomResizedCrop(32"), std::string::npos);
  EXPECT_NE(train->describe().find("RandomHorizontalFlip(p=0.5)"), std::string::npos);
  EXPECT_EQ(shape(train->apply(torch::rand({1, 40, 60}), rng)), (std::vector<int64_t>{1, 32, 32}));
  EXPECT_EQ(make_train_transform(p, false)->describe(), eval->describe());
}
