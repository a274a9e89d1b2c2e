#include "imret/core/yaml.hpp"

#include <yaml-cpp/yaml.h>

#include <charconv>
#include <cstdint>
#include <string>

#include "imret/core/error.hpp"

namespace imret {
namespace {

nlohmann::json plain_scalar(const std::string& text);

void emit(YAML::Emitter& out, const nlohmann::json& value) {
  switch (value.type()) {
    case nlohmann::json::value_t::object:
      out << YAML::BeginMap;
      for (const auto& [key, item] : value.items()) {
        out << YAML::Key << key << YAML::Value;
        emit(out, item);
      }
      out << YAML::EndMap;
      break;
    case nlohmann::json::value_t::array: {
      bool scalars = true;
      for (const auto& item : value) scalars = scalars && item.is_primitive();
      out << (scalars ? YAML::Flow : YAML::Block) << YAML::BeginSeq;
      for (const auto& item : value) emit(out, item);
      out << YAML::EndSeq;
      break;
    }
    case nlohmann::json::value_t::string: {
      const std::string& text = value.get_ref<const std::string&>();
      // Quote strings that would read back as something else ("true", "3", "").
      if (!plain_scalar(text).is_string()) out << YAML::DoubleQuoted;
      out << text;
      break;
    }
    case nlohmann::json::value_t::boolean:
      out << value.get<bool>();
      break;
    case nlohmann::json::value_t::number_integer:
      out << value.get<int64_t>();
      break;
    case nlohmann::json::value_t::number_unsigned:
      out << value.get<uint64_t>();
      break;
    case nlohmann::json::value_t::number_float: {
      // The shortest text that reads back as the same double (0.1, not 0.10000000000000001).
      char text[32];
      const auto result = std::to_chars(text, text + sizeof text, value.get<double>());
      std::string number(text, result.ptr);
      if (number.find_first_of(".eEn") == std::string::npos) number += ".0";  // stays a float
      out << number;
      break;
    }
    default:
      out << YAML::Null;
  }
}

// The value of an unquoted YAML scalar (YAML 1.2 core schema).
nlohmann::json plain_scalar(const std::string& text) {
  if (text == "null" || text == "~" || text.empty()) return nullptr;
  if (text == "true" || text == "True") return true;
  if (text == "false" || text == "False") return false;
  try {
    size_t used = 0;
    const long long integer = std::stoll(text, &used);
    if (used == text.size()) return integer;
  } catch (const std::exception&) {
  }
  try {
    size_t used = 0;
    const double number = std::stod(text, &used);
    if (used == text.size()) return number;
  } catch (const std::exception&) {
  }
  return text;
}

nlohmann::json scalar(const YAML::Node& node) {
  if (node.Tag() == "!") return node.Scalar();  // quoted: always a string
  return plain_scalar(node.Scalar());
}

// Limits on the JSON a YAML document expands to: aliases share nodes, so a
// small file can name a huge tree ("billion laughs") or a cycle (&a [*a]).
constexpr int kMaxDepth = 256;
constexpr int64_t kMaxValues = 100000;

// Converts a document, counting the values made against kMaxValues.
class JsonConverter {
 public:
  explicit JsonConverter(std::string file) : file_(std::move(file)) {}

  nlohmann::json convert(const YAML::Node& node, int depth = 0) {
    if (depth > kMaxDepth)
      throw Error(file_ + ": YAML nested more than " + std::to_string(kMaxDepth) + " levels deep (an alias inside itself?)");
    if (++values_ > kMaxValues)
      throw Error(file_ + ": YAML expands to more than " + std::to_string(kMaxValues) + " values (aliases of aliases?)");
    switch (node.Type()) {
      case YAML::NodeType::Map: {
        nlohmann::json object = nlohmann::json::object();
        for (const auto& entry : node) object[entry.first.as<std::string>()] = convert(entry.second, depth + 1);
        return object;
      }
      case YAML::NodeType::Sequence: {
        nlohmann::json array = nlohmann::json::array();
        for (const auto& entry : node) array.push_back(convert(entry, depth + 1));
        return array;
      }
      case YAML::NodeType::Scalar:
        return scalar(node);
      default:
        return nullptr;
    }
  }

 private:
  std::string file_;
  int64_t values_ = 0;
};

}  // namespace

std::string to_yaml(const nlohmann::json& value) {
  YAML::Emitter out;
  emit(out, value);
  return std::string(out.c_str()) + "\n";
}

nlohmann::json load_yaml(const std::filesystem::path& path) {
  if (!std::filesystem::exists(path)) throw Error(path.string() + ": no such file");
  try {
    return JsonConverter(path.string()).convert(YAML::LoadFile(path.string()));
  } catch (const YAML::Exception& e) {
    throw Error(path.string() + ":" + std::to_string(e.mark.line + 1) + ": malformed YAML: " + e.msg);
  }
}

}  // namespace imret
