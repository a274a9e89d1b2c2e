#include "imret/data/coco_annotations.hpp"

#include <simdjson.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <limits>
#include <set>
#include <string_view>
#include <utility>

#include "imret/core/atomic_file.hpp"
#include "imret/core/error.hpp"

namespace imret::data {

namespace fs = std::filesystem;
namespace od = simdjson::ondemand;

// ---------------------------------------------------------------------------
// CocoInstances lookups

int64_t CocoInstances::class_index(int64_t category_id) const {
  const auto it = class_by_id.find(category_id);
  return it == class_by_id.end() ? -1 : it->second;
}

int64_t CocoInstances::image_index(int64_t image_id) const {
  const auto it = image_by_id.find(image_id);
  return it == image_by_id.end() ? -1 : it->second;
}

std::vector<std::string> CocoInstances::class_names() const {
  std::vector<std::string> names;
  names.reserve(categories.size());
  for (const CocoCategory& category : categories) names.push_back(category.name);
  return names;
}

void CocoInstances::index() {
  class_by_id.clear();
  image_by_id.clear();
  for (size_t i = 0; i < categories.size(); ++i) class_by_id.emplace(categories[i].id, static_cast<int64_t>(i));
  for (size_t i = 0; i < images.size(); ++i) image_by_id.emplace(images[i].id, static_cast<int64_t>(i));
}

const std::vector<SplitImage>& CocoSplits::at(const std::string& split) const {
  const auto it = splits.find(split);
  if (it != splits.end()) return it->second;
  std::string known;
  for (const auto& entry : splits) known += (known.empty() ? "" : ", ") + entry.first;
  throw UsageError("unknown split \"" + split + "\" (the split file has: " + (known.empty() ? "none" : known) + ")");
}

namespace {

// ---------------------------------------------------------------------------
// Id -> position lookups for the reader and writer. COCO image ids are dense
// enough (train2014: 82,783 ids below 600,000) for a flat table, which is much
// faster than a tree for 600k annotations; sparse ids fall back to a sorted list.

class IdLookup {
 public:
  // Positions of `ids`; returns false (and the repeated id) when one repeats.
  bool build(const std::vector<int64_t>& ids, int64_t* duplicate) {
    table_.clear();
    sorted_.clear();
    if (ids.empty()) return true;
    const auto [lo, hi] = std::minmax_element(ids.begin(), ids.end());
    const uint64_t range = static_cast<uint64_t>(*hi) - static_cast<uint64_t>(*lo);
    if (range < 8 * static_cast<uint64_t>(ids.size()) + 4096) {
      base_ = *lo;
      table_.assign(range + 1, -1);
      for (size_t i = 0; i < ids.size(); ++i) {
        int32_t& slot = table_[static_cast<size_t>(ids[i] - base_)];
        if (slot >= 0) return *duplicate = ids[i], false;
        slot = static_cast<int32_t>(i);
      }
      return true;
    }
    sorted_.reserve(ids.size());
    for (size_t i = 0; i < ids.size(); ++i) sorted_.emplace_back(ids[i], static_cast<int64_t>(i));
    std::sort(sorted_.begin(), sorted_.end());
    for (size_t i = 1; i < sorted_.size(); ++i) {
      if (sorted_[i].first == sorted_[i - 1].first) return *duplicate = sorted_[i].first, false;
    }
    return true;
  }

  // Position of `id`, -1 when absent.
  int64_t find(int64_t id) const {
    if (!table_.empty()) {
      const uint64_t offset = static_cast<uint64_t>(id) - static_cast<uint64_t>(base_);  // id - base_ may overflow
      if (id < base_ || offset >= table_.size()) return -1;
      return table_[static_cast<size_t>(offset)];
    }
    const auto it = std::lower_bound(sorted_.begin(), sorted_.end(), std::make_pair(id, int64_t{-1}));
    return it != sorted_.end() && it->first == id ? it->second : -1;
  }

 private:
  int64_t base_ = 0;
  std::vector<int32_t> table_;
  std::vector<std::pair<int64_t, int64_t>> sorted_;
};

// ---------------------------------------------------------------------------
// Reading JSON with simdjson On Demand, with errors that name the file.

// Where a value sits, for error lines: images[12].id. Formatted only on error.
constexpr size_t kWhole = static_cast<size_t>(-1);  // Where::index of the array itself

struct Where {
  const char* array = nullptr;
  size_t index = kWhole;
  const char* field = nullptr;
  std::string text() const {
    std::string s = array ? array : "the document";
    if (array && index != kWhole) s += "[" + std::to_string(index) + "]";
    if (field) s += std::string(".") + field;
    return s;
  }
};

// Errors about the JSON text itself (as opposed to a value of the wrong type).
bool is_syntax_error(simdjson::error_code error) {
  switch (error) {
    case simdjson::INCORRECT_TYPE:
    case simdjson::NUMBER_OUT_OF_RANGE:
    case simdjson::NO_SUCH_FIELD:
      return false;
    default:
      return true;
  }
}

// Length of the valid UTF-8 sequence at p[0..n), 0 when invalid.
size_t utf8_sequence_length(const unsigned char* p, size_t n) {
  const unsigned char c = p[0];
  if (c < 0x80) return 1;
  size_t length = 0;
  unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
  if (c >= 0xC2 && c <= 0xDF)
    length = 2;
  else if (c >= 0xE0 && c <= 0xEF)
    length = 3, lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
  else if (c >= 0xF0 && c <= 0xF4)
    length = 4, lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
  else
    return 0;
  if (n < length || p[1] < lo || p[1] > hi) return 0;
  for (size_t i = 2; i < length; ++i) {
    if ((p[i] & 0xC0) != 0x80) return 0;
  }
  return length;
}

// simdjson's first pass (the whole file at once) reports a few errors without
// a place; this scan finds it: the first invalid UTF-8 byte, the first control
// character inside a string, or the opening quote of a string never closed.
size_t first_pass_error_offset(const char* data, size_t size, simdjson::error_code error) {
  const auto* bytes = reinterpret_cast<const unsigned char*>(data);
  bool in_string = false;
  size_t string_start = 0;
  for (size_t i = 0; i < size;) {
    const unsigned char c = bytes[i];
    if (c >= 0x80) {
      const size_t length = utf8_sequence_length(bytes + i, size - i);
      if (length == 0) {
        if (error == simdjson::UTF8_ERROR) return i;
        ++i;
      } else {
        i += length;
      }
      continue;
    }
    if (in_string) {
      if (c == '\\') {
        i += 2;
        continue;
      }
      if (c == '"')
        in_string = false;
      else if (c < 0x20 && error == simdjson::UNESCAPED_CHARS)
        return i;
    } else if (c == '"') {
      in_string = true;
      string_start = i;
    }
    ++i;
  }
  return in_string ? string_start : size;
}

// A JSON file loaded into simdjson's padded buffer, iterated On Demand. Every
// error is an imret::Error naming the file: "<path>: malformed JSON at byte N:
// <simdjson's message>" for the text, "<path>: <where>: <problem>" for values.
class JsonFile {
 public:
  explicit JsonFile(const fs::path& path) : path_(path) {
    std::error_code ignored;
    if (!fs::exists(path, ignored)) fail("file not found");
    if (fs::is_directory(path, ignored)) fail("is a folder, not a JSON file");
    if (const auto error = simdjson::padded_string::load(path.string()).get(json_)) {
      fail(std::string("cannot read: ") + simdjson::error_message(error));
    }
    if (const auto error = parser_.iterate(json_).get(document_)) {
      if (error == simdjson::CAPACITY || error == simdjson::MEMALLOC) {
        fail(std::string("cannot parse a file this large: ") + simdjson::error_message(error));
      }
      malformed(error, first_pass_error_offset(json_.data(), json_.size(), error));
    }
  }

  od::document& document() { return document_; }

  [[noreturn]] void fail(const std::string& what) const { throw Error(path_.string() + ": " + what); }

  [[noreturn]] void malformed(simdjson::error_code error, size_t offset) const {
    fail("malformed JSON at byte " + std::to_string(offset) + ": " + simdjson::error_message(error));
  }

  // Where the iterator stands: the byte of the next token; the end of the
  // file when it ran out (a truncated file).
  size_t offset() {
    const char* location = nullptr;
    if (document_.current_location().get(location) || location == nullptr) return json_.size();
    return std::min(static_cast<size_t>(location - json_.data()), json_.size());
  }

  // The value of `result`, or the error: malformed JSON with its byte offset,
  // or a value of the wrong type at `where`.
  template <typename T>
  T take(simdjson::simdjson_result<T>&& result, const Where& where, const char* expected) {
    T value;
    if (const auto error = std::move(result).get(value)) fail_at(error, where, expected);
    return value;
  }

  [[noreturn]] void fail_at(simdjson::error_code error, const Where& where, const char* expected) {
    if (error == simdjson::INCOMPLETE_ARRAY_OR_OBJECT) malformed(error, json_.size());  // ends early: truncated
    if (is_syntax_error(error)) malformed(error, offset());
    fail(where.text() + ": expected " + expected + " (" + simdjson::error_message(error) + ", near byte " +
         std::to_string(offset()) + ")");
  }

  // After the root value: nothing but whitespace may follow.
  void expect_end() {
    const char* location = nullptr;
    if (!document_.current_location().get(location) && location != nullptr) {
      malformed(simdjson::TRAILING_CONTENT, static_cast<size_t>(location - json_.data()));
    }
  }

 private:
  fs::path path_;
  simdjson::padded_string json_;
  od::parser parser_;
  od::document document_;
};

// The next field of an object being iterated.
od::field next_field(JsonFile& file, simdjson::simdjson_result<od::field> result, const Where& where) {
  return file.take(std::move(result), where, "an object field");
}

int64_t read_int(JsonFile& file, od::value& value, const Where& where) {
  return file.take(value.get_int64(), where, "an integer");
}

int32_t read_int32(JsonFile& file, od::value& value, const Where& where) {
  const int64_t v = read_int(file, value, where);
  if (v < std::numeric_limits<int32_t>::min() || v > std::numeric_limits<int32_t>::max()) {
    file.fail(where.text() + ": " + std::to_string(v) + " is out of range");
  }
  return static_cast<int32_t>(v);
}

double read_number(JsonFile& file, od::value& value, const Where& where) {
  return file.take(value.get_double(), where, "a number");
}

std::string_view read_string(JsonFile& file, od::value& value, const Where& where) {
  return file.take(value.get_string(), where, "a string");
}

// iscrowd: 0/1 as COCO writes it, true/false accepted.
bool read_flag(JsonFile& file, od::value& value, const Where& where) {
  const od::json_type type = file.take(value.type(), where, "0, 1, true or false");
  if (type == od::json_type::boolean) return file.take(value.get_bool(), where, "0, 1, true or false");
  return read_int(file, value, where) != 0;
}

od::array read_array(JsonFile& file, od::value& value, const Where& where) {
  return file.take(value.get_array(), where, "an array");
}

od::object read_object(JsonFile& file, simdjson::simdjson_result<od::value> value, const Where& where) {
  return file.take(value.get_object(), where, "an object");
}

[[noreturn]] void fail_missing(JsonFile& file, const Where& where, const char* field) {
  file.fail(where.text() + ": no \"" + field + "\"");
}

void read_images(JsonFile& file, od::value& value, std::vector<CocoImage>& images) {
  Where where{"images", 0, nullptr};
  for (auto element : read_array(file, value, Where{"images"})) {
    where.field = nullptr;
    CocoImage image;
    bool has_id = false, has_file_name = false;
    for (auto field_result : read_object(file, element, where)) {
      od::field field = next_field(file, field_result, where);
      const od::raw_json_string key = field.key();
      if (key == "id") {
        where.field = "id";
        image.id = read_int(file, field.value(), where);
        has_id = true;
      } else if (key == "file_name") {
        where.field = "file_name";
        image.file_name = read_string(file, field.value(), where);
        has_file_name = true;
      } else if (key == "width") {
        where.field = "width";
        image.width = read_int32(file, field.value(), where);
      } else if (key == "height") {
        where.field = "height";
        image.height = read_int32(file, field.value(), where);
      }
    }
    where.field = nullptr;
    if (!has_id) fail_missing(file, where, "id");
    if (!has_file_name) fail_missing(file, where, "file_name");
    images.push_back(std::move(image));
    ++where.index;
  }
}

void read_categories(JsonFile& file, od::value& value, std::vector<CocoCategory>& categories) {
  Where where{"categories", 0, nullptr};
  for (auto element : read_array(file, value, Where{"categories"})) {
    where.field = nullptr;
    CocoCategory category;
    bool has_id = false, has_name = false;
    for (auto field_result : read_object(file, element, where)) {
      od::field field = next_field(file, field_result, where);
      const od::raw_json_string key = field.key();
      if (key == "id") {
        where.field = "id";
        category.id = read_int(file, field.value(), where);
        has_id = true;
      } else if (key == "name") {
        where.field = "name";
        category.name = read_string(file, field.value(), where);
        has_name = true;
      } else if (key == "supercategory") {
        where.field = "supercategory";
        category.supercategory = read_string(file, field.value(), where);
      }
    }
    where.field = nullptr;
    if (!has_id) fail_missing(file, where, "id");
    if (!has_name) fail_missing(file, where, "name");
    categories.push_back(std::move(category));
    ++where.index;
  }
}

// bbox: [x, y, width, height].
void read_bbox(JsonFile& file, od::value& value, const Where& where, float bbox[4]) {
  size_t count = 0;
  for (auto element : read_array(file, value, where)) {
    od::value number = file.take(std::move(element), where, "a number");
    const double v = read_number(file, number, where);
    if (count < 4) bbox[count] = static_cast<float>(v);
    ++count;
  }
  if (count != 4) file.fail(where.text() + ": expected 4 numbers, got " + std::to_string(count));
}

// Annotations are read before the categories are known (the official files
// list categories last), so they are kept as they come and resolved after.
void read_annotations(JsonFile& file, od::value& value, std::vector<CocoAnnotation>& annotations) {
  Where where{"annotations", 0, nullptr};
  for (auto element : read_array(file, value, Where{"annotations"})) {
    where.field = nullptr;
    CocoAnnotation annotation;
    unsigned seen = 0;  // bits: id, image_id, category_id
    for (auto field_result : read_object(file, element, where)) {
      od::field field = next_field(file, field_result, where);
      const od::raw_json_string key = field.key();
      // "segmentation" (the bulk of the file) and anything else unlisted is
      // skipped by the iterator without being decoded.
      if (key == "image_id") {
        where.field = "image_id";
        annotation.image_id = read_int(file, field.value(), where);
        seen |= 2;
      } else if (key == "category_id") {
        where.field = "category_id";
        annotation.category_id = read_int(file, field.value(), where);
        seen |= 4;
      } else if (key == "id") {
        where.field = "id";
        annotation.id = read_int(file, field.value(), where);
        seen |= 1;
      } else if (key == "iscrowd") {
        where.field = "iscrowd";
        annotation.iscrowd = read_flag(file, field.value(), where);
      } else if (key == "bbox") {
        where.field = "bbox";
        read_bbox(file, field.value(), where, annotation.bbox);
      } else if (key == "area") {
        where.field = "area";
        annotation.area = read_number(file, field.value(), where);
      }
    }
    where.field = nullptr;
    if (!(seen & 1)) fail_missing(file, where, "id");
    if (!(seen & 2)) fail_missing(file, where, "image_id");
    if (!(seen & 4)) fail_missing(file, where, "category_id");
    annotations.push_back(annotation);
    ++where.index;
  }
}

// One more instance of class `category` in `counts` (kept sorted).
void add_object(ObjectCounts& counts, int32_t category) {
  auto it = std::lower_bound(counts.begin(), counts.end(), category,
                             [](const ObjectCount& entry, int32_t c) { return entry.category < c; });
  if (it != counts.end() && it->category == category)
    ++it->count;
  else
    counts.insert(it, ObjectCount{category, 1});
}

template <typename T>
std::vector<int64_t> ids_of(const std::vector<T>& items) {
  std::vector<int64_t> ids;
  ids.reserve(items.size());
  for (const T& item : items) ids.push_back(item.id);
  return ids;
}

// Categories by ascending id (class index = position), images checked for
// repeated ids, annotations counted per image and class.
void assemble(JsonFile& file, CocoInstances& result, const std::vector<CocoAnnotation>& annotations) {
  std::stable_sort(result.categories.begin(), result.categories.end(),
                   [](const CocoCategory& a, const CocoCategory& b) { return a.id < b.id; });
  IdLookup classes, images;
  int64_t duplicate = 0;
  if (!classes.build(ids_of(result.categories), &duplicate)) {
    file.fail("category id " + std::to_string(duplicate) + " is listed twice in \"categories\"");
  }
  if (!images.build(ids_of(result.images), &duplicate)) {
    file.fail("image id " + std::to_string(duplicate) + " is listed twice in \"images\"");
  }
  result.objects.assign(result.images.size(), {});
  result.crowd.assign(result.images.size(), {});
  for (size_t i = 0; i < annotations.size(); ++i) {
    const CocoAnnotation& annotation = annotations[i];
    const int64_t image = images.find(annotation.image_id);
    const int64_t category = classes.find(annotation.category_id);
    if (image < 0 || category < 0) {
      const bool no_image = image < 0;
      file.fail("annotations[" + std::to_string(i) + "] (id " + std::to_string(annotation.id) + "): " +
                (no_image ? "image_id " + std::to_string(annotation.image_id) + " is not in \"images\""
                          : "category_id " + std::to_string(annotation.category_id) + " is not in \"categories\""));
    }
    ObjectCounts& counts = annotation.iscrowd ? result.crowd[image] : result.objects[image];
    add_object(counts, static_cast<int32_t>(category));
    result.crowd_count += annotation.iscrowd ? 1 : 0;
  }
  result.annotation_count = static_cast<int64_t>(annotations.size());
  result.index();
}

}  // namespace

CocoInstances read_coco_instances(const fs::path& path, const CocoReadOptions& options) {
  JsonFile file(path);
  CocoInstances result;
  std::vector<CocoAnnotation> annotations;
  bool has_images = false, has_annotations = false, has_categories = false;
  const Where root{};
  od::object object = file.take(file.document().get_object(), root, "an object");
  for (auto field_result : object) {
    od::field field = next_field(file, field_result, root);
    const od::raw_json_string key = field.key();
    if (key == "images") {
      if (has_images) file.fail("\"images\" appears twice");
      read_images(file, field.value(), result.images);
      has_images = true;
    } else if (key == "annotations") {
      if (has_annotations) file.fail("\"annotations\" appears twice");
      read_annotations(file, field.value(), annotations);
      has_annotations = true;
    } else if (key == "categories") {
      if (has_categories) file.fail("\"categories\" appears twice");
      read_categories(file, field.value(), result.categories);
      has_categories = true;
    }
  }
  file.expect_end();
  for (const auto& [present, name] : {std::pair{has_images, "images"}, std::pair{has_annotations, "annotations"},
                                      std::pair{has_categories, "categories"}}) {
    if (!present) file.fail(std::string("not a COCO instances file: no \"") + name + "\" array");
  }
  assemble(file, result, annotations);
  if (options.keep_annotations) result.annotations = std::move(annotations);
  return result;
}

// ---------------------------------------------------------------------------
// Writing: JSON text built in one string (train2014 has 600k annotations).

namespace {

void append_string(std::string& out, std::string_view text) {
  out += '"';
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      default:
        if (c < 0x20) {
          char escaped[8];
          std::snprintf(escaped, sizeof escaped, "\\u%04x", c);
          out += escaped;
        } else {
          out += ch;  // UTF-8 bytes as they are
        }
    }
  }
  out += '"';
}

void append_int(std::string& out, int64_t value) {
  char buffer[24];
  const auto end = std::to_chars(buffer, buffer + sizeof buffer, value).ptr;
  out.append(buffer, end);
}

// Shortest text that reads back to the same value.
template <typename Float>
void append_float(std::string& out, Float value) {
  char buffer[40];
  const auto end = std::to_chars(buffer, buffer + sizeof buffer, value).ptr;
  out.append(buffer, end);
}

// Runs of an uncompressed RLE, column-major, starting with a run of zeros.
class RunLengths {
 public:
  void add(bool one, int64_t length) {
    if (length <= 0) return;
    if (counts_.empty() && one) counts_.push_back(0);
    const bool last_is_one = !counts_.empty() && counts_.size() % 2 == 0;
    if (!counts_.empty() && last_is_one == one)
      counts_.back() += length;
    else
      counts_.push_back(length);
  }
  const std::vector<int64_t>& counts() const { return counts_; }

 private:
  std::vector<int64_t> counts_;
};

// The mask of a box (pixel edges rounded, clipped to the image) as COCO's
// uncompressed RLE counts: column by column, runs of 0s and 1s.
std::vector<int64_t> box_rle(const float bbox[4], int64_t height, int64_t width) {
  const auto clip = [](double v, int64_t hi) { return std::clamp<int64_t>(std::llround(v), 0, hi); };
  const int64_t x0 = clip(bbox[0], width), x1 = clip(double(bbox[0]) + bbox[2], width);
  const int64_t y0 = clip(bbox[1], height), y1 = clip(double(bbox[1]) + bbox[3], height);
  const bool filled = x1 > x0 && y1 > y0;
  RunLengths runs;
  runs.add(false, x0 * height);
  for (int64_t x = x0; filled && x < x1; ++x) {
    runs.add(false, y0);
    runs.add(true, y1 - y0);
    runs.add(false, height - y1);
  }
  runs.add(false, (width - (filled ? x1 : x0)) * height);
  std::vector<int64_t> counts = runs.counts();
  if (counts.empty()) counts.push_back(0);
  return counts;
}

void append_image(std::string& out, const CocoImage& image) {
  out += "{\"license\": 1, \"file_name\": ";
  append_string(out, image.file_name);
  out += ", \"coco_url\": \"\", \"height\": ";
  append_int(out, image.height);
  out += ", \"width\": ";
  append_int(out, image.width);
  out += ", \"date_captured\": \"\", \"flickr_url\": \"\", \"id\": ";
  append_int(out, image.id);
  out += '}';
}

void append_annotation(std::string& out, const CocoAnnotation& annotation, const CocoImage& image) {
  const float* b = annotation.bbox;
  out += "{\"segmentation\": ";
  if (annotation.iscrowd) {
    out += "{\"counts\": [";
    const std::vector<int64_t> counts = box_rle(b, image.height, image.width);
    for (size_t i = 0; i < counts.size(); ++i) {
      if (i) out += ',';
      append_int(out, counts[i]);
    }
    out += "], \"size\": [";
    append_int(out, image.height);
    out += ", ";
    append_int(out, image.width);
    out += "]}";
  } else {
    const float right = b[0] + b[2], bottom = b[1] + b[3];
    const float polygon[8] = {b[0], b[1], right, b[1], right, bottom, b[0], bottom};
    out += "[[";
    for (int i = 0; i < 8; ++i) {
      if (i) out += ',';
      append_float(out, polygon[i]);
    }
    out += "]]";
  }
  out += ", \"area\": ";
  append_float(out, annotation.area);
  out += ", \"iscrowd\": ";
  out += annotation.iscrowd ? '1' : '0';
  out += ", \"image_id\": ";
  append_int(out, annotation.image_id);
  out += ", \"bbox\": [";
  for (int i = 0; i < 4; ++i) {
    if (i) out += ',';
    append_float(out, b[i]);
  }
  out += "], \"category_id\": ";
  append_int(out, annotation.category_id);
  out += ", \"id\": ";
  append_int(out, annotation.id);
  out += '}';
}

void append_category(std::string& out, const CocoCategory& category) {
  out += "{\"supercategory\": ";
  append_string(out, category.supercategory);
  out += ", \"id\": ";
  append_int(out, category.id);
  out += ", \"name\": ";
  append_string(out, category.name);
  out += '}';
}

bool finite_box(const CocoAnnotation& annotation) {
  return std::isfinite(annotation.area) &&
         std::all_of(annotation.bbox, annotation.bbox + 4, [](float v) { return std::isfinite(v); });
}

}  // namespace

void write_coco_instances(const fs::path& path, const CocoInstances& instances) {
  const auto fail = [&](const std::string& what) { throw Error(path.string() + ": " + what); };
  IdLookup images;
  int64_t duplicate = 0;
  if (!images.build(ids_of(instances.images), &duplicate)) fail("image id " + std::to_string(duplicate) + " twice");
  std::string out;
  out.reserve(200 * instances.images.size() + 140 * instances.annotations.size() + 4096);
  out +=
      "{\"info\": {\"description\": \"written by imret\", \"url\": \"\", \"version\": \"1.0\", \"year\": 2014, "
      "\"contributor\": \"\", \"date_created\": \"\"},\n"
      "\"licenses\": [{\"url\": \"\", \"id\": 1, \"name\": \"unknown\"}],\n\"images\": [";
  // One element per line: the file stays readable with head and grep.
  for (size_t i = 0; i < instances.images.size(); ++i) {
    out += i ? ",\n" : "\n";
    append_image(out, instances.images[i]);
  }
  out += "],\n\"annotations\": [";
  for (size_t i = 0; i < instances.annotations.size(); ++i) {
    const CocoAnnotation& annotation = instances.annotations[i];
    const int64_t image = images.find(annotation.image_id);
    if (image < 0) {
      fail("annotation id " + std::to_string(annotation.id) + ": image_id " + std::to_string(annotation.image_id) +
           " is not among the images");
    }
    if (!finite_box(annotation)) fail("annotation id " + std::to_string(annotation.id) + ": bbox or area not finite");
    out += i ? ",\n" : "\n";
    append_annotation(out, annotation, instances.images[image]);
  }
  out += "],\n\"categories\": [";
  for (size_t i = 0; i < instances.categories.size(); ++i) {
    out += i ? ",\n" : "\n";
    append_category(out, instances.categories[i]);
  }
  out += "]}\n";
  write_file_atomic(path, out);
}

// ---------------------------------------------------------------------------
// Retrieval split files.

namespace {

// A category id written as an object key: an optional '-' and digits.
bool parse_category_key(std::string_view key, int64_t* id) {
  if (key.empty()) return false;
  const auto [end, error] = std::from_chars(key.data(), key.data() + key.size(), *id);
  return error == std::errc() && end == key.data() + key.size();
}

// One split: {"<category id>": [image id, ...], ...} -> images, ascending.
std::vector<SplitImage> read_split(JsonFile& file, od::value& value, const std::string& split) {
  const std::string where_split = "split \"" + split + "\"";
  std::map<int64_t, std::set<int64_t>> categories_of_image;
  for (auto field_result : file.take(value.get_object(), Where{where_split.c_str()}, "an object")) {
    od::field field = next_field(file, field_result, Where{where_split.c_str()});
    const std::string key(file.take(field.unescaped_key(), Where{where_split.c_str()}, "a key"));
    int64_t category = 0;
    if (!parse_category_key(key, &category)) file.fail(where_split + ": key \"" + key + "\" is not a category id");
    const std::string where_category = where_split + ", category " + key;
    Where element_where{where_category.c_str(), 0, nullptr};
    for (auto element : file.take(field.value().get_array(), Where{where_category.c_str()}, "an array of image ids")) {
      od::value id_value = file.take(std::move(element), element_where, "an image id");
      const int64_t image = file.take(id_value.get_int64(), element_where, "an integer image id");
      categories_of_image[image].insert(category);
      ++element_where.index;
    }
  }
  std::vector<SplitImage> images;
  images.reserve(categories_of_image.size());
  for (const auto& [image, categories] : categories_of_image) {
    images.push_back(SplitImage{image, std::vector<int64_t>(categories.begin(), categories.end())});
  }
  return images;
}

}  // namespace

CocoSplits read_coco_splits(const fs::path& path) {
  JsonFile file(path);
  CocoSplits result;
  const Where root{};
  od::object object = file.take(file.document().get_object(), root, "an object");
  for (auto field_result : object) {
    od::field field = next_field(file, field_result, root);
    const std::string split(file.take(field.unescaped_key(), root, "a key"));
    if (result.splits.count(split)) file.fail("split \"" + split + "\" appears twice");
    result.splits[split] = read_split(file, field.value(), split);
  }
  file.expect_end();
  return result;
}

void write_coco_splits(const fs::path& path, const CocoSplits& splits) {
  std::string out = "{";
  bool first_split = true;
  for (const auto& [split, images] : splits.splits) {
    // Inverted: category id -> its images, both ascending.
    std::map<int64_t, std::vector<int64_t>> images_of_category;
    for (const SplitImage& image : images) {
      for (const int64_t category : image.category_ids) images_of_category[category].push_back(image.image_id);
    }
    out += first_split ? "\n" : ",\n";
    first_split = false;
    append_string(out, split);
    out += ": {";
    bool first_category = true;
    for (auto& [category, ids] : images_of_category) {
      std::sort(ids.begin(), ids.end());
      ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
      out += first_category ? "\n  \"" : ",\n  \"";
      first_category = false;
      append_int(out, category);
      out += "\": [";
      for (size_t i = 0; i < ids.size(); ++i) {
        if (i) out += ", ";
        append_int(out, ids[i]);
      }
      out += ']';
    }
    out += first_category ? "}" : "\n}";
  }
  out += "\n}\n";
  write_file_atomic(path, out);
}

}  // namespace imret::data
