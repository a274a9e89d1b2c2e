#include "imret/pipeline/detect_job.hpp"

#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <functional>
#include <map>
#include <set>

#include "imret/core/atomic_file.hpp"
#include "imret/core/embedding_set.hpp"
#include "imret/core/error.hpp"
#include "imret/core/npy.hpp"
#include "imret/core/output_folder.hpp"
#include "imret/core/precision.hpp"
#include "imret/core/progress.hpp"
#include "imret/core/runtime.hpp"
#include "imret/core/setting_error.hpp"
#include "imret/data/image_files.hpp"
#include "imret/data/image_folder.hpp"
#include "imret/detect/coco_categories.hpp"
#include "imret/detect/coco_results.hpp"
#include "imret/detect/detector.hpp"
#include "imret/models/autocast.hpp"
#include "imret/viz/detection_drawing.hpp"
#include "imret/viz/plot.hpp"

namespace imret::pipeline {
namespace fs = std::filesystem;

namespace {

using NameOf = std::function<std::string(int64_t)>;

// COCO ids from the file names when every name has one and they differ;
// otherwise 1, 2, 3, ... in input order (with a warning: such ids do not
// match a COCO annotation file).
std::vector<int64_t> image_ids(const std::vector<fs::path>& files) {
  std::vector<int64_t> ids;
  std::set<int64_t> seen;
  for (const auto& file : files) {
    const auto id = detect::coco_image_id(file);
    if (!id || !seen.insert(*id).second) {
      spdlog::warn("{}: {}; numbering the images 1 to {} in input order instead", file.string(),
                   id ? "another image has the same COCO id" : "no COCO image id in the name", files.size());
      ids.clear();
      for (size_t i = 0; i < files.size(); ++i) ids.push_back(static_cast<int64_t>(i) + 1);
      return ids;
    }
    ids.push_back(*id);
  }
  return ids;
}

// Unique picture names: the image's stem, with -2, -3, ... where taken.
std::vector<std::string> picture_names(const std::vector<fs::path>& files) {
  std::set<std::string> used;
  std::vector<std::string> names;
  for (const auto& file : files) {
    const std::string stem = file.stem().string();
    std::string name = stem;
    for (int n = 2; !used.insert(name).second; ++n) name = stem + "-" + std::to_string(n);
    names.push_back(name);
  }
  return names;
}

OutputRules detection_rules(const DetectRequest& request) {
  OutputRules rules;
  rules.kind = "detections";
  rules.command = "detect";
  rules.replace = request.replace;
  rules.replace_hint = request.replace_hint;
  rules.inputs.assign(request.inputs.begin(), request.inputs.end());
  rules.inputs.push_back(request.weights);
  // Written before markers: detect's outputs and nothing else.
  rules.legacy = [](const fs::path& folder) {
    return only_entries(folder,
                        {"detections.json", "objects.jsonl", "images", "embedding", "object_features.npy",
                         "object_features.jsonl"},
                        {}, "detections.json");
  };
  return rules;
}

std::unique_ptr<detect::Detector> load_detector(const DetectRequest& request) {
  detect::DetectorOptions options;
  options.resize.min_size = request.min_size;
  options.resize.max_size = request.max_size;
  options.box.score_threshold = request.score_threshold;
  options.box.detections_per_image = request.max_detections;
  options.bn_eps = request.bn_eps;
  options.binary_masks = true;  // the results file and the pictures keep masks above 0.5 only
  const c10::Device device = parse_device(request.device);
  options.precision = parse_precision(request.precision);
  check_precision_on(options.precision, device);
  auto detector = detect::Detector::load(request.weights, options);
  detector->to(device);
  models::use_precision_flags(options.precision);
  spdlog::info("{}: {} with {} classes on {}", request.weights, detect::detector_arch_name(detector->arch()),
               detector->num_classes(), request.device);
  return detector;
}

// One image's detections, read on the CPU, and its pooled features.
struct ImageDetections {
  detect::Detections detections;
  torch::Tensor pooled;  // features only
};

// What the run writes besides detections.json, gathered image by image.
class DetectionOutputs {
 public:
  DetectionOutputs(const DetectRequest& request, NameOf name_of) : request_(request), name_of_(std::move(name_of)) {}

  void add(size_t i, int64_t image_id, const fs::path& file, const ImageDetections& image, DetectOutcome& outcome) {
    const detect::Detections& d = image.detections;
    const auto scores = d.scores.accessor<float, 1>();
    const auto labels = d.labels.accessor<int64_t, 1>();
    std::map<int32_t, int32_t> counts;
    for (int64_t k = 0; k < d.size(); ++k) {
      if (scores[k] < request_.count_threshold) continue;
      ++counts[static_cast<int32_t>(labels[k])];
      if (request_.features) add_object_features(d, k, image_id, file, outcome);
    }
    ObjectCounts objects;
    nlohmann::json named = nlohmann::json::array();
    for (const auto& [label, count] : counts) {
      objects.push_back({label, count});
      named.push_back({name_of_(label), count});
    }
    objects_lines_ += nlohmann::json({{"image_id", image_id}, {"file", file.string()}, {"detections", d.size()},
                                      {"objects", named}})
                          .dump() +
                      "\n";
    if (!request_.features) return;
    outcome.embedding_dim = image.pooled.numel();
    embeddings_.insert(embeddings_.end(), image.pooled.data_ptr<float>(),
                       image.pooled.data_ptr<float>() + image.pooled.numel());
    EmbeddedItem item;
    item.index = static_cast<int64_t>(i);
    item.source = file.string();
    item.objects = objects;
    items_.push_back(item);
  }

  void write(const fs::path& folder, const std::string& detector_name, const DetectOutcome& outcome) const {
    write_file_atomic(folder / "objects.jsonl", objects_lines_);
    if (!request_.features) return;
    const nlohmann::json meta = {{"weights", fs::absolute(request_.weights).string()},
                                 {"detector", detector_name},
                                 {"features", "pooled FPN levels P2-P6 (5 x 256)"},
                                 {"objects", "predicted, score >= " + std::to_string(request_.count_threshold)},
                                 {"bad_images", outcome.bad_images}};
    save_embedding_set(folder / "embedding", embeddings_.data(), static_cast<int64_t>(items_.size()),
                       outcome.embedding_dim, items_, meta);
    if (outcome.objects > 0)
      save_npy(folder / "object_features.npy", object_features_.data(), outcome.objects,
               static_cast<int64_t>(object_features_.size()) / outcome.objects);
    write_file_atomic(folder / "object_features.jsonl", object_rows_);
  }

 private:
  void add_object_features(const detect::Detections& d, int64_t k, int64_t image_id, const fs::path& file,
                           DetectOutcome& outcome) {
    const auto boxes = d.boxes.accessor<float, 2>();
    const int64_t label = d.labels[k].item<int64_t>();
    const torch::Tensor row = d.features[k].contiguous();
    object_features_.insert(object_features_.end(), row.data_ptr<float>(), row.data_ptr<float>() + row.numel());
    object_rows_ += nlohmann::json({{"image_id", image_id},
                                    {"file", file.string()},
                                    {"category_id", label},
                                    {"category", name_of_(label)},
                                    {"score", d.scores[k].item<float>()},
                                    {"box", {boxes[k][0], boxes[k][1], boxes[k][2], boxes[k][3]}}})
                        .dump() +
                    "\n";
    ++outcome.objects;
  }

  const DetectRequest& request_;
  NameOf name_of_;
  std::string objects_lines_, object_rows_;
  std::vector<EmbeddedItem> items_;
  std::vector<float> embeddings_, object_features_;
};

}  // namespace

DetectOutcome detect_to_folder(const DetectRequest& request, const fs::path& folder) {
  // Checked before the model loads; the results are built aside and put in place whole when the run succeeds.
  OutputFolder partial(folder, detection_rules(request));
  const std::vector<fs::path> files = data::list_image_files(request.inputs);
  if (!data::image_decoding_available())
    throw UsageError("detection reads image files: this build has no OpenCV; rebuild with libopencv-imgcodecs-dev");
  if (request.draw && !viz::has_plots())
    throw UsageError("drawing detections needs cairo, which this build lacks; detect without drawing");
  if (request.max_size < request.min_size) throw SettingError("max_size", " must be at least min_size");

  auto detector = load_detector(request);
  // COCO's names for COCO's 91 labels; a detector with other classes gets "class N".
  const bool coco_labels = detector->num_classes() == 91;
  const NameOf name_of = [coco_labels](int64_t label) {
    return coco_labels ? detect::coco_category_name(label) : "class " + std::to_string(label);
  };
  const std::vector<int64_t> ids = image_ids(files);
  const std::vector<std::string> names = picture_names(files);
  detect::CocoResultsWriter results(partial.path() / "detections.json");
  DetectionOutputs outputs(request, name_of);
  DetectOutcome outcome;
  viz::DetectionDrawOptions draw;
  draw.score_threshold = static_cast<float>(request.draw_threshold);
  draw.category_name = name_of;

  Progress progress("detect", static_cast<int64_t>(files.size()), "images");
  for (size_t i = 0; i < files.size(); ++i) {
    ImageDetections image;
    // Anything wrong with one image (unreadable, too thin to detect in, too
    // large to draw) skips it or stops the run, as the request says.
    try {
      const torch::Tensor pixels = data::decode_image_rgb(files[i]);
      detect::DetectorStages stages = detector->run({pixels});
      detect::Detections& d = image.detections = stages.detections[0];
      for (torch::Tensor* t : {&d.boxes, &d.scores, &d.labels, &d.masks, &d.features})
        if (t->defined()) *t = t->cpu();
      if (request.features) image.pooled = detect::pooled_pyramid_features(stages, 0).cpu().contiguous();
      if (request.draw) viz::write_detection_image(pixels, d, draw, partial.path() / "images" / (names[i] + ".png"));
    } catch (const std::exception& e) {
      std::string what = e.what();
      what = what.substr(0, what.find('\n'));
      if (what.rfind(files[i].string(), 0) != 0) what = files[i].string() + ": " + what;
      if (!request.skip_bad_images) throw Error(what);
      spdlog::warn("{} (skipped)", what);
      outcome.bad_images.push_back(files[i].string());
      progress.advance();
      continue;
    }
    outcome.detections += image.detections.size();
    outputs.add(i, ids[i], files[i], image, outcome);
    results.add(ids[i], image.detections);
    ++outcome.images;
    progress.advance();
  }
  progress.finish();
  if (outcome.images == 0)
    throw Error("no image could be read: nothing detected (" + std::to_string(outcome.bad_images.size()) +
                " bad images, the first " + outcome.bad_images.front() + ")");
  results.commit();
  outputs.write(partial.path(), detect::detector_arch_name(detector->arch()), outcome);
  partial.publish();
  return outcome;
}

}  // namespace imret::pipeline
