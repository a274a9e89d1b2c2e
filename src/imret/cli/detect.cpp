// imret detect: torchvision's Faster R-CNN / Mask R-CNN on images -> COCO
// results JSON, pictures with the detections drawn, predicted objects per
// image, and (optionally) detector features for retrieval.
#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <functional>
#include <map>
#include <set>

#include "imret/cli/commands.hpp"
#include "imret/core/atomic_file.hpp"
#include "imret/core/embedding_set.hpp"
#include "imret/core/error.hpp"
#include "imret/core/output_folder.hpp"
#include "imret/core/npy.hpp"
#include "imret/core/progress.hpp"
#include "imret/core/runtime.hpp"
#include "imret/data/dataset.hpp"
#include "imret/data/image_folder.hpp"
#include "imret/detect/coco_categories.hpp"
#include "imret/detect/coco_results.hpp"
#include "imret/detect/detector.hpp"
#include "imret/viz/detection_drawing.hpp"
#include "imret/viz/plot.hpp"

namespace imret::cli {
namespace {
namespace fs = std::filesystem;

struct DetectArgs {
  std::vector<std::string> inputs;
  std::string weights;
  std::string out;
  std::string device = "cpu";
  double score_threshold = 0.05;
  int64_t max_detections = 100;
  double draw_threshold = 0.5;
  double count_threshold = 0.5;
  double min_size = 800;
  double max_size = 1333;
  double bn_eps = 0.0;
  bool no_draw = false;
  bool features = false;
  bool overwrite = false;
  std::string on_bad_image = "skip";
};

bool is_image_file(const fs::path& path) {
  std::string ext = path.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  static const std::set<std::string> known = {".jpg",  ".jpeg", ".png", ".bmp", ".tif",
                                              ".tiff", ".webp", ".ppm", ".pgm"};
  return known.count(ext) > 0;
}

// The image files named on the command line: files as given, folders
// searched recursively (sorted).
std::vector<fs::path> image_files(const std::vector<std::string>& inputs) {
  std::vector<fs::path> files;
  for (const auto& input : inputs) {
    const fs::path path(input);
    std::error_code ec;
    if (fs::is_directory(path, ec)) {
      std::vector<fs::path> found;
      for (auto it = fs::recursive_directory_iterator(path, ec); !ec && it != fs::recursive_directory_iterator();
           it.increment(ec))
        if (it->is_regular_file(ec) && is_image_file(it->path())) found.push_back(it->path());
      if (ec) throw Error(input + ": cannot list the folder: " + ec.message());
      if (found.empty()) throw UsageError(input + ": the folder holds no image (.jpg, .png, .bmp, .tif, .webp, ...)");
      std::sort(found.begin(), found.end());
      files.insert(files.end(), found.begin(), found.end());
    } else if (fs::is_regular_file(path, ec)) {
      files.push_back(path);
    } else {
      throw UsageError(input + ": no such image file or folder");
    }
  }
  return files;
}

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

// Everything the run keeps of one image's detections, read once on the CPU.
struct ImageResult {
  ObjectCounts objects;  // detections scoring at least the count threshold
  std::string object_rows;
  std::vector<float> object_features;
  int64_t object_count = 0;
};

ImageResult summarize(const detect::Detections& d, int64_t image_id, const fs::path& file, double count_threshold,
                      bool features, const std::function<std::string(int64_t)>& name_of) {
  ImageResult result;
  const auto scores = d.scores.accessor<float, 1>();
  const auto labels = d.labels.accessor<int64_t, 1>();
  const auto boxes = d.boxes.accessor<float, 2>();
  std::map<int32_t, int32_t> counts;
  for (int64_t k = 0; k < d.size(); ++k) {
    if (scores[k] < count_threshold) continue;
    ++counts[static_cast<int32_t>(labels[k])];
    if (!features) continue;
    const torch::Tensor row = d.features[k].contiguous();
    result.object_features.insert(result.object_features.end(), row.data_ptr<float>(),
                                  row.data_ptr<float>() + row.numel());
    result.object_rows += nlohmann::json({{"image_id", image_id},
                                          {"file", file.string()},
                                          {"category_id", labels[k]},
                                          {"category", name_of(labels[k])},
                                          {"score", scores[k]},
                                          {"box", {boxes[k][0], boxes[k][1], boxes[k][2], boxes[k][3]}}})
                              .dump() +
                          "\n";
    ++result.object_count;
  }
  for (const auto& [label, count] : counts) result.objects.push_back({label, count});
  return result;
}

void run_detect(const DetectArgs& args) {
  // Checked before the model loads; the results are built aside and put in place whole when the run succeeds.
  OutputRules rules;
  rules.kind = "detections";
  rules.command = "detect";
  rules.replace = args.overwrite;
  rules.replace_hint = "pass --overwrite";
  rules.inputs.assign(args.inputs.begin(), args.inputs.end());
  rules.inputs.push_back(args.weights);
  // Written before markers: detect's outputs and nothing else.
  rules.legacy = [](const fs::path& folder) {
    return only_entries(folder,
                        {"detections.json", "objects.jsonl", "images", "embedding", "object_features.npy",
                         "object_features.jsonl"},
                        {}, "detections.json");
  };
  OutputFolder partial(args.out, rules);
  const std::vector<fs::path> files = image_files(args.inputs);
  if (!data::image_decoding_available())
    throw UsageError("imret detect reads image files: this build has no OpenCV; rebuild with libopencv-imgcodecs-dev");
  if (!args.no_draw && !viz::has_plots())
    throw UsageError("drawing detections needs cairo, which this build lacks: add --no-draw");
  if (args.max_size < args.min_size) throw UsageError("--max-size must be at least --min-size");

  detect::DetectorOptions options;
  options.resize.min_size = args.min_size;
  options.resize.max_size = args.max_size;
  options.box.score_threshold = args.score_threshold;
  options.box.detections_per_image = args.max_detections;
  options.bn_eps = args.bn_eps;
  options.binary_masks = true;  // the results file and the pictures keep masks above 0.5 only
  auto detector = detect::Detector::load(args.weights, options);
  detector->to(parse_device(args.device));
  spdlog::info("{}: {} with {} classes on {}", args.weights, detect::detector_arch_name(detector->arch()),
               detector->num_classes(), args.device);
  // COCO's names for COCO's 91 labels; a detector with other classes gets "class N".
  const bool coco_labels = detector->num_classes() == 91;
  const std::function<std::string(int64_t)> name_of = [coco_labels](int64_t label) {
    return coco_labels ? detect::coco_category_name(label) : "class " + std::to_string(label);
  };

  const std::vector<int64_t> ids = image_ids(files);
  const std::vector<std::string> names = picture_names(files);
  const bool skip_bad = args.on_bad_image == "skip";
  detect::CocoResultsWriter results(partial.path() / "detections.json");
  std::vector<EmbeddedItem> items;
  std::vector<float> embeddings, object_features;
  std::string objects_lines, object_rows;
  std::vector<std::string> bad;
  int64_t embedding_dim = 0, detections = 0, object_count = 0, detected_images = 0;
  viz::DetectionDrawOptions draw;
  draw.score_threshold = static_cast<float>(args.draw_threshold);
  draw.category_name = name_of;

  Progress progress("detect", static_cast<int64_t>(files.size()), "images");
  for (size_t i = 0; i < files.size(); ++i) {
    detect::Detections d;
    torch::Tensor pooled;
    // Anything wrong with one image (unreadable, too thin to detect in, too
    // large to draw) skips it or stops the run, as --on-bad-image says.
    try {
      const torch::Tensor image = data::decode_image_rgb(files[i]);
      detect::DetectorStages stages = detector->run({image});
      d = stages.detections[0];
      for (torch::Tensor* t : {&d.boxes, &d.scores, &d.labels, &d.masks, &d.features})
        if (t->defined()) *t = t->cpu();
      if (args.features) pooled = detect::pooled_pyramid_features(stages, 0).cpu().contiguous();
      if (!args.no_draw) viz::write_detection_image(image, d, draw, partial.path() / "images" / (names[i] + ".png"));
    } catch (const std::exception& e) {
      std::string what = e.what();
      what = what.substr(0, what.find('\n'));
      if (what.rfind(files[i].string(), 0) != 0) what = files[i].string() + ": " + what;
      if (!skip_bad) throw Error(what);
      spdlog::warn("{} (skipped)", what);
      bad.push_back(files[i].string());
      progress.advance();
      continue;
    }
    detections += d.size();
    ImageResult summary = summarize(d, ids[i], files[i], args.count_threshold, args.features, name_of);
    nlohmann::json objects = nlohmann::json::array();
    for (const auto& o : summary.objects) objects.push_back({name_of(o.category), o.count});
    objects_lines +=
        nlohmann::json(
            {{"image_id", ids[i]}, {"file", files[i].string()}, {"detections", d.size()}, {"objects", objects}})
            .dump() +
        "\n";
    if (args.features) {
      embedding_dim = pooled.numel();
      embeddings.insert(embeddings.end(), pooled.data_ptr<float>(), pooled.data_ptr<float>() + pooled.numel());
      EmbeddedItem item;
      item.index = static_cast<int64_t>(i);
      item.source = files[i].string();
      item.objects = summary.objects;
      items.push_back(item);
      object_features.insert(object_features.end(), summary.object_features.begin(), summary.object_features.end());
      object_rows += summary.object_rows;
      object_count += summary.object_count;
    }
    results.add(ids[i], d);
    ++detected_images;
    progress.advance();
  }
  progress.finish();
  if (detected_images == 0)
    throw Error("no image could be read: nothing detected (" + std::to_string(bad.size()) + " bad images, the first " +
                bad.front() + ")");

  results.commit();
  write_file_atomic(partial.path() / "objects.jsonl", objects_lines);
  if (args.features) {
    const nlohmann::json meta = {{"weights", fs::absolute(args.weights).string()},
                                 {"detector", detect::detector_arch_name(detector->arch())},
                                 {"features", "pooled FPN levels P2-P6 (5 x 256)"},
                                 {"objects", "predicted, score >= " + std::to_string(args.count_threshold)},
                                 {"bad_images", bad}};
    save_embedding_set(partial.path() / "embedding", embeddings.data(), static_cast<int64_t>(items.size()),
                       embedding_dim, items, meta);
    if (object_count > 0)
      save_npy(partial.path() / "object_features.npy", object_features.data(), object_count,
               static_cast<int64_t>(object_features.size()) / object_count);
    write_file_atomic(partial.path() / "object_features.jsonl", object_rows);
  }
  partial.publish();
  std::printf("%lld detections in %lld images -> %s/detections.json%s\n", static_cast<long long>(detections),
              static_cast<long long>(detected_images), args.out.c_str(),
              args.no_draw ? "" : (" and " + args.out + "/images/").c_str());
  if (args.features)
    std::printf("features: %s/embedding (%lld-d per image), %s/object_features.npy (%lld objects)\n", args.out.c_str(),
                static_cast<long long>(embedding_dim), args.out.c_str(), static_cast<long long>(object_count));
  if (!bad.empty()) std::printf("%zu bad images skipped\n", bad.size());
}

}  // namespace

void add_detect_command(CLI::App& app) {
  auto args = std::make_shared<DetectArgs>();
  CLI::App* command = app.add_subcommand(
      "detect", "Detect objects with torchvision's Faster R-CNN / Mask R-CNN weights (-> COCO results JSON, pictures)");
  command->add_option("images", args->inputs, "Image files or folders (searched recursively)")->required();
  command
      ->add_option("--weights", args->weights,
                   "torchvision state_dict of fasterrcnn_resnet50_fpn or maskrcnn_resnet50_fpn (.pth or safetensors)")
      ->required();
  command->add_option("-o,--out", args->out, "Output folder")->required();
  command->add_flag("--overwrite", args->overwrite, "Replace the detections already in --out");
  command->add_option("--score-threshold", args->score_threshold, "Keep detections scoring above this")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  command->add_option("--max-detections", args->max_detections, "At most this many detections per image")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  command->add_option("--draw-threshold", args->draw_threshold, "Draw detections scoring at least this")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  command
      ->add_option("--count-threshold", args->count_threshold,
                   "Predicted objects (objects.jsonl, features) are detections scoring at least this")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  command->add_option("--min-size", args->min_size, "Resize the short side to this")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  command->add_option("--max-size", args->max_size, "... unless the long side gets longer than this")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  command
      ->add_option("--bn-eps", args->bn_eps,
                   "Frozen batch norm epsilon: 0 for torchvision's COCO weights, 1e-5 for models built without them")
      ->capture_default_str();
  command->add_flag("--no-draw", args->no_draw, "Do not write pictures of the detections");
  command->add_flag("--features", args->features,
                    "Also write detector features: pooled FPN embedding per image, RoI features per object");
  command->add_option("--device", args->device, "cpu, cuda or cuda:N")->capture_default_str();
  command->add_option("--on-bad-image", args->on_bad_image, "skip (and report) or fail")
      ->check(CLI::IsMember({"skip", "fail"}))
      ->capture_default_str();
  command->callback([args] { run_detect(*args); });
}

}  // namespace imret::cli
