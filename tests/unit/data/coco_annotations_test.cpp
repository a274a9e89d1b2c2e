#include "imret/data/coco_annotations.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "imret/core/atomic_file.hpp"
#include "imret/core/error.hpp"
#include "support/errors.hpp"
#include "support/reference_files.hpp"
#include "support/scratch.hpp"

using namespace imret::data;
using imret::testing::error_of;
namespace fs = std::filesystem;

namespace {

fs::path scratch(const std::string& name) { return imret::testing::scratch_path("coco", name); }

void write_text(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
}

CocoAnnotation annotation(int64_t id, int64_t image_id, int64_t category_id, bool iscrowd = false,
                          std::array<float, 4> box = {10.5f, 20.25f, 30.f, 40.75f}) {
  CocoAnnotation a;
  a.id = id;
  a.image_id = image_id;
  a.category_id = category_id;
  a.iscrowd = iscrowd;
  std::copy(box.begin(), box.end(), a.bbox);
  a.area = double(box[2]) * box[3];
  return a;
}

// Category ids with gaps (listed out of order), an image without objects, an
// image with only a crowd region, crowd next to objects, names to escape.
CocoInstances sample() {
  CocoInstances c;
  c.categories = {{90, "toothbrush", "indoor"},
                  {1, "person", "person"},
                  {18, "dog", "animal"},
                  {44, "bottle \"glass\"\\plastic", "kitchen"}};
  c.images = {{139, "COCO_train2014_000000000139.jpg", 640, 426},
              {5, "empty.jpg", 100, 50},
              {7000001, "crowd only.jpg", 64, 48},
              {42, "tab\there/é.jpg", 320, 240}};
  c.annotations = {annotation(900100000001, 139, 1),
                   annotation(2, 139, 1),
                   annotation(3, 139, 18),
                   annotation(4, 139, 1, true, {0.f, 0.f, 640.f, 426.f}),
                   annotation(5, 7000001, 90, true, {3.4f, 5.6f, 20.2f, 10.f}),
                   annotation(6, 42, 44),
                   annotation(7, 42, 90, false, {0.f, 0.f, 1.f, 1.f}),
                   annotation(8, 42, 44),
                   annotation(9, 42, 44, true, {310.f, 230.f, 50.f, 50.f})};
  return c;
}

}  // namespace

TEST(CocoInstances, RoundTripKeepsImagesCategoriesAndCounts) {
  const fs::path file = scratch("round_trip.json");
  write_coco_instances(file, sample());
  const CocoInstances c = read_coco_instances(file);

  ASSERT_EQ(c.categories.size(), 4u);  // ascending id: class index = position
  EXPECT_EQ(c.categories[0].id, 1);
  EXPECT_EQ(c.categories[1].id, 18);
  EXPECT_EQ(c.categories[2].id, 44);
  EXPECT_EQ(c.categories[2].name, "bottle \"glass\"\\plastic");
  EXPECT_EQ(c.categories[2].supercategory, "kitchen");
  EXPECT_EQ(c.categories[3].id, 90);
  EXPECT_EQ(c.class_names(), (std::vector<std::string>{"person", "dog", "bottle \"glass\"\\plastic", "toothbrush"}));
  EXPECT_EQ(c.class_index(44), 2);
  EXPECT_EQ(c.class_index(2), -1);

  ASSERT_EQ(c.images.size(), 4u);  // file order
  EXPECT_EQ(c.images[0].id, 139);
  EXPECT_EQ(c.images[0].file_name, "COCO_train2014_000000000139.jpg");
  EXPECT_EQ(c.images[0].width, 640);
  EXPECT_EQ(c.images[0].height, 426);
  EXPECT_EQ(c.images[3].file_name, "tab\there/é.jpg");
  EXPECT_EQ(c.image_index(7000001), 2);
  EXPECT_EQ(c.image_index(6), -1);

  using imret::ObjectCounts;
  ASSERT_EQ(c.objects.size(), 4u);
  ASSERT_EQ(c.crowd.size(), 4u);
  const auto counts = [](const ObjectCounts& o) {
    std::vector<std::pair<int, int>> v;
    for (const auto& e : o) v.emplace_back(e.category, e.count);
    return v;
  };
  using Pairs = std::vector<std::pair<int, int>>;
  EXPECT_EQ(counts(c.objects[0]), (Pairs{{0, 2}, {1, 1}}));
  EXPECT_EQ(counts(c.crowd[0]), (Pairs{{0, 1}}));
  EXPECT_TRUE(c.objects[1].empty());
  EXPECT_TRUE(c.crowd[1].empty());
  EXPECT_TRUE(c.objects[2].empty());
  EXPECT_EQ(counts(c.crowd[2]), (Pairs{{3, 1}}));
  EXPECT_EQ(counts(c.objects[3]), (Pairs{{2, 2}, {3, 1}}));
  EXPECT_EQ(counts(c.crowd[3]), (Pairs{{2, 1}}));
  for (size_t i = 0; i < c.objects.size(); ++i) {
    imret::check_object_counts(c.objects[i], "objects", 4);
    imret::check_object_counts(c.crowd[i], "crowd", 4);
  }
  EXPECT_EQ(c.annotation_count, 9);
  EXPECT_EQ(c.crowd_count, 3);
  EXPECT_TRUE(c.annotations.empty());  // not asked for
}

TEST(CocoInstances, KeepsAnnotationsWhenAsked) {
  const fs::path file = scratch("keep.json");
  const CocoInstances written = sample();
  write_coco_instances(file, written);
  CocoReadOptions options;
  options.keep_annotations = true;
  const CocoInstances c = read_coco_instances(file, options);
  ASSERT_EQ(c.annotations.size(), written.annotations.size());
  for (size_t i = 0; i < c.annotations.size(); ++i) {
    const CocoAnnotation &a = c.annotations[i], &b = written.annotations[i];
    EXPECT_EQ(a.id, b.id);
    EXPECT_EQ(a.image_id, b.image_id);
    EXPECT_EQ(a.category_id, b.category_id);
    EXPECT_EQ(a.iscrowd, b.iscrowd);
    for (int k = 0; k < 4; ++k) EXPECT_EQ(a.bbox[k], b.bbox[k]) << i << " " << k;  // shortest round-trip text
    EXPECT_FLOAT_EQ(a.area, b.area);
  }
}

// The Python json module reads the same file (and checks the segmentations:
// polygon = box corners, crowd RLE = the box's pixels over h*w).
TEST(CocoInstances, CountsMatchAnIndependentReader) {
  const fs::path file = scratch("independent.json");
  const fs::path reference = scratch("independent_reference.json");
  write_coco_instances(file, sample());
  ASSERT_EQ(
      imret::testing::run_reference("tests/unit/data/coco_reference.py", file.string() + " " + reference.string()), 0);
  const nlohmann::json expected = nlohmann::json::parse(imret::read_file(reference));
  const CocoInstances c = read_coco_instances(file);

  EXPECT_EQ(c.annotation_count, expected["annotations"].get<int64_t>());
  EXPECT_EQ(c.crowd_count, expected["crowd"].get<int64_t>());
  std::vector<int64_t> image_ids, category_ids;
  for (const auto& image : c.images) image_ids.push_back(image.id);
  for (const auto& category : c.categories) category_ids.push_back(category.id);
  EXPECT_EQ(image_ids, expected["images"].get<std::vector<int64_t>>());
  EXPECT_EQ(category_ids, expected["categories"].get<std::vector<int64_t>>());
  for (size_t i = 0; i < c.images.size(); ++i) {
    const auto& entry = expected["counts"][std::to_string(c.images[i].id)];
    for (const auto& [kind, counts] : {std::pair{"objects", &c.objects[i]}, std::pair{"crowd", &c.crowd[i]}}) {
      std::map<std::string, int> ours, theirs = entry[kind].get<std::map<std::string, int>>();
      for (const auto& e : *counts) ours[std::to_string(c.categories[e.category].id)] = e.count;
      EXPECT_EQ(ours, theirs) << "image " << c.images[i].id << " " << kind;
    }
  }
}

TEST(CocoInstances, WritesTheOfficialStructure) {
  const fs::path file = scratch("structure.json");
  write_coco_instances(file, sample());
  const nlohmann::json j = nlohmann::json::parse(imret::read_file(file));
  for (const char* key : {"info", "licenses", "images", "annotations", "categories"})
    EXPECT_TRUE(j.contains(key)) << key;
  for (const char* key : {"license", "file_name", "coco_url", "height", "width", "date_captured", "flickr_url", "id"}) {
    EXPECT_TRUE(j["images"][0].contains(key)) << key;
  }
  const nlohmann::json& a = j["annotations"][0];
  EXPECT_EQ(a["segmentation"], nlohmann::json::parse("[[10.5,20.25,40.5,20.25,40.5,61,10.5,61]]"));
  EXPECT_EQ(a["bbox"], nlohmann::json::parse("[10.5,20.25,30,40.75]"));
  EXPECT_EQ(a["iscrowd"], 0);
  // Crowd in a 64 x 48 image (size [h, w]): box x 3..24 (rounded), y 6..16,
  // column-major: 3 columns of 48 zeros + 6 zeros, then 10 ones, 32 zeros + 6, ...
  const nlohmann::json& crowd = j["annotations"][4];
  EXPECT_EQ(crowd["segmentation"]["size"], nlohmann::json::parse("[48, 64]"));
  const auto counts = crowd["segmentation"]["counts"].get<std::vector<int64_t>>();
  ASSERT_GE(counts.size(), 3u);
  EXPECT_EQ(counts[0], 3 * 48 + 6);
  EXPECT_EQ(counts[1], 10);
  EXPECT_EQ(counts[2], (48 - 16) + 6);
  int64_t total = 0, ones = 0;
  for (size_t i = 0; i < counts.size(); ++i) (total += counts[i], ones += i % 2 ? counts[i] : 0);
  EXPECT_EQ(total, 64 * 48);
  EXPECT_EQ(ones, 21 * 10);
  // The whole image as a crowd box: no leading zeros.
  EXPECT_EQ(j["annotations"][3]["segmentation"]["counts"], nlohmann::json::parse("[0, 272640]"));
  EXPECT_EQ(j["categories"][0],
            nlohmann::json::parse(R"({"supercategory": "indoor", "id": 90, "name": "toothbrush"})"));
}

TEST(CocoInstances, WriteRejectsAnAnnotationOfAnUnlistedImage) {
  CocoInstances c = sample();
  c.annotations.push_back(annotation(77, 12345, 1));
  const fs::path file = scratch("unlisted_write.json");
  EXPECT_EQ(error_of([&] { write_coco_instances(file, c); }),
            file.string() + ": annotation id 77: image_id 12345 is not among the images");
  EXPECT_FALSE(fs::exists(file));
}

// Any field order, unknown fields (nested), escapes, iscrowd as a bool,
// categories before the images: what other tools write.
TEST(CocoInstances, ReadsOtherFieldOrdersAndUnknownFields) {
  const fs::path file = scratch("other_order.json");
  write_text(file, R"({"categories": [{"name": "cat", "id": 17, "extra": {"a": [1, {"b": null}]}}],
    "annotations": [{"segmentation": {"counts": "abc", "size": [2, 2]}, "iscrowd": true, "category_id": 17,
                     "image_id": 3, "id": 1, "bbox": [1, 2, 3, 4]},
                    {"id": 2, "image_id": 3, "category_id": 17, "keypoints": [1, 2, 3]}],
    "images": [{"id": 3, "file_name": "a\u00e9\/b.jpg", "license": 3}], "info": {"x": [[[]]]}})");
  const CocoInstances c = read_coco_instances(file);
  ASSERT_EQ(c.images.size(), 1u);
  EXPECT_EQ(c.images[0].file_name, "aé/b.jpg");
  EXPECT_EQ(c.images[0].width, 0);
  EXPECT_EQ(c.crowd_count, 1);
  ASSERT_EQ(c.objects[0].size(), 1u);
  EXPECT_EQ(c.objects[0][0].count, 1);
  ASSERT_EQ(c.crowd[0].size(), 1u);
}

namespace {

const char* kValid =
    R"({"images": [{"id": 1, "file_name": "a.jpg", "width": 4, "height": 3}, {"id": 2, "file_name": "b.jpg"}],
 "annotations": [{"id": 10, "image_id": 1, "category_id": 5, "bbox": [0, 0, 1, 1], "segmentation": [[0, 0, 1, 0, 1, 1]]}],
 "categories": [{"id": 5, "name": "five"}]})";

// The error reading `text` as an instances file.
std::string read_error(const std::string& name, const std::string& text) {
  const fs::path file = scratch(name);
  write_text(file, text);
  return error_of([&] { read_coco_instances(file); });
}

std::string replaced(std::string text, const std::string& from, const std::string& to) {
  const size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  return text.replace(at, from.size(), to);
}

}  // namespace

TEST(CocoInstances, ValidSampleReads) {
  const fs::path file = scratch("valid.json");
  write_text(file, kValid);
  EXPECT_EQ(read_coco_instances(file).annotation_count, 1);
}

TEST(CocoInstances, TruncatedFileGivesTheByteOffset) {
  const std::string text = kValid;
  // Cut inside a string, a number, after a closing brace, between tokens.
  for (const std::string& cut :
       {std::string(R"("b.jp)"), std::string("[0, 0, 1,"), std::string(R"("five"})"), std::string(R"("id": 1)")}) {
    const size_t size = text.find(cut) + cut.size();
    const std::string truncated = text.substr(0, size);
    const fs::path file = scratch("truncated.json");
    write_text(file, truncated);
    const std::string message = error_of([&] { read_coco_instances(file); });
    const std::string prefix = file.string() + ": malformed JSON at byte ";
    ASSERT_EQ(message.rfind(prefix, 0), 0u) << message;
    const size_t offset = std::stoul(message.substr(prefix.size()));
    EXPECT_LE(offset, size) << message;
    if (cut == R"("b.jp)") {
      EXPECT_EQ(offset, text.find(cut)) << "the unclosed string's quote: " << message;
    }
  }
  EXPECT_EQ(read_error("truncated_number.json", text.substr(0, text.find("[0, 0, 1,") + 8)),
            scratch("truncated_number.json").string() + ": malformed JSON at byte " +
                std::to_string(text.find("[0, 0, 1,") + 8) +
                ": JSON document ended early in the middle of an object or array.");
}

TEST(CocoInstances, MalformedJsonGivesTheByteOffset) {
  const std::string bad = replaced(kValid, R"("image_id": 1,)", R"("image_id": 1,,)");
  const size_t at = bad.find(",,") + 1;
  const std::string message = read_error("malformed.json", bad);
  EXPECT_EQ(
      message.rfind(scratch("malformed.json").string() + ": malformed JSON at byte " + std::to_string(at) + ": ", 0),
      0u)
      << message;
  // A broken number in a field that is read.
  const std::string number = replaced(kValid, R"("category_id": 5)", R"("category_id": 5x)");
  EXPECT_EQ(
      read_error("bad_number.json", number)
          .rfind(scratch("bad_number.json").string() + ": malformed JSON at byte " + std::to_string(number.find("5x")),
                 0),
      0u)
      << read_error("bad_number.json", number);
  // Invalid UTF-8 and raw control characters in strings.
  const std::string utf8 = replaced(kValid, "a.jpg", "a\xff.jpg");
  EXPECT_EQ(
      read_error("utf8.json", utf8)
          .rfind(scratch("utf8.json").string() + ": malformed JSON at byte " + std::to_string(utf8.find('\xff')), 0),
      0u)
      << read_error("utf8.json", utf8);
  const std::string control = replaced(kValid, "b.jpg", "b\x01.jpg");
  EXPECT_EQ(
      read_error("control.json", control)
          .rfind(scratch("control.json").string() + ": malformed JSON at byte " + std::to_string(control.find('\x01')),
                 0),
      0u)
      << read_error("control.json", control);
  EXPECT_NE(read_error("trailing.json", std::string(kValid) + " {}").find("malformed JSON at byte"), std::string::npos);
  EXPECT_NE(read_error("empty.json", "").find("malformed JSON at byte 0"), std::string::npos);
  EXPECT_NE(read_error("array.json", "[1, 2]").find("the document: expected an object"), std::string::npos);
}

TEST(CocoInstances, MissingArraysAreErrors) {
  for (const char* name : {"images", "annotations", "categories"}) {
    const std::string text = replaced(kValid, std::string("\"") + name + "\"", "\"other\"");
    EXPECT_EQ(read_error("missing.json", text),
              scratch("missing.json").string() + ": not a COCO instances file: no \"" + name + "\" array");
  }
  EXPECT_EQ(read_error("not_array.json",
                       replaced(kValid, R"("categories": [{"id": 5, "name": "five"}])", R"("categories": {"id": 5})"))
                .rfind(scratch("not_array.json").string() + ": categories: expected an array", 0),
            0u);
}

TEST(CocoInstances, DuplicateIdsAreErrors) {
  EXPECT_EQ(read_error("dup_image.json", replaced(kValid, R"("id": 2, "file_name")", R"("id": 1, "file_name")")),
            scratch("dup_image.json").string() + ": image id 1 is listed twice in \"images\"");
  EXPECT_EQ(read_error("dup_category.json", replaced(kValid, R"([{"id": 5, "name": "five"}])",
                                                     R"([{"id": 5, "name": "five"}, {"id": 5, "name": "v"}])")),
            scratch("dup_category.json").string() + ": category id 5 is listed twice in \"categories\"");
  EXPECT_EQ(read_error("dup_array.json", replaced(kValid, R"("categories":)", R"("images": [], "categories":)")),
            scratch("dup_array.json").string() + ": \"images\" appears twice");
}

TEST(CocoInstances, UnknownImageOrCategoryIsAnError) {
  EXPECT_EQ(read_error("unknown_image.json", replaced(kValid, R"("image_id": 1)", R"("image_id": 3)")),
            scratch("unknown_image.json").string() + ": annotations[0] (id 10): image_id 3 is not in \"images\"");
  EXPECT_EQ(
      read_error("unknown_category.json", replaced(kValid, R"("category_id": 5)", R"("category_id": 1)")),
      scratch("unknown_category.json").string() + ": annotations[0] (id 10): category_id 1 is not in \"categories\"");
}

TEST(CocoInstances, WrongTypesAndMissingFieldsAreErrors) {
  const std::string message = read_error("string_id.json", replaced(kValid, R"("id": 2,)", R"("id": "2",)"));
  EXPECT_EQ(message.rfind(scratch("string_id.json").string() + ": images[1].id: expected an integer", 0), 0u)
      << message;
  EXPECT_EQ(read_error("no_image_id.json", replaced(kValid, R"("image_id": 1, )", ""))
                .rfind(scratch("no_image_id.json").string() + ": annotations[0]: no \"image_id\"", 0),
            0u);
  EXPECT_EQ(read_error("no_name.json", replaced(kValid, R"(, "name": "five")", "")),
            scratch("no_name.json").string() + ": categories[0]: no \"name\"");
  EXPECT_EQ(read_error("short_bbox.json", replaced(kValid, "[0, 0, 1, 1]", "[0, 0, 1]")),
            scratch("short_bbox.json").string() + ": annotations[0].bbox: expected 4 numbers, got 3");
  EXPECT_EQ(read_error("bad_width.json", replaced(kValid, R"("width": 4)", R"("width": 4.5)"))
                .rfind(scratch("bad_width.json").string() + ": images[0].width: expected an integer", 0),
            0u);
}

TEST(CocoInstances, MissingFileIsAnError) {
  const fs::path file = scratch("does_not_exist.json");
  EXPECT_EQ(error_of([&] { read_coco_instances(file); }), file.string() + ": file not found");
}

TEST(CocoInstances, IndexRebuildsTheLookups) {
  CocoInstances c;
  c.categories = {{3, "a", ""}, {8, "b", ""}};
  c.images = {{100, "x.jpg", 1, 1}, {7, "y.jpg", 1, 1}};
  c.index();
  EXPECT_EQ(c.class_index(8), 1);
  EXPECT_EQ(c.image_index(7), 1);
  EXPECT_EQ(c.image_index(8), -1);
}

// ---------------------------------------------------------------------------
// Retrieval split files.

TEST(CocoSplits, RoundTripAndImagesUnderSeveralCategories) {
  const fs::path file = scratch("splits.json");
  write_text(file, R"({"train": {"1": [30, 10, 20], "3": [10, 40], "90": [10]},
                       "database": {"1": [5]}, "val": {}, "test": {"2": [7, 7]}})");
  const CocoSplits splits = read_coco_splits(file);
  ASSERT_EQ(splits.splits.size(), 4u);
  const std::vector<SplitImage>& train = splits.at("train");
  ASSERT_EQ(train.size(), 4u);  // ascending image id
  EXPECT_EQ(train[0].image_id, 10);
  EXPECT_EQ(train[0].category_ids, (std::vector<int64_t>{1, 3, 90}));
  EXPECT_EQ(train[1].image_id, 20);
  EXPECT_EQ(train[1].category_ids, (std::vector<int64_t>{1}));
  EXPECT_EQ(train[3].image_id, 40);
  EXPECT_EQ(train[3].category_ids, (std::vector<int64_t>{3}));
  EXPECT_TRUE(splits.at("val").empty());
  ASSERT_EQ(splits.at("test").size(), 1u);  // listed twice under one category: once
  EXPECT_EQ(splits.at("test")[0].category_ids, (std::vector<int64_t>{2}));

  const fs::path copy = scratch("splits_copy.json");
  write_coco_splits(copy, splits);
  const CocoSplits again = read_coco_splits(copy);
  ASSERT_EQ(again.splits.size(), splits.splits.size());
  for (const auto& [name, images] : splits.splits) {
    const auto& other = again.at(name);
    ASSERT_EQ(other.size(), images.size()) << name;
    for (size_t i = 0; i < images.size(); ++i) {
      EXPECT_EQ(other[i].image_id, images[i].image_id);
      EXPECT_EQ(other[i].category_ids, images[i].category_ids);
    }
  }
  // The written file is the course's layout: category id -> ascending image ids.
  const nlohmann::json j = nlohmann::json::parse(imret::read_file(copy));
  EXPECT_EQ(j["train"]["1"], nlohmann::json::parse("[10, 20, 30]"));
  EXPECT_EQ(j["val"], nlohmann::json::object());
}

TEST(CocoSplits, UnknownSplitIsAUsageError) {
  CocoSplits splits;
  splits.splits["train"] = {};
  splits.splits["val"] = {};
  EXPECT_THROW(splits.at("database"), imret::UsageError);
  EXPECT_EQ(error_of([&] { splits.at("database"); }), "unknown split \"database\" (the split file has: train, val)");
}

TEST(CocoSplits, ErrorsNameTheFile) {
  const auto error = [](const std::string& name, const std::string& text) {
    const fs::path file = scratch(name);
    write_text(file, text);
    return error_of([&] { read_coco_splits(file); });
  };
  EXPECT_EQ(error("key.json", R"({"train": {"person": [1]}})"),
            scratch("key.json").string() + ": split \"train\": key \"person\" is not a category id");
  EXPECT_EQ(
      error("id.json", R"({"train": {"1": [1, 2.5]}})")
          .rfind(scratch("id.json").string() + ": split \"train\", category 1[1]: expected an integer image id", 0),
      0u)
      << error("id.json", R"({"train": {"1": [1, 2.5]}})");
  EXPECT_EQ(error("not_object.json", R"({"train": [1]})")
                .rfind(scratch("not_object.json").string() + ": split \"train\": expected an object", 0),
            0u);
  EXPECT_EQ(error("dup.json", R"({"train": {}, "train": {}})"),
            scratch("dup.json").string() + ": split \"train\" appears twice");
  EXPECT_EQ(error("truncated.json", R"({"train": {"1": [1, 2)"),
            scratch("truncated.json").string() +
                ": malformed JSON at byte 21: JSON document ended early in the middle of an object or array.");
  const fs::path missing = scratch("missing_splits.json");
  EXPECT_EQ(error_of([&] { read_coco_splits(missing); }), missing.string() + ": file not found");
}
