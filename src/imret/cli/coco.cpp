// imret coco: COCO-format data for object-based retrieval.
//   imret coco synth  -> a synthetic COCO folder made of Fashion-MNIST items
//   imret coco split  -> the course's retrieval split file from instances files
//   imret coco stats  -> images, objects and classes of a split
// Training, embedding, evaluation and grids use the usual commands with
// --data <COCO folder> (the items then carry their objects).
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <tuple>

#include "imret/cli/commands.hpp"
#include "imret/cli/setting_options.hpp"
#include "imret/core/error.hpp"
#include "imret/core/progress.hpp"
#include "imret/data/coco_dataset.hpp"
#include "imret/data/coco_synthetic.hpp"
#include "imret/data/idx.hpp"
#include "imret/pipeline/coco_jobs.hpp"

namespace imret::cli {
namespace {

namespace fs = std::filesystem;

struct SynthArgs {
  std::string fashion_mnist = data::kDefaultFashionMnist;
  std::string out;
  data::SyntheticCocoOptions options;
};

void run_synth(const SynthArgs& args) {
  const auto start = std::chrono::steady_clock::now();
  const data::SyntheticCocoSummary s = data::write_synthetic_coco(args.fashion_mnist, args.out, args.options);
  std::printf("wrote %s in %s\n", args.out.c_str(), format_duration(seconds_since(start)).c_str());
  std::printf("  images: %lld train2014, %lld val2014 (%lld without objects, %lld with only a crowd region)\n",
              static_cast<long long>(s.train_images), static_cast<long long>(s.val_images),
              static_cast<long long>(s.empty_images), static_cast<long long>(s.crowd_only_images));
  std::printf("  annotations: %lld (%lld crowd)\n", static_cast<long long>(s.annotations),
              static_cast<long long>(s.crowd_annotations));
  std::printf("  %s: train %lld, database %lld, val %lld, test %lld images\n", data::kCocoSplitFile,
              static_cast<long long>(s.split_sizes[0]), static_cast<long long>(s.split_sizes[1]),
              static_cast<long long>(s.split_sizes[2]), static_cast<long long>(s.split_sizes[3]));
}

void run_split(pipeline::SplitFileRequest request) {
  request.replace_hint = "pass --overwrite";
  std::filesystem::path out;
  data::CocoSplits splits;
  with_options({{"database_fraction", "--database"}, {"val_fraction", "--val"}, {"test_fraction", "--test"}},
               [&] { std::tie(out, splits) = pipeline::write_split_file(request); });
  std::printf("wrote %s:", out.c_str());
  for (const auto& [name, images] : splits.splits)
    std::printf(" %s %lld", name.c_str(), static_cast<long long>(images.size()));
  std::printf(" images\n");
}

struct StatsArgs {
  std::string data;
  std::string split = "train";
};

void run_stats(const StatsArgs& args) {
  const auto dataset = data::load_coco(args.data, args.split);
  const pipeline::ObjectStatistics s = pipeline::object_statistics(*dataset);
  std::printf("%s, split %s: %lld images, %lld without objects, %.2f objects per image (at most %lld)\n",
              args.data.c_str(), args.split.c_str(), static_cast<long long>(s.images),
              static_cast<long long>(s.empty_images), s.images ? static_cast<double>(s.objects) / s.images : 0.0,
              static_cast<long long>(s.most_objects));
  std::printf("%-24s %8s %10s\n", "class", "images", "instances");
  const auto& names = dataset->classes();
  for (size_t c = 0; c < names.size(); ++c)
    std::printf("%-24s %8lld %10lld\n", names[c].c_str(), static_cast<long long>(s.images_with[c]),
                static_cast<long long>(s.instances[c]));
}

}  // namespace

void add_coco_command(CLI::App& app) {
  CLI::App* command = app.add_subcommand("coco", "COCO-format data: a synthetic set, the retrieval split file, statistics");
  command->require_subcommand(1);

  auto synth = std::make_shared<SynthArgs>();
  CLI::App* s = command->add_subcommand("synth", "Write a synthetic COCO folder of canvases holding Fashion-MNIST items");
  s->add_option("-o,--out", synth->out, "New folder to write")->required();
  s->add_option("--fashion-mnist", synth->fashion_mnist, "Fashion-MNIST IDX folder")->capture_default_str();
  s->add_option("--train-images", synth->options.train_images, "Images in train2014")->capture_default_str();
  s->add_option("--val-images", synth->options.val_images, "Images in val2014")->capture_default_str();
  s->add_option("--canvas", synth->options.canvas, "Canvas side in pixels")->capture_default_str();
  s->add_option("--max-objects", synth->options.max_objects, "Most instances in an image")->capture_default_str();
  s->add_option("--empty-fraction", synth->options.empty_fraction, "Images without objects")->capture_default_str();
  s->add_option("--crowd-fraction", synth->options.crowd_fraction, "Images with a crowd region")->capture_default_str();
  s->add_option("--database-fraction", synth->options.database_fraction,
                "Train images with objects that form the database split")
      ->capture_default_str();
  s->add_option("--val-fraction", synth->options.val_fraction, "Val images with objects in the val split (rest: test)")
      ->capture_default_str();
  s->add_option("--seed", synth->options.seed, "Random seed")->capture_default_str();
  s->callback([synth] { run_synth(*synth); });

  auto split = std::make_shared<pipeline::SplitFileRequest>();
  CLI::App* p = command->add_subcommand("split", "Write the retrieval split file (train, database, val, test) of a COCO folder");
  p->add_option("--data", split->data, "COCO folder (annotations/instances_<set>.json)")->required();
  p->add_option("--train-set", split->train_set, "Set of the train and database splits")->capture_default_str();
  p->add_option("--query-set", split->query_set, "Set of the val and test splits")->capture_default_str();
  p->add_option("--database", split->options.database_fraction, "Fraction of the train images in the database")
      ->capture_default_str();
  p->add_option("--val", split->options.val_fraction, "Fraction of the query set in val")->capture_default_str();
  p->add_option("--test", split->options.test_fraction, "Fraction of the query set in test")->capture_default_str();
  p->add_option("--seed", split->options.seed, "Random seed")->capture_default_str();
  p->add_option("-o,--out", split->out, "Split file to write (default: <data>/retrieval_split.json)");
  p->add_flag("--overwrite", split->replace, "Replace an existing split file");
  p->callback([split] { run_split(*split); });

  auto stats = std::make_shared<StatsArgs>();
  CLI::App* t = command->add_subcommand("stats", "Images, objects and classes of one split of a COCO folder");
  t->add_option("--data", stats->data, "COCO folder")->required();
  t->add_option("--split", stats->split, "Split of retrieval_split.json, or a set such as val2014")->capture_default_str();
  t->callback([stats] { run_stats(*stats); });
}

}  // namespace imret::cli
