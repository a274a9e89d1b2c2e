#pragma once
// File-system text in JSON. File and folder names are bytes, not always
// UTF-8 (a Latin-1 photo name, a Windows-made archive); JSON text must be
// UTF-8. dump_json never fails on such bytes (each invalid byte becomes
// U+FFFD), and put_text keeps the raw bytes recoverable next to the readable
// text: {"source": "caf\uFFFD.jpg", "source_hex": "636166e92e6a7067"}.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace imret {

bool is_valid_utf8(std::string_view text);

// `text` with every byte that is not part of a valid UTF-8 sequence replaced by U+FFFD.
std::string to_valid_utf8(std::string_view text);

// json.dump(indent), replacing invalid UTF-8 instead of throwing.
std::string dump_json(const nlohmann::json& json, int indent = -1);

// object[key] = text; when text is not valid UTF-8, also object[key + "_hex"]
// = its bytes in hex.
void put_text(nlohmann::json& object, const std::string& key, const std::string& text);

// The bytes put_text stored (the _hex form when present), or `fallback` when
// the key is missing. Throws imret::Error naming `where` on a malformed value.
std::string get_text(const nlohmann::json& object, const std::string& key, const std::string& where,
                     const std::string& fallback = {});

// object[key] as an integer in [min, max], or `fallback` when the key is
// missing. Throws imret::Error naming `where` and the key for a value that is
// not an integer (1e30, 1.5, "3") or is out of range: nlohmann's get<int>
// would cast a float unchecked.
int64_t get_integer(const nlohmann::json& object, const std::string& key, const std::string& where, int64_t fallback,
                    int64_t min = INT64_MIN, int64_t max = INT64_MAX);

}  // namespace imret
