#include "imret/detect/coco_results.hpp"

#include <simdjson.h>
#include <torch/torch.h>

#include <charconv>
#include <cmath>
#include <cstdio>
#include <limits>
#include <string_view>
#include <unordered_map>

#include "imret/core/atomic_file.hpp"
#include "imret/core/error.hpp"

namespace imret::detect {

namespace fs = std::filesystem;

namespace {

// ---------------------------------------------------------------------------
// Writing

void append_int(std::string& out, int64_t value) {
  char buffer[24];
  out.append(buffer, std::to_chars(buffer, buffer + sizeof buffer, value).ptr);
}

// The shortest text that reads back to the same float32.
void append_float(std::string& out, float value) {
  char buffer[48];
  out.append(buffer, std::to_chars(buffer, buffer + sizeof buffer, value).ptr);
}

// 6 significant digits ("0.987654", "0.5", "1e-07").
void append_score(std::string& out, float value) {
  char buffer[48];
  out.append(buffer, std::to_chars(buffer, buffer + sizeof buffer, value, std::chars_format::general, 6).ptr);
}

// An RLE string as a JSON string: its characters ('0'..'o') need escaping
// only for the backslash.
void append_rle_string(std::string& out, const std::string& text) {
  out += '"';
  for (const char c : text) {
    if (c == '\\') out += '\\';
    out += c;
  }
  out += '"';
}

}  // namespace

CocoResultsWriter::CocoResultsWriter(fs::path file, CocoResultsOptions options)
    : file_(std::move(file)), options_(options) {
  try {
    out_ = std::make_unique<AtomicFile>(file_, /*binary=*/false);
  } catch (const Error& e) {  // errors name the results file first
    const std::string what = e.what();
    if (what.rfind(file_.string() + ":", 0) == 0) throw;
    throw Error(file_.string() + ": cannot write: " + what);
  }
}

CocoResultsWriter::~CocoResultsWriter() = default;

void CocoResultsWriter::write_text() {
  out_->stream() << text_;
  text_.clear();
  if (!out_->stream()) throw Error(file_.string() + ": cannot write (disk full?)");
}

void CocoResultsWriter::add(int64_t image_id, const Detections& detections) {
  const auto fail = [&, id = image_id](const std::string& what) {
    throw Error(file_.string() + ": image " + std::to_string(id) + ": " + what);
  };
  const int64_t k = detections.size();
  if (k == 0) return;
  if (detections.boxes.dim() != 2 || detections.boxes.size(1) != 4) fail("boxes must be K x 4");
  if (!detections.scores.defined() || detections.scores.dim() != 1 || detections.scores.size(0) != k) {
    fail("scores must be one per box (" + std::to_string(k) + ")");
  }
  if (!detections.labels.defined() || detections.labels.dim() != 1 || detections.labels.size(0) != k) {
    fail("labels must be one per box (" + std::to_string(k) + ")");
  }
  const torch::Tensor boxes = detections.boxes.detach().to(torch::kCPU, torch::kFloat).contiguous();
  const torch::Tensor scores = detections.scores.detach().to(torch::kCPU, torch::kFloat).contiguous();
  const torch::Tensor labels = detections.labels.detach().to(torch::kCPU, torch::kLong).contiguous();
  const bool with_masks = options_.masks && detections.has_masks();
  torch::Tensor masks;
  if (with_masks) {
    const torch::Tensor& m = detections.masks;
    if (m.dim() != 4 || m.size(0) != k || m.size(1) != 1) {
      fail("masks must be K x 1 x H x W with K = " + std::to_string(k) + ", not " + c10::str(m.sizes()));
    }
    masks = m.detach().to(torch::kCPU).contiguous();
    if (masks.is_complex()) fail("masks must be probabilities or 0/1 values, not complex");
  }
  const float* b = boxes.data_ptr<float>();
  const float* s = scores.data_ptr<float>();
  const int64_t* l = labels.data_ptr<int64_t>();
  for (int64_t i = 0; i < k; ++i, b += 4) {
    const float width = b[2] - b[0], height = b[3] - b[1];  // float32, as torchvision's convert_to_xywh
    const float bbox[4] = {b[0], b[1], width, height};
    for (const float v : bbox) {
      if (!std::isfinite(v)) fail("detection " + std::to_string(i) + ": the box is not finite");
    }
    if (!std::isfinite(s[i])) fail("detection " + std::to_string(i) + ": the score is not finite");
    text_ += first_ ? "\n" : ",\n";
    first_ = false;
    text_ += "{\"image_id\": ";
    append_int(text_, image_id);
    text_ += ", \"category_id\": ";
    append_int(text_, l[i]);
    text_ += ", \"bbox\": [";
    for (int j = 0; j < 4; ++j) {
      if (j) text_ += ", ";
      append_float(text_, bbox[j]);
    }
    text_ += "], \"score\": ";
    append_score(text_, s[i]);
    if (with_masks) {
      Rle rle;
      try {
        rle = masks.is_floating_point() ? encode_probabilities(masks[i][0], options_.mask_threshold)
                                        : encode_mask(masks[i][0]);
      } catch (const Error& e) {
        fail("detection " + std::to_string(i) + ": " + e.what());
      }
      text_ += ", \"segmentation\": {\"size\": [";
      append_int(text_, rle.height);
      text_ += ", ";
      append_int(text_, rle.width);
      text_ += "], \"counts\": ";
      append_rle_string(text_, rle_to_string(rle));
      text_ += '}';
    }
    text_ += '}';
  }
  write_text();
}

void CocoResultsWriter::commit() {
  text_ += first_ ? "]\n" : "\n]\n";
  try {
    write_text();
    out_->commit();
  } catch (const Error& e) {  // errors name the results file first, whatever failed
    const std::string what = e.what();
    if (what.rfind(file_.string() + ":", 0) == 0) throw;
    throw Error(file_.string() + ": cannot write: " + what);
  }
}

void write_coco_results(const fs::path& file, const std::vector<std::pair<int64_t, Detections>>& images,
                        const CocoResultsOptions& options) {
  CocoResultsWriter writer(file, options);
  for (const auto& [image_id, detections] : images) writer.add(image_id, detections);
  writer.commit();
}

// ---------------------------------------------------------------------------
// Reading

namespace {

namespace dom = simdjson::dom;

const char* type_name(dom::element_type type) {
  switch (type) {
    case dom::element_type::ARRAY:
      return "an array";
    case dom::element_type::OBJECT:
      return "an object";
    case dom::element_type::INT64:
    case dom::element_type::UINT64:
    case dom::element_type::DOUBLE:
      return "a number";
    case dom::element_type::STRING:
      return "a string";
    case dom::element_type::BOOL:
      return "a boolean";
    case dom::element_type::NULL_VALUE:
      return "null";
  }
  return "something else";
}

class ResultsReader {
 public:
  explicit ResultsReader(const fs::path& file) : file_(file) {}

  [[noreturn]] void fail(const std::string& what) const { throw Error(file_.string() + ": " + what); }

  [[noreturn]] void wrong_type(const std::string& where, const char* expected, dom::element value) const {
    fail(where + ": expected " + expected + ", found " + type_name(value.type()));
  }

  int64_t integer(dom::element value, const std::string& where) const {
    int64_t v = 0;
    if (value.get_int64().get(v)) wrong_type(where, "an integer", value);
    return v;
  }

  double number(dom::element value, const std::string& where) const {
    double v = 0;
    if (value.get_double().get(v)) wrong_type(where, "a number", value);
    if (!std::isfinite(v)) fail(where + ": not a finite number");
    return v;
  }

  float float32(dom::element value, const std::string& where) const {
    const double v = number(value, where);
    if (std::abs(v) > std::numeric_limits<float>::max()) {
      char text[32];
      std::snprintf(text, sizeof text, "%g", v);
      fail(where + ": " + text + " is beyond float32");
    }
    return static_cast<float>(v);
  }

  // {"size": [h, w], "counts": "..." or [n, ...]}
  Rle segmentation(dom::element value, const std::string& where) const {
    dom::object object;
    if (value.type() == dom::element_type::ARRAY) {
      fail(where + ": a polygon segmentation; expected an RLE {\"size\": [h, w], \"counts\": ...}");
    }
    if (value.get_object().get(object)) wrong_type(where, "an RLE object", value);
    dom::element size_value, counts_value;
    if (object["size"].get(size_value)) fail(where + ": no \"size\"");
    if (object["counts"].get(counts_value)) fail(where + ": no \"counts\"");
    dom::array size;
    if (size_value.get_array().get(size)) wrong_type(where + ".size", "[height, width]", size_value);
    if (size.size() != 2)
      fail(where + ".size: expected [height, width], found " + std::to_string(size.size()) + " numbers");
    const int64_t height = integer(size.at(0).value_unsafe(), where + ".size[0]");
    const int64_t width = integer(size.at(1).value_unsafe(), where + ".size[1]");
    Rle rle;
    try {
      if (counts_value.type() == dom::element_type::STRING) {
        rle = rle_from_string(counts_value.get_string().value_unsafe(), height, width);
      } else if (counts_value.type() == dom::element_type::ARRAY) {
        rle.height = height;
        rle.width = width;
        size_t j = 0;
        const dom::array counts = counts_value.get_array().value_unsafe();
        for (dom::element count : counts) {
          const int64_t c = integer(count, where + ".counts[" + std::to_string(j++) + "]");
          if (c < 0 || c > std::numeric_limits<uint32_t>::max()) {
            fail(where + ".counts[" + std::to_string(j - 1) + "]: " + std::to_string(c) + " is out of range");
          }
          rle.counts.push_back(static_cast<uint32_t>(c));
        }
        check_rle(rle);
      } else {
        wrong_type(where + ".counts", "a string or an array of counts", counts_value);
      }
    } catch (const Error& e) {
      const std::string what = e.what();
      if (what.rfind(file_.string() + ": ", 0) == 0) throw;
      fail(where + ": " + what);
    }
    return rle;
  }

 private:
  fs::path file_;
};

struct ImageResults {
  int64_t image_id = 0;
  std::vector<float> bboxes, scores;
  std::vector<int64_t> labels;
  std::vector<Rle> masks;
};

}  // namespace

std::vector<CocoResultImage> read_coco_results(const fs::path& file) {
  const ResultsReader reader(file);
  std::error_code ec;
  if (!fs::exists(file, ec)) reader.fail("no such file");
  if (fs::is_directory(file, ec)) reader.fail("is a directory, expected a COCO results file");
  dom::parser parser;
  dom::element root;
  if (const auto error = parser.load(file.string()).get(root)) {
    if (error == simdjson::IO_ERROR) reader.fail("cannot read the file");
    reader.fail(std::string("malformed JSON: ") + simdjson::error_message(error));
  }
  dom::array results;
  if (root.get_array().get(results)) reader.wrong_type("the document", "a JSON array of results", root);

  std::vector<ImageResults> images;
  std::unordered_map<int64_t, size_t> position;  // image id -> index in `images`
  int segmentations = -1;                        // whether results have them: unknown, 0, 1
  size_t i = 0;
  for (dom::element element : results) {
    const std::string where = "results[" + std::to_string(i++) + "]";
    dom::object object;
    if (element.get_object().get(object)) reader.wrong_type(where, "an object", element);
    bool has_id = false, has_category = false, has_bbox = false, has_score = false, has_segmentation = false;
    int64_t image_id = 0, category = 0;
    float bbox[4] = {0, 0, 0, 0};
    float score = 0;
    Rle rle;
    for (const dom::key_value_pair field : object) {
      const std::string_view key = field.key;
      if (key == "image_id") {
        image_id = reader.integer(field.value, where + ".image_id");
        has_id = true;
      } else if (key == "category_id") {
        category = reader.integer(field.value, where + ".category_id");
        has_category = true;
      } else if (key == "score") {
        score = reader.float32(field.value, where + ".score");
        has_score = true;
      } else if (key == "bbox") {
        dom::array box;
        if (field.value.get_array().get(box)) reader.wrong_type(where + ".bbox", "[x, y, width, height]", field.value);
        if (box.size() != 4) {
          reader.fail(where + ".bbox: expected 4 numbers [x, y, width, height], found " + std::to_string(box.size()));
        }
        for (size_t j = 0; j < 4; ++j) {
          bbox[j] = reader.float32(box.at(j).value_unsafe(), where + ".bbox[" + std::to_string(j) + "]");
        }
        has_bbox = true;
      } else if (key == "segmentation") {
        rle = reader.segmentation(field.value, where + ".segmentation");
        has_segmentation = true;
      }
    }
    if (!has_id) reader.fail(where + ": no \"image_id\"");
    if (!has_category) reader.fail(where + ": no \"category_id\"");
    if (!has_score) reader.fail(where + ": no \"score\"");
    if (!has_bbox && !has_segmentation) reader.fail(where + ": no \"bbox\" (nor a \"segmentation\" to take it from)");
    if (segmentations >= 0 && segmentations != static_cast<int>(has_segmentation)) {
      reader.fail(where + (has_segmentation ? ": has a \"segmentation\", but earlier results have none"
                                            : ": no \"segmentation\", but earlier results have one"));
    }
    segmentations = has_segmentation;
    if (!has_bbox) {  // as pycocotools' loadRes: the box around the mask
      const std::array<int64_t, 4> box = rle_bbox(rle);
      for (int j = 0; j < 4; ++j) bbox[j] = static_cast<float>(box[j]);
    }
    auto [it, added] = position.emplace(image_id, images.size());
    if (added) images.push_back(ImageResults{image_id, {}, {}, {}, {}});
    ImageResults& image = images[it->second];
    image.bboxes.insert(image.bboxes.end(), bbox, bbox + 4);
    image.scores.push_back(score);
    image.labels.push_back(category);
    if (has_segmentation) image.masks.push_back(std::move(rle));
  }

  std::vector<CocoResultImage> out;
  out.reserve(images.size());
  for (ImageResults& image : images) {
    const auto k = static_cast<int64_t>(image.scores.size());
    CocoResultImage result;
    result.image_id = image.image_id;
    result.bboxes = torch::from_blob(image.bboxes.data(), {k, 4}, torch::kFloat).clone();
    result.scores = torch::from_blob(image.scores.data(), {k}, torch::kFloat).clone();
    result.labels = torch::from_blob(image.labels.data(), {k}, torch::kLong).clone();
    result.masks = std::move(image.masks);
    out.push_back(std::move(result));
  }
  return out;
}

std::optional<int64_t> coco_image_id(const fs::path& file) {
  const std::string stem = file.stem().string();
  size_t start = stem.size();
  while (start > 0 && stem[start - 1] >= '0' && stem[start - 1] <= '9') --start;
  if (start == stem.size()) return std::nullopt;
  if (start > 0 && stem[start - 1] != '_' && stem[start - 1] != '-') return std::nullopt;
  int64_t id = 0;
  const auto [end, error] = std::from_chars(stem.data() + start, stem.data() + stem.size(), id);
  if (error != std::errc() || end != stem.data() + stem.size()) return std::nullopt;
  return id;
}

}  // namespace imret::detect
