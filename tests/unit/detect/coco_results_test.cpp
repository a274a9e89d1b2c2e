#include "imret/detect/coco_results.hpp"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "detect_test_tensors.hpp"
#include "imret/core/error.hpp"
#include "imret/detect/coco_categories.hpp"
#include "support/errors.hpp"
#include "support/reference_files.hpp"
#include "support/scratch.hpp"

using namespace imret::detect;
using imret::testing::error_of;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

using imret::testing::bits_of;

fs::path scratch(const std::string& name) { return imret::testing::scratch_path("detect_results", name); }

void write_text(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
}

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Boxes with awkward values: fractions that float32 cannot hold exactly,
// corners whose difference rounds in float32, an empty box, negatives.
Detections box_detections(int64_t k, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> coordinate(-3.f, 700.f), size(0.f, 300.f), score(0.f, 1.f);
  std::vector<float> boxes, scores;
  std::vector<int64_t> labels;
  for (int64_t i = 0; i < k; ++i) {
    const float x1 = coordinate(rng), y1 = coordinate(rng);
    boxes.insert(boxes.end(), {x1, y1, x1 + size(rng), y1 + size(rng)});
    scores.push_back(score(rng));
    labels.push_back(1 + static_cast<int64_t>(rng() % 90));
  }
  if (k > 2) {  // fixed awkward ones
    const float fixed[8] = {0.1f, 0.2f, 639.99994f, 479.99997f, 123.456f, 7.f, 123.456f, 7.f};
    std::copy(fixed, fixed + 8, boxes.begin());
    scores[0] = 0.987654321f;
    scores[1] = 1e-7f;
  }
  std::sort(scores.begin(), scores.end(), std::greater<float>());
  Detections d;
  d.boxes = torch::tensor(boxes).reshape({k, 4});
  d.scores = torch::tensor(scores);
  d.labels = torch::tensor(labels, torch::kLong);
  return d;
}

// Masks K x 1 x H x W of probabilities: discs of high probability in low
// noise, with values exactly at the 0.5 threshold (not set).
torch::Tensor disc_masks(int64_t k, int64_t height, int64_t width, uint32_t seed) {
  torch::manual_seed(seed);
  torch::Tensor masks = torch::rand({k, 1, height, width}) * 0.45f;
  const torch::Tensor ys = torch::arange(height).view({height, 1}).to(torch::kFloat);
  const torch::Tensor xs = torch::arange(width).view({1, width}).to(torch::kFloat);
  for (int64_t i = 0; i < k; ++i) {
    const float cx = static_cast<float>(width) * (0.2f + 0.15f * static_cast<float>(i % 5));
    const float cy = static_cast<float>(height) * (0.3f + 0.1f * static_cast<float>(i % 4));
    const float r = 5.f + 3.f * static_cast<float>(i);
    const torch::Tensor inside = (xs - cx).pow(2) + (ys - cy).pow(2) < r * r;
    masks[i][0].masked_fill_(inside, 0.75f);
  }
  masks.index_put_({0, 0, 0, 0}, 0.5f);
  masks.index_put_({0, 0, 1, 0}, 0.5001f);
  return masks;
}

// Runs the reference: every result as Python's json module reads it, masks decoded.
json python_view(const fs::path& results) {
  const fs::path out = results.string() + ".python.json";
  EXPECT_EQ(imret::testing::run_reference("tests/unit/detect/rle_reference.py",
                                          "results " + results.string() + " " + out.string()),
            0);
  json view;
  std::ifstream(out) >> view;
  return view["results"];
}

}  // namespace

TEST(CocoResults, PythonReadsWhatIsWritten) {
  Detections first = box_detections(6, 1);
  first.masks = disc_masks(6, 48, 64, 1);
  Detections none;  // an image without detections adds nothing
  Detections third = box_detections(3, 2);
  third.masks = disc_masks(3, 30, 20, 2);
  const std::vector<std::pair<int64_t, Detections>> images = {{139, first}, {5, none}, {900100000001, third}};
  const fs::path file = scratch("python.json");
  write_coco_results(file, images);

  const json results = python_view(file);
  ASSERT_EQ(results.size(), 9u);
  size_t r = 0;
  for (const auto& [image_id, detections] : images) {
    for (int64_t i = 0; i < detections.size(); ++i, ++r) {
      SCOPED_TRACE("result " + std::to_string(r));
      const json& result = results[r];
      EXPECT_EQ(result["image_id"].get<int64_t>(), image_id);
      EXPECT_EQ(result["category_id"].get<int64_t>(), detections.labels[i].item<int64_t>());
      // The bbox: corners exactly, width and height as float32 differences.
      const auto b = detections.boxes[i];
      const float x1 = b[0].item<float>(), y1 = b[1].item<float>(), x2 = b[2].item<float>(), y2 = b[3].item<float>();
      const std::vector<double> bbox = result["bbox"].get<std::vector<double>>();
      ASSERT_EQ(bbox.size(), 4u);
      EXPECT_EQ(static_cast<float>(bbox[0]), x1);
      EXPECT_EQ(static_cast<float>(bbox[1]), y1);
      EXPECT_EQ(static_cast<float>(bbox[2]), x2 - x1);
      EXPECT_EQ(static_cast<float>(bbox[3]), y2 - y1);
      EXPECT_NEAR(bbox[2], static_cast<double>(x2) - x1, 1e-3);
      // Scores to 6 significant digits.
      const double score = detections.scores[i].item<float>();
      EXPECT_NEAR(result["score"].get<double>(), score, 5e-6 * std::abs(score) + 1e-37);
      // The mask, decoded by the reference: the probabilities above 0.5.
      const torch::Tensor expected = detections.masks[i][0] > 0.5f;
      EXPECT_EQ(result["size"].get<std::vector<int64_t>>(), (std::vector<int64_t>{expected.size(0), expected.size(1)}));
      EXPECT_EQ(result["bits"].get<std::string>(), bits_of(expected));
      EXPECT_EQ(result["area"].get<int64_t>(), expected.sum().item<int64_t>());
    }
  }
  // The threshold is strict: 0.5 is not set, 0.5001 is.
  EXPECT_EQ(results[0]["bits"].get<std::string>()[0], '0');
  EXPECT_EQ(results[0]["bits"].get<std::string>()[64], '1');
}

TEST(CocoResults, ReadsBackWhatItWrote) {
  Detections a = box_detections(7, 3);
  a.masks = disc_masks(7, 40, 50, 3);
  Detections b = box_detections(2, 4);
  b.masks = disc_masks(2, 40, 50, 4);
  const fs::path file = scratch("round_trip.json");
  write_coco_results(file, {{42, a}, {7, Detections{}}, {3, b}});
  const std::vector<CocoResultImage> images = read_coco_results(file);
  ASSERT_EQ(images.size(), 2u);  // the image without detections is not in the file
  EXPECT_EQ(images[0].image_id, 42);
  EXPECT_EQ(images[1].image_id, 3);
  for (size_t n = 0; n < 2; ++n) {
    const Detections& d = n == 0 ? a : b;
    const CocoResultImage& image = images[n];
    const int64_t k = d.size();
    ASSERT_EQ(image.bboxes.sizes(), (std::vector<int64_t>{k, 4}));
    EXPECT_EQ(image.bboxes.scalar_type(), torch::kFloat);
    // Exactly x, y, x2 - x1, y2 - y1 in float32.
    const torch::Tensor xywh = torch::cat({d.boxes.slice(1, 0, 2), d.boxes.slice(1, 2, 4) - d.boxes.slice(1, 0, 2)}, 1);
    EXPECT_TRUE(torch::equal(image.bboxes, xywh));
    EXPECT_TRUE(torch::allclose(image.scores, d.scores, 5e-6, 1e-30));
    EXPECT_TRUE(torch::equal(image.labels, d.labels));
    ASSERT_EQ(image.masks.size(), static_cast<size_t>(k));
    for (int64_t i = 0; i < k; ++i) {
      EXPECT_TRUE(torch::equal(decode_mask(image.masks[i]), (d.masks[i][0] > 0.5f).to(torch::kUInt8))) << i;
    }
  }
}

TEST(CocoResults, BoxesOnlyAndOptions) {
  Detections d = box_detections(4, 5);
  d.masks = disc_masks(4, 10, 10, 5);
  const fs::path boxes_only = scratch("boxes_only.json");
  CocoResultsOptions no_masks;
  no_masks.masks = false;
  write_coco_results(boxes_only, {{1, d}}, no_masks);
  EXPECT_EQ(read_text(boxes_only).find("segmentation"), std::string::npos);
  const std::vector<CocoResultImage> images = read_coco_results(boxes_only);
  ASSERT_EQ(images.size(), 1u);
  EXPECT_TRUE(images[0].masks.empty());
  for (const json& result : python_view(boxes_only)) EXPECT_TRUE(result["bits"].is_null());

  // A higher mask threshold sets fewer pixels.
  CocoResultsOptions strict;
  strict.mask_threshold = 0.8f;
  const fs::path file = scratch("strict.json");
  write_coco_results(file, {{1, d}}, strict);
  for (const CocoResultImage& image : read_coco_results(file)) {
    for (const Rle& rle : image.masks) EXPECT_EQ(rle_area(rle), 0);  // the discs are 0.75
  }

  // Masks already binarised (uint8 or bool, as a caller may keep them to
  // save memory) give the same file as their probabilities.
  const fs::path from_probabilities = scratch("from_probabilities.json");
  const fs::path from_bytes = scratch("from_bytes.json");
  const fs::path from_bools = scratch("from_bools.json");
  write_coco_results(from_probabilities, {{1, d}});
  Detections binary = d;
  binary.masks = (d.masks > 0.5f).to(torch::kUInt8);
  write_coco_results(from_bytes, {{1, binary}});
  binary.masks = d.masks > 0.5f;
  write_coco_results(from_bools, {{1, binary}});
  EXPECT_NE(read_text(from_probabilities).find("segmentation"), std::string::npos);
  EXPECT_EQ(read_text(from_bytes), read_text(from_probabilities));
  EXPECT_EQ(read_text(from_bools), read_text(from_probabilities));

  // No images at all, and images without detections: an empty array.
  const fs::path empty = scratch("empty.json");
  write_coco_results(empty, {});
  EXPECT_EQ(read_text(empty), "[]\n");
  EXPECT_TRUE(python_view(empty).empty());
  write_coco_results(empty, {{1, Detections{}}, {2, Detections{}}});
  EXPECT_TRUE(read_coco_results(empty).empty());
}

TEST(CocoResults, CompactNumbers) {
  Detections d;
  d.boxes = torch::tensor({10.f, 20.5f, 110.f, 70.75f, 0.1f, 0.2f, 2.1f, 4.2f}).reshape({2, 4});
  d.scores = torch::tensor({0.5f, 0.123456789f});
  d.labels = torch::tensor({18, 1}, torch::kLong);
  const fs::path file = scratch("compact.json");
  write_coco_results(file, {{42, d}});
  const std::string text = read_text(file);
  EXPECT_NE(text.find("\"bbox\": [10, 20.5, 100, 50.25], \"score\": 0.5"), std::string::npos) << text;
  EXPECT_NE(text.find("\"bbox\": [0.1, 0.2, "), std::string::npos) << text;
  EXPECT_NE(text.find("\"score\": 0.123457}"), std::string::npos) << text;
  EXPECT_NE(text.find("{\"image_id\": 42, \"category_id\": 18, "), std::string::npos) << text;
}

TEST(CocoResults, FailedWritesLeaveNoFile) {
  // A folder that cannot be created (its parent is a file).
  const fs::path blocker = scratch("blocker");
  write_text(blocker, "not a folder");
  const fs::path inside = blocker / "results.json";
  const std::string error = error_of([&] { write_coco_results(inside, {{1, box_detections(3, 6)}}); });
  EXPECT_NE(error.find(inside.string()), std::string::npos) << error;
  EXPECT_FALSE(fs::exists(inside));

  // An unwritable folder (when not root: root writes anywhere).
  if (::geteuid() != 0) {
    const fs::path locked = scratch("locked");
    fs::create_directories(locked);
    fs::permissions(locked, fs::perms::owner_read | fs::perms::owner_exec);
    const fs::path target = locked / "results.json";
    EXPECT_NE(error_of([&] {
                write_coco_results(target, {{1, box_detections(3, 6)}});
              }).find(target.string()),
              std::string::npos);
    fs::permissions(locked, fs::perms::owner_all);
    EXPECT_EQ(imret::testing::count_entries(locked), 0);
  }

  // Bad detections in a later image: no file, no temporary left, and a good
  // file already there stays as it was.
  const fs::path folder = scratch("bad_input");
  fs::create_directories(folder);
  const fs::path target = folder / "results.json";
  write_text(target, "[]\n");
  Detections bad = box_detections(3, 7);
  bad.scores[1] = std::nanf("");
  std::string message = error_of([&] { write_coco_results(target, {{1, box_detections(3, 6)}, {77, bad}}); });
  EXPECT_NE(message.find(target.string() + ": image 77: detection 1: the score is not finite"), std::string::npos)
      << message;
  EXPECT_EQ(read_text(target), "[]\n");
  EXPECT_EQ(imret::testing::count_entries(folder), 1);

  Detections infinite = box_detections(3, 8);
  infinite.boxes[2][3] = INFINITY;
  message = error_of([&] { write_coco_results(target, {{5, infinite}}); });
  EXPECT_NE(message.find("image 5: detection 2: the box is not finite"), std::string::npos) << message;

  Detections wrong_masks = box_detections(3, 9);
  wrong_masks.masks = torch::zeros({3, 10, 10});
  message = error_of([&] { write_coco_results(target, {{5, wrong_masks}}); });
  EXPECT_NE(message.find("masks must be K x 1 x H x W"), std::string::npos) << message;

  Detections short_scores = box_detections(3, 9);
  short_scores.scores = short_scores.scores.slice(0, 0, 2);
  message = error_of([&] { write_coco_results(target, {{5, short_scores}}); });
  EXPECT_NE(message.find("scores must be one per box"), std::string::npos) << message;
  EXPECT_EQ(read_text(target), "[]\n");
  EXPECT_EQ(imret::testing::count_entries(folder), 1);
}

TEST(CocoResults, MalformedFilesGiveErrorsNamingTheFile) {
  const std::string good_rle = R"({"size": [2, 2], "counts": "13"})";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"[{\"image_id\": 1,", "malformed JSON"},
      {"", "malformed JSON"},
      {R"({"image_id": 1})", "the document: expected a JSON array of results, found an object"},
      {"[1]", "results[0]: expected an object, found a number"},
      {R"([{"image_id": 1, "category_id": 1, "bbox": [1, 2, 3, 4]}])", "results[0]: no \"score\""},
      {R"([{"category_id": 1, "bbox": [1, 2, 3, 4], "score": 1}])", "results[0]: no \"image_id\""},
      {R"([{"image_id": 1, "bbox": [1, 2, 3, 4], "score": 1}])", "results[0]: no \"category_id\""},
      {R"([{"image_id": 1, "category_id": 1, "score": 1}])", "results[0]: no \"bbox\""},
      {R"([{"image_id": 1, "category_id": 1, "score": 1, "bbox": [1, 2, 3]}])",
       "results[0].bbox: expected 4 numbers [x, y, width, height], found 3"},
      {R"([{"image_id": 1, "category_id": 1, "score": 1, "bbox": "1 2 3 4"}])",
       "results[0].bbox: expected [x, y, width, height], found a string"},
      {R"([{"image_id": 1, "category_id": 1, "score": 1, "bbox": [1, 2, 3, 4]},
           {"image_id": 1, "category_id": 1, "score": 1, "bbox": [1, null, 3, 4]}])",
       "results[1].bbox[1]: expected a number, found null"},
      {R"([{"image_id": "1", "category_id": 1, "score": 1, "bbox": [1, 2, 3, 4]}])",
       "results[0].image_id: expected an integer, found a string"},
      {R"([{"image_id": 1.5, "category_id": 1, "score": 1, "bbox": [1, 2, 3, 4]}])",
       "results[0].image_id: expected an integer, found a number"},
      {R"([{"image_id": 1, "category_id": 1, "score": "high", "bbox": [1, 2, 3, 4]}])",
       "results[0].score: expected a number, found a string"},
      {R"([{"image_id": 1, "category_id": 1, "score": 1, "bbox": [1, 2, 3, 1e300]}])",
       "results[0].bbox[3]: 1e+300 is beyond float32"},
      {R"([{"image_id": 1, "category_id": 1, "score": 1, "bbox": [1, 2, 3, 4], "segmentation": [[1, 2, 3, 4, 5, 6]]}])",
       "results[0].segmentation: a polygon segmentation"},
      {R"([{"image_id": 1, "category_id": 1, "score": 1, "segmentation": {"size": [2, 2], "counts": "1p"}}])",
       "results[0].segmentation: COCO RLE string: 'p' at character 2"},
      {R"([{"image_id": 1, "category_id": 1, "score": 1, "segmentation": {"size": [2, 3], "counts": "13"}}])",
       "results[0].segmentation: COCO RLE: the counts add up to 4 pixels, but a 2 x 3 mask has 6"},
      {R"([{"image_id": 1, "category_id": 1, "score": 1, "segmentation": {"counts": "13"}}])",
       "results[0].segmentation: no \"size\""},
      {R"([{"image_id": 1, "category_id": 1, "score": 1, "segmentation": {"size": [2], "counts": "13"}}])",
       "results[0].segmentation.size: expected [height, width], found 1 numbers"},
      {R"([{"image_id": 1, "category_id": 1, "score": 1, "segmentation": {"size": [2, 2], "counts": [1, -3]}}])",
       "results[0].segmentation.counts[1]: -3 is out of range"},
      {R"([{"image_id": 1, "category_id": 1, "score": 1, "segmentation": {"size": [2, 2], "counts": 13}}])",
       "results[0].segmentation.counts: expected a string or an array of counts, found a number"},
      {"[{\"image_id\": 1, \"category_id\": 1, \"score\": 1, \"segmentation\": " + good_rle +
           "}, {\"image_id\": 1, \"category_id\": 1, \"score\": 1, \"bbox\": [1, 2, 3, 4]}]",
       "results[1]: no \"segmentation\", but earlier results have one"},
      {"[{\"image_id\": 1, \"category_id\": 1, \"score\": 1, \"bbox\": [1, 2, 3, 4]}, {\"image_id\": 1, "
       "\"category_id\": 1, \"score\": 1, \"segmentation\": " +
           good_rle + "}]",
       "results[1]: has a \"segmentation\", but earlier results have none"},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    const fs::path file = scratch("malformed_" + std::to_string(i) + ".json");
    write_text(file, cases[i].first);
    const std::string message = error_of([&] { read_coco_results(file); });
    EXPECT_EQ(message.rfind(file.string() + ": ", 0), 0u) << message;
    EXPECT_NE(message.find(cases[i].second), std::string::npos) << "case " << i << ": " << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  }
  const fs::path missing = scratch("missing.json");
  EXPECT_EQ(error_of([&] { read_coco_results(missing); }), missing.string() + ": no such file");
  const fs::path folder = scratch("a_folder.json");
  fs::create_directories(folder);
  EXPECT_NE(error_of([&] { read_coco_results(folder); }).find(folder.string() + ": is a directory"), std::string::npos);
}

TEST(CocoResults, ReadsOtherWritersResults) {
  // What other tools write: uncompressed counts, no bbox (pycocotools takes
  // it from the mask), images interleaved, integer and exponent numbers.
  // The 3 x 4 mask 0110 / 0110 / 0000 (rows): column-major runs 3, 2, 1, 2, 4.
  const fs::path file = scratch("other.json");
  write_text(file, R"([
    {"image_id": 9, "category_id": 3, "score": 1, "segmentation": {"size": [3, 4], "counts": [3, 2, 1, 2, 4]}},
    {"image_id": 2, "category_id": 90, "score": 5e-1, "segmentation": {"size": [3, 4], "counts": "0<"},
     "extra": {"ignored": [1, 2]}},
    {"image_id": 9, "category_id": 1, "score": 0.25, "bbox": [1.5, 2, 3e1, 4],
     "segmentation": {"counts": "<", "size": [3, 4]}}
  ])");
  const std::vector<CocoResultImage> images = read_coco_results(file);
  ASSERT_EQ(images.size(), 2u);
  EXPECT_EQ(images[0].image_id, 9);
  EXPECT_EQ(images[1].image_id, 2);
  EXPECT_TRUE(torch::equal(images[0].labels, torch::tensor({3, 1}, torch::kLong)));
  EXPECT_TRUE(torch::equal(images[0].scores, torch::tensor({1.f, 0.25f})));
  EXPECT_TRUE(
      torch::equal(images[0].bboxes, torch::tensor({1.f, 0.f, 2.f, 2.f, 1.5f, 2.f, 30.f, 4.f}).reshape({2, 4})));
  EXPECT_TRUE(torch::equal(decode_mask(images[0].masks[0]),
                           torch::tensor({0, 1, 1, 0, 0, 1, 1, 0, 0, 0, 0, 0}, torch::kUInt8).reshape({3, 4})));
  // "0<": 0 then 12 set: the whole mask; "<": 12 unset.
  EXPECT_EQ(rle_area(images[1].masks[0]), 12);
  EXPECT_TRUE(torch::equal(images[1].bboxes, torch::tensor({0.f, 0.f, 4.f, 3.f}).reshape({1, 4})));
  EXPECT_EQ(rle_area(images[0].masks[1]), 0);
}

TEST(CocoResults, ImageIdsFromFileNames) {
  EXPECT_EQ(coco_image_id("COCO_val2014_000000000042.jpg"), 42);
  EXPECT_EQ(coco_image_id("/data/coco/val2017/000000000139.jpg"), 139);
  EXPECT_EQ(coco_image_id("000000581781.png"), 581781);
  EXPECT_EQ(coco_image_id("COCO_train2014_000000000009"), 9);
  EXPECT_EQ(coco_image_id("scan-17.jpeg"), 17);
  EXPECT_EQ(coco_image_id("0.jpg"), 0);
  EXPECT_EQ(coco_image_id("dog2.jpg"), std::nullopt);
  EXPECT_EQ(coco_image_id("photo.jpg"), std::nullopt);
  EXPECT_EQ(coco_image_id("COCO_val2014_.jpg"), std::nullopt);
  EXPECT_EQ(coco_image_id("99999999999999999999.jpg"), std::nullopt);  // beyond int64
  EXPECT_EQ(coco_image_id(""), std::nullopt);
}

// Category names against torchvision's own list (_COCO_CATEGORIES in
// torchvision/models/_meta.py, read with Python's ast).
TEST(CocoResultsCategories, MatchTorchvision) {
  const std::string meta = "/usr/lib/python3/dist-packages/torchvision/models/_meta.py";
  EXPECT_EQ(coco_category_name(0), "__background__");
  EXPECT_EQ(coco_category_name(1), "person");
  EXPECT_EQ(coco_category_name(12), "N/A");
  EXPECT_EQ(coco_category_name(18), "dog");
  EXPECT_EQ(coco_category_name(90), "toothbrush");
  EXPECT_EQ(coco_category_name(91), "class 91");
  EXPECT_EQ(coco_category_name(-1), "class -1");
  EXPECT_EQ(coco_category_names().size(), 91u);
  if (!fs::exists(meta)) GTEST_SKIP() << meta << " not installed";
  const fs::path out = scratch("torchvision_categories.json");
  const std::string script =
      "import ast, json, sys\n"
      "tree = ast.parse(open(sys.argv[1]).read())\n"
      "names = [ast.literal_eval(n.value) for n in tree.body if isinstance(n, ast.Assign) and "
      "getattr(n.targets[0], 'id', '') == '_COCO_CATEGORIES'][0]\n"
      "json.dump(names, open(sys.argv[2], 'w'))\n";
  const fs::path script_file = scratch("categories.py");
  write_text(script_file, script);
  ASSERT_EQ(std::system(("/usr/bin/python3 " + script_file.string() + " " + meta + " " + out.string()).c_str()), 0);
  json names;
  std::ifstream(out) >> names;
  EXPECT_EQ(names.get<std::vector<std::string>>(), coco_category_names());
}
