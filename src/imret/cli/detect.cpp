// imret detect: torchvision's Faster R-CNN / Mask R-CNN on images -> COCO
// results JSON, pictures with the detections drawn, predicted objects per
// image, and (optionally) detector features for retrieval.
#include <CLI/CLI.hpp>
#include <cstdio>

#include "imret/cli/commands.hpp"
#include "imret/cli/common.hpp"
#include "imret/pipeline/detect_job.hpp"

namespace imret::cli {
namespace {

struct DetectArgs {
  pipeline::DetectRequest request;
  std::string out;
  bool no_draw = false;
  std::string on_bad_image = "skip";
};

void run_detect(const DetectArgs& args) {
  pipeline::DetectRequest request = args.request;
  request.draw = !args.no_draw;
  request.skip_bad_images = args.on_bad_image == "skip";
  request.replace_hint = "pass --overwrite";
  const pipeline::DetectOutcome outcome = pipeline::detect_to_folder(request, args.out);
  std::printf("%lld detections in %lld images -> %s/detections.json%s\n", static_cast<long long>(outcome.detections),
              static_cast<long long>(outcome.images), args.out.c_str(),
              args.no_draw ? "" : (" and " + args.out + "/images/").c_str());
  if (request.features)
    std::printf("features: %s/embedding (%lld-d per image), %s/object_features.npy (%lld objects)\n", args.out.c_str(),
                static_cast<long long>(outcome.embedding_dim), args.out.c_str(),
                static_cast<long long>(outcome.objects));
  if (!outcome.bad_images.empty()) std::printf("%zu bad images skipped\n", outcome.bad_images.size());
}

}  // namespace

void add_detect_command(CLI::App& app) {
  auto args = std::make_shared<DetectArgs>();
  CLI::App* command = app.add_subcommand(
      "detect", "Detect objects with torchvision's Faster R-CNN / Mask R-CNN weights (-> COCO results JSON, pictures)");
  command->add_option("images", args->request.inputs, "Image files or folders (searched recursively)")->required();
  command
      ->add_option("--weights", args->request.weights,
                   "torchvision state_dict of fasterrcnn_resnet50_fpn or maskrcnn_resnet50_fpn (.pth or safetensors)")
      ->required();
  command->add_option("-o,--out", args->out, "Output folder")->required();
  command->add_flag("--overwrite", args->request.replace, "Replace the detections already in --out");
  command->add_option("--score-threshold", args->request.score_threshold, "Keep detections scoring above this")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  command->add_option("--max-detections", args->request.max_detections, "At most this many detections per image")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  command->add_option("--draw-threshold", args->request.draw_threshold, "Draw detections scoring at least this")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  command
      ->add_option("--count-threshold", args->request.count_threshold,
                   "Predicted objects (objects.jsonl, features) are detections scoring at least this")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  command->add_option("--min-size", args->request.min_size, "Resize the short side to this")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  command->add_option("--max-size", args->request.max_size, "... unless the long side gets longer than this")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  command
      ->add_option("--bn-eps", args->request.bn_eps,
                   "Frozen batch norm epsilon: 0 for torchvision's COCO weights, 1e-5 for models built without them")
      ->capture_default_str();
  command->add_flag("--no-draw", args->no_draw, "Do not write pictures of the detections");
  command->add_flag("--features", args->request.features,
                    "Also write detector features: pooled FPN embedding per image, RoI features per object");
  command->add_option("--device", args->request.device, "cpu, cuda or cuda:N")->capture_default_str();
  add_precision_option(*command, args->request.precision);
  command->add_option("--on-bad-image", args->on_bad_image, "skip (and report) or fail")
      ->check(CLI::IsMember({"skip", "fail"}))
      ->capture_default_str();
  command->callback([args] { run_detect(*args); });
}

}  // namespace imret::cli
