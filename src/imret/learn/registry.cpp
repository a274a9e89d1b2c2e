#include "imret/learn/registry.hpp"

#include <algorithm>
#include <sstream>

#include "imret/core/error.hpp"

namespace imret::learn {

// The descriptors' functions, defined in the files of the losses they
// describe, found there by the build (cmake/ImretMethods.cmake).
#include "imret/learn/method_list.inc"
// Defined in miner.cpp and distance.cpp.
const std::vector<const MinerDescriptor*>& builtin_miners();
const std::vector<const DistanceDescriptor*>& builtin_distances();

const std::vector<const MethodDescriptor*>& methods() {
  static const std::vector<MethodDescriptor> all = {IMRET_METHOD_DESCRIPTORS};
  static const std::vector<const MethodDescriptor*> pointers = pointers_to(all);
  return pointers;
}

const std::vector<const MinerDescriptor*>& miners() { return builtin_miners(); }
const std::vector<const DistanceDescriptor*>& distances() { return builtin_distances(); }

namespace {

template <typename Descriptor>
std::vector<std::string> names_of(const std::vector<const Descriptor*>& descriptors) {
  std::vector<std::string> names;
  for (const Descriptor* d : descriptors) names.push_back(d->name);
  return names;
}

std::string comma_list(const std::vector<std::string>& names) {
  std::string list;
  for (const auto& name : names) list += (list.empty() ? "" : ", ") + name;
  return list;
}

const char* shape_name(TupleShape tuples) { return tuples == TupleShape::Pairs ? "pair" : "triplet"; }

}  // namespace

MethodDescriptor tuple_method(std::string name, std::string help, TupleShape tuples, std::string default_miner,
                              std::function<std::shared_ptr<Loss>(const LossContext&)> make_loss) {
  MethodDescriptor m;
  m.name = std::move(name);
  m.help = std::move(help);
  m.settings = {"margin"};
  m.margin_setting = "margin";
  m.tuples = tuples;
  m.default_miner = std::move(default_miner);
  m.make_loss = std::move(make_loss);
  return m;
}

std::vector<std::string> method_names() { return names_of(methods()); }
std::vector<std::string> distance_names() { return names_of(distances()); }

std::vector<std::string> miner_names(TupleShape tuples) {
  std::vector<std::string> names;
  for (const MinerDescriptor* m : miners())
    if (m->tuples == tuples) names.push_back(m->name);
  return names;
}

std::string or_list(const std::vector<std::string>& names) {
  if (names.size() < 2) return comma_list(names);
  return comma_list({names.begin(), names.end() - 1}) + " or " + names.back();
}

const MethodDescriptor& find_method(const std::string& name) {
  for (const MethodDescriptor* m : methods())
    if (m->name == name) return *m;
  throw UsageError("method '" + name + "': expected one of " + comma_list(method_names()));
}

const DistanceDescriptor& find_distance(const std::string& name) {
  for (const DistanceDescriptor* d : distances())
    if (d->name == name) return *d;
  throw UsageError("distance '" + name + "': expected " + or_list(distance_names()));
}

const MinerDescriptor& find_miner(const std::string& name, TupleShape tuples) {
  for (const MinerDescriptor* m : miners())
    if (m->name == name && m->tuples == tuples) return *m;
  throw UsageError("unknown " + std::string(shape_name(tuples)) + " miner '" + name + "' (expected " +
                   or_list(miner_names(tuples)) + ")");
}

std::string methods_help() {
  std::string help;
  for (const MethodDescriptor* m : methods()) help += (help.empty() ? "" : "; ") + m->name + ": " + m->help;
  return help;
}

std::string distances_help() {
  std::string help = "Metric learning: ";
  for (const DistanceDescriptor* d : distances())
    help += d->name + (d->help.empty() ? "" : " (" + d->help + ")") + (d == distances().back() ? "" : ", ");
  return help;
}

std::string miners_help() {
  // Each miner with the methods that use it by default: "batch-hard (triplet, quadruplet default)".
  auto shape_help = [](TupleShape tuples) {
    std::vector<std::string> entries;
    for (const MinerDescriptor* m : miners()) {
      if (m->tuples != tuples) continue;
      std::vector<std::string> defaults;
      for (const MethodDescriptor* method : methods())
        if (method->tuples == tuples && method->default_miner == m->name) defaults.push_back(method->name);
      entries.push_back(m->name + (defaults.empty() ? "" : " (" + comma_list(defaults) + " default)"));
    }
    return comma_list(entries);
  };
  return "Tuple miner: " + shape_help(TupleShape::Triplets) + "; pairs: " + shape_help(TupleShape::Pairs);
}

std::string table_distance(const TrainConfig& config) {
  const MethodDescriptor& method = find_method(config.method);
  if (method.trains_classifier) return "-";
  return method.own_distance.empty() ? config.distance : method.own_distance;
}

std::string table_margin(const TrainConfig& config) {
  const MethodDescriptor& method = find_method(config.method);
  if (method.margin_setting.empty()) return "-";
  const nlohmann::json value = config.to_json().at(method.margin_setting);
  if (!value.is_number_float()) return value.dump();
  std::ostringstream out;
  out << value.get<double>();
  return out.str();
}

}  // namespace imret::learn
