#pragma once
// What the library knows about each training method (loss), miner and
// distance, in one descriptor each. Everything that depends on the method,
// the miner or the distance reads these: TrainConfig::validate,
// effective_miner, make_objective, retrieval_metric, the trainer's tuple kind,
// the comparison table's distance and margin columns and the command line's
// help texts and choices.
//
// Each descriptor is defined in the source file of what it describes (a
// loss's in the loss's file, a miner's in miner.cpp, a distance's in
// distance.cpp). A loss's descriptor is a function
//   MethodDescriptor <name>_method() {
// at the start of a line, which the build finds and lists in methods()
// (cmake/ImretMethods.cmake): imret is a static library, and a file that only
// registered itself (a static registrar) would be dropped by the linker,
// since nothing refers to it; the generated list is that reference. Adding a
// loss: its source file (the class and its descriptor function) and its
// test. Adding a miner or a distance: the class and an entry in
// builtin_miners() (miner.cpp) / builtin_distances() (distance.cpp).
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "imret/learn/distance.hpp"
#include "imret/learn/label_relation.hpp"
#include "imret/learn/loss.hpp"
#include "imret/learn/miner.hpp"
#include "imret/learn/train_config.hpp"
#include "imret/search/index.hpp"

namespace imret::learn {

// The tuples a loss consumes and a miner chooses.
enum class TupleShape { None, Pairs, Triplets };

// What a loss factory builds from.
struct LossContext {
  const TrainConfig& config;
  std::shared_ptr<Distance> distance;  // what the loss compares by (for a learned distance: of the map's output)
  LabelRelation relation;              // the config's positive / negative pairs
  int64_t num_classes = 0;
  int64_t embedding_dim = 0;
};

struct MethodDescriptor {
  std::string name;                   // TrainConfig::method
  std::string help;                   // a few words for help texts
  std::vector<std::string> settings;  // TrainConfig keys (as in to_json) its loss reads, e.g. margin
  std::vector<std::string> switches;  // of them, on/off settings that no other method accepts (soft_margin)
  std::string margin_setting;         // the setting comparison tables show as its margin ("": none)
  TupleShape tuples = TupleShape::None;  // what its miner chooses; None: it takes no miner (TrainConfig::miner ignored)
  std::string default_miner;          // the miner when TrainConfig::miner is empty ("": none, every tuple of the batch)
  bool offline = false;               // can train on offline tuples (pairs or triplets, as `tuples`)
  bool trains_classifier = false;     // cross-entropy of the classifier; no metric loss, no distance
  std::string own_distance;           // compares by this whatever TrainConfig::distance (which must be
                                      // euclidean, the default, or this); "": by TrainConfig::distance
  std::function<std::shared_ptr<Loss>(const LossContext&)> make_loss;  // null where trains_classifier
};

struct MinerDescriptor {
  std::string name;  // TrainConfig::miner; unique among the miners of one TupleShape
  TupleShape tuples = TupleShape::Triplets;
  std::string help;
  // The factory of its shape (the other one is null).
  std::function<std::unique_ptr<TripletMiner>(uint64_t seed, LabelRelation relation)> make_triplet_miner;
  std::function<std::unique_ptr<PairMiner>(uint64_t seed, LabelRelation relation)> make_pair_miner;
};

struct DistanceDescriptor {
  std::string name;  // TrainConfig::distance
  std::string help;
  // A learned map in the network (its metric map, after the L2 normalisation):
  // the objective does not normalise, and the loss compares the map's outputs by make().
  bool learned = false;
  search::Metric normalized_metric = search::Metric::Cosine;  // searching L2-normalised embeddings
  search::Metric raw_metric = search::Metric::Euclidean;      // ... raw ones (TrainConfig::normalize off)
  std::function<std::shared_ptr<Distance>()> make;
};

// A method whose loss takes tuples of `tuples`, mined by `default_miner`
// unless TrainConfig::miner names another, and reads TrainConfig::margin
// (shown as its margin).
MethodDescriptor tuple_method(std::string name, std::string help, TupleShape tuples, std::string default_miner,
                              std::function<std::shared_ptr<Loss>(const LossContext&)> make_loss);

// Every descriptor, in the order help texts list them.
const std::vector<const MethodDescriptor*>& methods();
const std::vector<const MinerDescriptor*>& miners();
const std::vector<const DistanceDescriptor*>& distances();

// &d for each d of `all` (a file's static descriptors).
template <typename Descriptor>
std::vector<const Descriptor*> pointers_to(const std::vector<Descriptor>& all) {
  std::vector<const Descriptor*> pointers;
  for (const Descriptor& d : all) pointers.push_back(&d);
  return pointers;
}

std::vector<std::string> method_names();
std::vector<std::string> distance_names();
std::vector<std::string> miner_names(TupleShape tuples);

// UsageError naming the value and the known names.
const MethodDescriptor& find_method(const std::string& name);
const DistanceDescriptor& find_distance(const std::string& name);
const MinerDescriptor& find_miner(const std::string& name, TupleShape tuples);

// "a, b or c"; "a" alone; "" for none.
std::string or_list(const std::vector<std::string>& names);

// Help texts for the command line.
std::string methods_help();
std::string distances_help();
std::string miners_help();

// The comparison table's distance and margin columns for a run: "-" where the
// method has none; the method's own distance where it has one.
std::string table_distance(const TrainConfig& config);
std::string table_margin(const TrainConfig& config);

}  // namespace imret::learn
