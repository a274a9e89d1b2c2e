// imret detect: torchvision's Faster R-CNN / Mask R-CNN on images -> COCO
// results JSON, pictures with the detections drawn, predicted objects per
// image, and (optionally) detector features for retrieval.
#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <map>
#include <set>

#include "imret/cli/commands.hpp"
#include "imret/core/atomic_file.hpp"
#include "imret/core/embedding_set.hpp"
#include "imret/core/error.hpp"
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
// otherwise 1, 2, 3, ... in input order.
std::vector<int64_t> image_ids(const std::vector<fs::path>& files) {
  std::vector<int64_t> ids;
  std::set<int64_t> seen;
  for (const auto& file : files) {
    const auto id = detect::coco_image_id(file);
    if (!id || !seen.insert(*id).second) {
      ids.clear();
      for (size_t i = 0; i < files.size(); ++i) ids.push_back(static_cast<int64_t>(i) + 1);
      return ids;
    }
    ids.push_back(*id);
  }
  return ids;
}

// Unique picture names: the image's stem, with -2, -3, ... for repeats.
std::vector<std::string> picture_names(const std::vector<fs::path>& files) {
  std::map<std::string, int> used;
  std::vector<std::string> names;
  for (const auto& file : files) {
    const std::string stem = file.stem().string();
    const int n = ++used[stem];
    names.push_back(n == 1 ? stem : stem + "-" + std::to_string(n));
  }
  return names;
}

ObjectCounts predicted_objects(const detect::Detections& d, double threshold) {
  std::map<int32_t, int32_t> counts;
  for (int64_t i = 0; i < d.size(); ++i)
    if (d.scores[i].item<float>() >= threshold) ++counts[static_cast<int32_t>(d.labels[i].item<int64_t>())];
  ObjectCounts objects;
  for (const auto& [label, count] : counts) objects.push_back({label, count});
  return objects;
}

nlohmann::json objects_json(const ObjectCounts& objects) {
  nlohmann::json list = nlohmann::json::array();
  for (const auto& o : objects) list.push_back({detect::coco_category_name(o.category), o.count});
  return list;
}

void run_detect(const DetectArgs& args) {
  if (args.max_detections < 1) throw UsageError("--max-detections must be at least 1");
  const fs::path out(args.out);
  if (fs::exists(out / "detections.json"))
    throw UsageError(args.out + ": holds detections already (detections.json); choose another --out");
  const std::vector<fs::path> files = image_files(args.inputs);
  if (!data::image_decoding_available())
    throw UsageError("imret detect reads image files: this build has no OpenCV; rebuild with libopencv-imgcodecs-dev");
  if (!args.no_draw && !viz::has_plots())
    throw UsageError("drawing detections needs cairo, which this build lacks: add --no-draw");

  detect::DetectorOptions options;
  options.resize.min_size = args.min_size;
  options.resize.max_size = args.max_size;
  options.box.score_threshold = args.score_threshold;
  options.box.detections_per_image = args.max_detections;
  options.bn_eps = args.bn_eps;
  auto detector = detect::Detector::load(args.weights, options);
  detector->to(parse_device(args.device));
  spdlog::info("{}: {} with {} classes on {}", args.weights, detect::detector_arch_name(detector->arch()),
               detector->num_classes(), args.device);

  const std::vector<int64_t> ids = image_ids(files);
  const std::vector<std::string> names = picture_names(files);
  const bool skip_bad = args.on_bad_image == "skip";
  detect::CocoResultsWriter results(out / "detections.json");
  std::vector<EmbeddedItem> items;
  std::vector<float> embeddings, object_features;
  std::string objects_lines, object_rows;
  std::vector<std::string> bad;
  int64_t embedding_dim = 0, detections = 0, object_rows_count = 0, detected_images = 0;

  Progress progress("detect", static_cast<int64_t>(files.size()), "images");
  for (size_t i = 0; i < files.size(); ++i) {
    torch::Tensor image;
    try {
      image = data::decode_image_rgb(files[i]);
    } catch (const data::BadImageError& e) {
      if (!skip_bad) throw;
      spdlog::warn("{}", e.what());
      bad.push_back(files[i].string());
      progress.advance();
      continue;
    }
    detect::DetectorStages stages = detector->run({image});
    detect::Detections d = stages.detections[0];
    for (torch::Tensor* t : {&d.boxes, &d.scores, &d.labels, &d.masks, &d.features})
      if (t->defined()) *t = t->cpu();
    detections += d.size();

    if (!args.no_draw) {
      viz::DetectionDrawOptions draw;
      draw.score_threshold = static_cast<float>(args.draw_threshold);
      viz::write_detection_image(image, d, draw, out / "images" / (names[i] + ".png"));
    }
    const ObjectCounts objects = predicted_objects(d, args.count_threshold);
    objects_lines += nlohmann::json({{"image_id", ids[i]},
                                     {"file", files[i].string()},
                                     {"detections", d.size()},
                                     {"objects", objects_json(objects)}})
                         .dump() +
                     "\n";
    if (args.features) {
      const torch::Tensor pooled = detect::pooled_pyramid_features(stages, 0).cpu().contiguous();
      embedding_dim = pooled.numel();
      embeddings.insert(embeddings.end(), pooled.data_ptr<float>(), pooled.data_ptr<float>() + pooled.numel());
      EmbeddedItem item;
      item.index = static_cast<int64_t>(i);
      item.source = files[i].string();
      item.objects = objects;
      items.push_back(item);
      for (int64_t k = 0; k < d.size(); ++k) {
        if (d.scores[k].item<float>() < args.count_threshold) continue;
        const torch::Tensor row = d.features[k].contiguous();
        object_features.insert(object_features.end(), row.data_ptr<float>(), row.data_ptr<float>() + row.numel());
        const auto box = d.boxes[k];
        object_rows +=
            nlohmann::json(
                {{"image_id", ids[i]},
                 {"file", files[i].string()},
                 {"category_id", d.labels[k].item<int64_t>()},
                 {"category", detect::coco_category_name(d.labels[k].item<int64_t>())},
                 {"score", d.scores[k].item<float>()},
                 {"box", {box[0].item<float>(), box[1].item<float>(), box[2].item<float>(), box[3].item<float>()}}})
                .dump() +
            "\n";
        ++object_rows_count;
      }
    }
    results.add(ids[i], d);
    ++detected_images;
    progress.advance();
  }
  progress.finish();

  results.commit();
  write_file_atomic(out / "objects.jsonl", objects_lines);
  if (args.features && !items.empty()) {
    const nlohmann::json meta = {{"weights", fs::absolute(args.weights).string()},
                                 {"detector", detect::detector_arch_name(detector->arch())},
                                 {"features", "pooled FPN levels P2-P6 (5 x 256)"},
                                 {"objects", "predicted, score >= " + std::to_string(args.count_threshold)},
                                 {"bad_images", bad}};
    save_embedding_set(out / "embedding", embeddings.data(), static_cast<int64_t>(items.size()), embedding_dim, items,
                       meta);
    if (object_rows_count > 0)
      save_npy(out / "object_features.npy", object_features.data(), object_rows_count,
               static_cast<int64_t>(object_features.size()) / object_rows_count);
    write_file_atomic(out / "object_features.jsonl", object_rows);
  }
  std::printf("%lld detections in %lld images -> %s/detections.json%s\n", static_cast<long long>(detections),
              static_cast<long long>(detected_images), args.out.c_str(),
              args.no_draw ? "" : (" and " + args.out + "/images/").c_str());
  if (args.features)
    std::printf("features: %s/embedding (%lld-d per image), %s/object_features.npy (%lld objects)\n", args.out.c_str(),
                static_cast<long long>(embedding_dim), args.out.c_str(), static_cast<long long>(object_rows_count));
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
  command->add_option("--score-threshold", args->score_threshold, "Keep detections scoring above this")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  command->add_option("--max-detections", args->max_detections, "At most this many detections per image")
      ->capture_default_str();
  command->add_option("--draw-threshold", args->draw_threshold, "Draw detections scoring at least this")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  command
      ->add_option("--count-threshold", args->count_threshold,
                   "Predicted objects (objects.jsonl, features) are detections scoring at least this")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  command->add_option("--min-size", args->min_size, "Resize the short side to this")->capture_default_str();
  command->add_option("--max-size", args->max_size, "... unless the long side gets longer than this")
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
