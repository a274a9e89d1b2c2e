#include "imret/core/json_text.hpp"

#include <cmath>

#include "imret/core/error.hpp"

namespace imret {
namespace {

// The length of the valid UTF-8 sequence at text[i], or 0 (RFC 3629: no
// overlong forms, no surrogates, nothing above U+10FFFF).
size_t sequence_length(std::string_view text, size_t i) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(text[k]); };
  const unsigned char lead = byte(i);
  if (lead < 0x80) return 1;
  size_t length = 0;
  unsigned char low = 0x80, high = 0xBF;  // the allowed range of the second byte
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    if (lead == 0xE0) low = 0xA0;
    if (lead == 0xED) high = 0x9F;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    if (lead == 0xF0) low = 0x90;
    if (lead == 0xF4) high = 0x8F;
  } else {
    return 0;
  }
  if (i + length > text.size()) return 0;
  if (byte(i + 1) < low || byte(i + 1) > high) return 0;
  for (size_t k = 2; k < length; ++k)
    if (byte(i + k) < 0x80 || byte(i + k) > 0xBF) return 0;
  return length;
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

bool is_valid_utf8(std::string_view text) {
  for (size_t i = 0; i < text.size();) {
    const size_t length = sequence_length(text, i);
    if (length == 0) return false;
    i += length;
  }
  return true;
}

std::string to_valid_utf8(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    const size_t length = sequence_length(text, i);
    if (length == 0) {
      out += "\xEF\xBF\xBD";  // U+FFFD
      ++i;
    } else {
      out.append(text.substr(i, length));
      i += length;
    }
  }
  return out;
}

std::string dump_json(const nlohmann::json& json, int indent) {
  return json.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
}

void put_text(nlohmann::json& object, const std::string& key, const std::string& text) {
  if (is_valid_utf8(text)) {
    object[key] = text;
    return;
  }
  object[key] = to_valid_utf8(text);
  static const char* digits = "0123456789abcdef";
  std::string hex;
  hex.reserve(2 * text.size());
  for (unsigned char c : text) {
    hex += digits[c >> 4];
    hex += digits[c & 15];
  }
  object[key + "_hex"] = hex;
}

std::string get_text(const nlohmann::json& object, const std::string& key, const std::string& where,
                     const std::string& fallback) {
  const auto hex = object.find(key + "_hex");
  if (hex != object.end()) {
    const std::string digits = hex->is_string() ? hex->get<std::string>() : std::string("?");
    std::string bytes;
    for (size_t i = 0; i < digits.size(); i += 2) {
      const int high = hex_digit(digits[i]);
      const int low = i + 1 < digits.size() ? hex_digit(digits[i + 1]) : -1;
      if (high < 0 || low < 0) throw Error(where + ": \"" + key + "_hex\" is not a string of hex digit pairs");
      bytes += static_cast<char>(high * 16 + low);
    }
    return bytes;
  }
  const auto value = object.find(key);
  if (value == object.end()) return fallback;
  if (!value->is_string()) throw Error(where + ": \"" + key + "\" is not a string");
  return value->get<std::string>();
}

int64_t get_integer(const nlohmann::json& object, const std::string& key, const std::string& where, int64_t fallback,
                    int64_t min, int64_t max) {
  const auto value = object.find(key);
  if (value == object.end()) return fallback;
  if (value->is_number_unsigned()) {
    if (value->get<uint64_t>() <= static_cast<uint64_t>(max)) return static_cast<int64_t>(value->get<uint64_t>());
  } else if (value->is_number_integer()) {
    const int64_t number = value->get<int64_t>();
    if (number >= min && number <= max) return number;
  } else if (value->is_number_float()) {  // 3.0, as pandas writes integers; not 1.5, not 1e30
    const double number = value->get<double>();
    if (std::floor(number) == number && std::fabs(number) < 9007199254740992.0 /* 2^53: exact */ &&
        number >= static_cast<double>(min) && number <= static_cast<double>(max))
      return static_cast<int64_t>(number);
  }
  throw Error(where + ": \"" + key + "\" must be an integer from " + std::to_string(min) + " to " + std::to_string(max) +
              ", got " + dump_json(*value));
}

}  // namespace imret
