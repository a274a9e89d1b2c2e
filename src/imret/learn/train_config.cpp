#include "imret/learn/train_config.hpp"

#include <c10/core/Device.h>

#include <cmath>
#include <optional>

#include "imret/core/error.hpp"
#include "imret/core/precision.hpp"
#include "imret/core/runtime.hpp"
#include "imret/core/setting_error.hpp"
#include "imret/learn/freeze.hpp"
#include "imret/learn/registry.hpp"
#include "imret/models/pooling.hpp"

#include <algorithm>

namespace imret::learn {

namespace {

const auto mention = SettingError::mention;

// The settings that depend on the method: its distance, tuples, miner and switches.
void check_method_settings(const TrainConfig& config, const MethodDescriptor& method) {
  const DistanceDescriptor& distance = find_distance(config.distance);
  if (!method.own_distance.empty() && config.distance != TrainConfig().distance &&
      config.distance != method.own_distance) {
    const bool similarity = find_distance(method.own_distance).make()->is_similarity();
    throw SettingError("method", " " + method.name + " compares by " + method.own_distance +
                                     (similarity ? " similarity" : " distance") + "; " + mention("distance") + " " +
                                     distance.name + " does not apply");
  }
  if (config.tuples != "online" && config.tuples != "offline")
    throw SettingError("tuples", " " + config.tuples + ": expected online or offline");
  if (config.tuples == "offline" && !method.offline) {
    std::vector<std::string> uses;
    for (const MethodDescriptor* m : methods())
      if (m->offline) uses.push_back((m->tuples == TupleShape::Pairs ? "pairs" : "triplets") + std::string(" for ") + mention("method") + " " + m->name);
    std::string list;
    for (const auto& use : uses) list += (list.empty() ? "" : " or ") + use;
    throw SettingError("tuples", " offline: " + list);
  }
  if (config.tuples == "offline" && !config.miner.empty())
    throw SettingError("tuples", " offline uses the drawn tuples as they are: leave out " + mention("miner"));
  if (!config.miner.empty() && method.tuples != TupleShape::None) find_miner(config.miner, method.tuples);
  const nlohmann::json values = config.to_json();
  for (const MethodDescriptor* other : methods())
    for (const std::string& key : other->switches) {
      if (values.at(key) != true || std::count(method.switches.begin(), method.switches.end(), key) > 0) continue;
      std::vector<std::string> takers;
      for (const MethodDescriptor* m : methods())
        if (std::count(m->switches.begin(), m->switches.end(), key) > 0) takers.push_back(m->name);
      throw SettingError(key, " applies to " + mention("method") + " " + or_list(takers) + " only");
    }
}

}  // namespace

void TrainConfig::validate() const {
  const MethodDescriptor& descriptor = find_method(method);
  if (!descriptor.trains_classifier && (classes_per_batch < 2 || images_per_class < 2))
    throw SettingError("classes_per_batch",
                       " and " + mention("images_per_class") + " must be at least 2 for metric learning");
  if (!(margin >= 0)) throw SettingError("margin", " must be >= 0");
  check_method_settings(*this, descriptor);
  if (!(positive_overlap >= 0 && positive_overlap <= 1)) throw SettingError("positive_overlap", " must be in [0, 1]");
  if (negatives != "disjoint" && negatives != "below-overlap")
    throw SettingError("negatives", " " + negatives + ": expected disjoint or below-overlap");
  if (!(clip_grad_norm >= 0)) throw SettingError("clip_grad_norm", " must be >= 0");
  if (early_stop < 0) throw SettingError("early_stop", " must be >= 0");
  if (early_stop > 0 && val_fraction <= 0) throw SettingError("early_stop", " needs validation (" + mention("val_fraction") + " > 0)");
  if (epochs < 0) throw SettingError("epochs", " must be at least 0 (0: the untrained network, a baseline)");
  if (network.head_dim < 0) throw SettingError("head_dim", " must be at least 0");
  models::parse_pool(network.pool, "pool");
  if (network.arch == "torchscript" && descriptor.trains_classifier)
    throw SettingError("method", " " + method + ": a TorchScript backbone has no classifier to train; use a "
                                 "metric-learning method (triplet, multi-similarity, ...)");
  if (network.head_dim > 0 && descriptor.trains_classifier)
    throw SettingError("head_dim",
                       " adds an embedding head for metric learning; classification trains the classifier on the "
                       "features (use " + mention("method") + " triplet, siamese, ...)");
  if (batch_size < 2) throw SettingError("batch_size", " must be at least 2 (batch norm needs two samples)");
  if (optimizer != "adam" && optimizer != "sgd") throw SettingError("optimizer", " " + optimizer + ": expected adam or sgd");
  if (!(lr > 0)) throw SettingError("lr", " must be positive");
  if (schedule != "none" && schedule != "step" && schedule != "cosine")
    throw SettingError("schedule", " " + schedule + ": expected none, step or cosine");
  if (step_size < 1) throw SettingError("step_size", " must be at least 1");
  if (!(val_fraction >= 0 && val_fraction < 1)) throw SettingError("val_fraction", " must be in [0, 1)");
  if (limit < 0) throw SettingError("limit", " must be >= 0");
  {
    const Precision arithmetic = parse_precision(precision);
    std::optional<c10::Device> on;
    try {
      on = c10::Device(device);
    } catch (const std::exception&) {  // parse_device names a bad device when the run starts
    }
    if (on) check_precision_on(arithmetic, *on);
  }
  check_thread_count("workers", workers, 0);  // 0: images decoded in the training thread
  parse_freeze(freeze);
  if (freeze != "none" && weights.empty() && network.arch != "torchscript")
    throw SettingError("freeze", " " + freeze + " needs " + mention("weights") + " (or a TorchScript model) to start from");
}

nlohmann::json TrainConfig::to_json() const {
  return {{"method", method},       {"network", network.to_json()},   {"preprocess", preprocess.to_json()},
          {"epochs", epochs},       {"batch_size", batch_size},       {"optimizer", optimizer},
          {"lr", lr},               {"momentum", momentum},           {"weight_decay", weight_decay},
          {"schedule", schedule},   {"step_size", step_size},         {"gamma", gamma},
          {"val_fraction", val_fraction}, {"limit", limit},           {"augment", augment},
          {"seed", seed},           {"workers", workers},             {"device", device},
          {"precision", precision}, {"on_bad_image", on_bad_image}, {"weights", weights},     {"weights_prefix", weights_prefix},
          {"freeze", freeze},       {"distance", distance},           {"miner", miner},
          {"margin", margin},       {"pos_margin", pos_margin},       {"normalize", normalize},
          {"classes_per_batch", classes_per_batch}, {"images_per_class", images_per_class},
          {"tuples", tuples}, {"soft_margin", soft_margin},
          {"positive_overlap", positive_overlap}, {"negatives", negatives}, {"clip_grad_norm", clip_grad_norm}, {"early_stop", early_stop},
          {"sync_batch_norm", sync_batch_norm}};
}

TrainConfig TrainConfig::from_json(const nlohmann::json& json) {
  TrainConfig c;
  c.method = json.value("method", c.method);
  if (json.contains("network")) c.network = models::NetworkSpec::from_json(json.at("network"));
  if (json.contains("preprocess")) c.preprocess = data::Preprocess::from_json(json.at("preprocess"));
  c.epochs = json.value("epochs", c.epochs);
  c.batch_size = json.value("batch_size", c.batch_size);
  c.optimizer = json.value("optimizer", c.optimizer);
  c.lr = json.value("lr", c.lr);
  c.momentum = json.value("momentum", c.momentum);
  c.weight_decay = json.value("weight_decay", c.weight_decay);
  c.schedule = json.value("schedule", c.schedule);
  c.step_size = json.value("step_size", c.step_size);
  c.gamma = json.value("gamma", c.gamma);
  c.val_fraction = json.value("val_fraction", c.val_fraction);
  c.limit = json.value("limit", c.limit);
  c.augment = json.value("augment", c.augment);
  c.seed = json.value("seed", c.seed);
  c.workers = json.value("workers", c.workers);
  c.device = json.value("device", c.device);
  c.precision = json.value("precision", c.precision);
  c.on_bad_image = json.value("on_bad_image", c.on_bad_image);
  c.weights = json.value("weights", c.weights);
  c.weights_prefix = json.value("weights_prefix", c.weights_prefix);
  c.freeze = json.value("freeze", c.freeze);
  c.sync_batch_norm = json.value("sync_batch_norm", c.sync_batch_norm);
  c.distance = json.value("distance", c.distance);
  c.miner = json.value("miner", c.miner);
  c.margin = json.value("margin", c.margin);
  c.pos_margin = json.value("pos_margin", c.pos_margin);
  c.normalize = json.value("normalize", c.normalize);
  c.classes_per_batch = json.value("classes_per_batch", c.classes_per_batch);
  c.images_per_class = json.value("images_per_class", c.images_per_class);
  c.tuples = json.value("tuples", c.tuples);
  c.soft_margin = json.value("soft_margin", c.soft_margin);
  c.positive_overlap = json.value("positive_overlap", c.positive_overlap);
  c.negatives = json.value("negatives", c.negatives);
  c.clip_grad_norm = json.value("clip_grad_norm", c.clip_grad_norm);
  c.early_stop = json.value("early_stop", c.early_stop);
  return c;
}

namespace {

// A setting's value for an error line (invalid UTF-8 from the file replaced, not thrown on).
std::string shown(const nlohmann::json& value) {
  return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// Throws UsageError naming `source` for a key of `given` that `known` lacks or
// whose value is of another kind than known's (any number for a float;
// weights_prefix may be one string). `prefix` names the section ("network.").
void check_settings(const nlohmann::json& given, const nlohmann::json& known, const std::string& source,
                    const std::string& prefix) {
  for (const auto& [key, value] : given.items()) {
    if (!known.contains(key)) {
      std::string list;
      for (const auto& [name, unused] : known.items()) list += (list.empty() ? "" : ", ") + prefix + name;
      throw UsageError(source + ": unknown training setting '" + prefix + key + "' (known: " + list + ")");
    }
    const nlohmann::json& expected = known.at(key);
    const bool same_kind = (expected.is_number_integer() && value.is_number_integer()) ||
                           (expected.is_number_float() && value.is_number()) || expected.type() == value.type() ||
                           (key == "weights_prefix" && value.is_string());
    if (!same_kind)
      throw UsageError(source + ": training setting '" + prefix + key + "' should be " + expected.type_name() +
                       ", got " + shown(value));
  }
}

// The network's settings, each with a value of its type (the optional ones too).
nlohmann::json known_network_settings() {
  models::NetworkSpec spec;
  spec.embedding_relu = false;
  spec.head_dim = 1;
  spec.learned_metric = true;
  spec.pool = "gem:p=3";
  spec.arch = "torchscript";  // its keys (model, model_method, model_output, input_size) too
  return spec.to_json();
}

}  // namespace

TrainConfig TrainConfig::from_settings(const nlohmann::json& settings, const std::string& source) {
  if (!settings.is_object()) throw UsageError(source + ": expected a mapping of training settings");
  nlohmann::json flat = settings;
  if (flat.contains("network") && !flat["network"].is_object())
    throw UsageError(source + ": training setting 'network' should be object, got " + shown(flat["network"]));
  // The network's settings may also be given flat: arch, embedding_dim, head_dim, pool.
  for (const char* key : {"arch", "embedding_dim", "head_dim", "pool"})
    if (flat.contains(key)) {
      flat["network"][key] = flat[key];
      flat.erase(key);
    }
  check_settings(flat, TrainConfig().to_json(), source, "");
  if (flat.contains("network")) check_settings(flat["network"], known_network_settings(), source, "network.");
  if (flat.contains("weights_prefix") && flat["weights_prefix"].is_string())
    flat["weights_prefix"] = nlohmann::json::array({flat["weights_prefix"]});
  try {
    return from_json(flat);
  } catch (const std::exception& e) {
    throw UsageError(source + ": " + e.what());
  }
}

void check_class_count(const TrainConfig& config, int64_t classes) {
  if (classes >= 2 || config.epochs == 0) return;
  const std::string count = classes == 1 ? "only one class" : "no classes";
  if (find_method(config.method).trains_classifier)
    throw UsageError(count + ": a classifier needs at least two classes (with one its loss is always 0 and it learns "
                     "nothing)");
  throw UsageError(count + ": metric learning needs at least two classes to find negatives");
}

double learning_rate_at(const TrainConfig& config, int64_t epoch) {
  if (config.schedule == "step") return config.lr * std::pow(config.gamma, static_cast<double>(epoch / config.step_size));
  if (config.schedule == "cosine")
    return config.lr * 0.5 * (1.0 + std::cos(M_PI * static_cast<double>(epoch) / static_cast<double>(config.epochs)));
  return config.lr;
}

}  // namespace imret::learn
