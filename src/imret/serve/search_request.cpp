#include "imret/serve/search_request.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>

#include "imret/serve/request_error.hpp"

namespace imret::serve {

namespace {

RequestError bad(const std::string& message) { return RequestError(400, message); }

bool starts_with(const std::string& text, const std::string& prefix) {
  return text.size() >= prefix.size() && text.compare(0, prefix.size(), prefix) == 0;
}

// The media type without parameters, lower case: "Image/PNG; x=y" -> "image/png".
std::string media_type(const std::string& content_type) {
  std::string type = content_type.substr(0, content_type.find(';'));
  while (!type.empty() && (type.back() == ' ' || type.back() == '\t')) type.pop_back();
  size_t start = 0;
  while (start < type.size() && (type[start] == ' ' || type[start] == '\t')) ++start;
  type = type.substr(start);
  for (char& c : type) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return type;
}

double number_setting(const std::string& name, const std::string& text) {
  char* end = nullptr;
  errno = 0;
  const double value = std::strtod(text.c_str(), &end);
  if (text.empty() || end != text.c_str() + text.size() || errno == ERANGE || !std::isfinite(value))
    throw bad("URL setting " + name + "=" + text + ": expected a number");
  return value;
}

int64_t integer_of(const nlohmann::json& value, const std::string& field) {
  if (value.is_number_integer()) return value.get<int64_t>();
  if (value.is_number_float()) {  // 3.0 from a JSON encoder that writes every number as a float
    const double d = value.get<double>();
    if (std::floor(d) == d && std::fabs(d) < 9e15) return static_cast<int64_t>(d);
  }
  throw bad(field + ": expected an integer, got " + value.dump());
}

std::vector<float> vector_of(const nlohmann::json& value, const std::string& field) {
  if (!value.is_array()) throw bad(field + ": expected an array of numbers");
  std::vector<float> out;
  out.reserve(value.size());
  for (size_t i = 0; i < value.size(); ++i) {
    const nlohmann::json& x = value[i];
    if (!x.is_number()) throw bad(field + "[" + std::to_string(i) + "]: expected a number, got " + x.dump());
    const double d = x.get<double>();
    if (!std::isfinite(d) || std::fabs(d) > 3.4e38) throw bad(field + "[" + std::to_string(i) + "]: not a finite float");
    out.push_back(static_cast<float>(d));
  }
  return out;
}

void read_json_body(const std::string& body, SearchQueries& q, size_t max_queries) {
  nlohmann::json json;
  try {
    json = nlohmann::json::parse(body);
  } catch (const nlohmann::json::parse_error& e) {
    throw bad("request body: malformed JSON at byte " + std::to_string(e.byte) + " (expected {\"embedding\": [...]}, "
              "{\"id\": N} or {\"images\": [base64, ...]})");
  }
  if (!json.is_object()) throw bad("request body: expected a JSON object, got " + std::string(json.type_name()));
  const char* keys[] = {"embedding", "embeddings", "id", "ids", "images"};
  int given = 0;
  for (const char* key : keys) given += json.contains(key) ? 1 : 0;
  if (given != 1)
    throw bad("request body: give exactly one of embedding, embeddings, id, ids or images" +
              std::string(given == 0 ? "" : " (got " + std::to_string(given) + ")"));
  auto check_count = [&](size_t count, const char* field) {
    if (count == 0) throw bad(std::string(field) + ": empty");
    if (count > max_queries)
      throw bad(std::string(field) + ": " + std::to_string(count) + " queries, more than the limit of " +
                std::to_string(max_queries) + " per request");
  };
  if (json.contains("embedding")) {
    q.kind = SearchQueries::Kind::Embeddings;
    q.embeddings.push_back(vector_of(json["embedding"], "embedding"));
  } else if (json.contains("embeddings")) {
    q.kind = SearchQueries::Kind::Embeddings;
    const nlohmann::json& rows = json["embeddings"];
    if (!rows.is_array()) throw bad("embeddings: expected an array of arrays of numbers");
    check_count(rows.size(), "embeddings");
    for (size_t i = 0; i < rows.size(); ++i)
      q.embeddings.push_back(vector_of(rows[i], "embeddings[" + std::to_string(i) + "]"));
  } else if (json.contains("id")) {
    q.kind = SearchQueries::Kind::Ids;
    q.ids.push_back(integer_of(json["id"], "id"));
  } else if (json.contains("ids")) {
    q.kind = SearchQueries::Kind::Ids;
    const nlohmann::json& ids = json["ids"];
    if (!ids.is_array()) throw bad("ids: expected an array of integers");
    check_count(ids.size(), "ids");
    for (size_t i = 0; i < ids.size(); ++i) q.ids.push_back(integer_of(ids[i], "ids[" + std::to_string(i) + "]"));
  } else {
    q.kind = SearchQueries::Kind::Images;
    const nlohmann::json& images = json["images"];
    if (!images.is_array()) throw bad("images: expected an array of base64 strings");
    check_count(images.size(), "images");
    for (size_t i = 0; i < images.size(); ++i) {
      const std::string field = "images[" + std::to_string(i) + "]";
      if (!images[i].is_string()) throw bad(field + ": expected a base64 string");
      std::string text = images[i].get<std::string>();
      if (starts_with(text, "data:")) text = text.substr(text.find(',') == std::string::npos ? text.size() : text.find(',') + 1);
      q.images.push_back({field, decode_base64(text, field)});
    }
  }
}

}  // namespace

size_t SearchQueries::count() const {
  switch (kind) {
    case Kind::Images: return images.size();
    case Kind::Embeddings: return embeddings.size();
    case Kind::Ids: return ids.size();
  }
  return 0;
}

std::string decode_base64(const std::string& text, const std::string& field) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  std::string out;
  out.reserve(text.size() / 4 * 3);
  uint32_t buffer = 0;
  int bits = 0;
  size_t end = text.size();
  while (end > 0 && text[end - 1] == '=') --end;
  if (text.size() - end > 2) throw bad(field + ": not base64 (too much padding)");
  for (size_t i = 0; i < end; ++i) {
    const int v = value(text[i]);
    if (v < 0) throw bad(field + ": not base64 (character " + std::to_string(i) + ")");
    buffer = (buffer << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((buffer >> bits) & 0xff));
    }
  }
  if (bits >= 6) throw bad(field + ": not base64 (truncated)");
  return out;
}

SearchQueries read_search_request(const RawSearchRequest& request, size_t max_queries) {
  SearchQueries q;
  for (const auto& [name, value] : request.url) {
    if (name == "k") {
      char* end = nullptr;
      errno = 0;
      const long long k = std::strtoll(value.c_str(), &end, 10);
      if (value.empty() || end != value.c_str() + value.size() || errno == ERANGE)
        throw bad("URL setting k=" + value + ": expected a whole number");
      if (k < 1) throw bad("URL setting k=" + value + ": must be at least 1");
      q.k = k;
    } else if (name == "metric") {
      try {
        q.metric = search::parse_metric(value);
      } catch (const Error&) {
        throw bad("URL setting metric=" + value + ": expected euclidean or cosine");
      }
    } else if (name == "rerank") {
      if (value.empty() || value.size() > 256) throw bad("URL setting rerank: expected a re-ranking spec or none");
      // A query string decodes '+' to a space: "rerank=dba+aqe" chains as on the command line.
      std::string spec = value;
      std::replace(spec.begin(), spec.end(), ' ', '+');
      q.rerank = spec;
    } else if (name == "rerank_depth") {
      char* end = nullptr;
      errno = 0;
      const long long depth = std::strtoll(value.c_str(), &end, 10);
      if (value.empty() || end != value.c_str() + value.size() || errno == ERANGE || depth < 1)
        throw bad("URL setting rerank_depth=" + value + ": expected a whole number of at least 1");
      q.rerank_depth = depth;
    } else if (name == "token") {
      // the page's token, checked by the HTTP layer
    } else {
      q.params.set(name, number_setting(name, value));
    }
  }
  const std::string type = media_type(request.content_type);
  if (!request.files.empty()) {
    q.kind = SearchQueries::Kind::Images;
    if (request.files.size() > max_queries)
      throw bad("upload: " + std::to_string(request.files.size()) + " images, more than the limit of " +
                std::to_string(max_queries) + " per request");
    q.images = request.files;
  } else if (type == "multipart/form-data") {
    throw bad("upload: no file field in the form (send the image as a file)");
  } else if (type == "application/json") {
    read_json_body(request.body, q, max_queries);
  } else if (starts_with(type, "image/") || type == "application/octet-stream") {
    if (request.body.empty()) throw bad("request body: empty (expected an image)");
    q.kind = SearchQueries::Kind::Images;
    q.images.push_back({"body", request.body});
  } else if (type.empty() && !request.body.empty() && (request.body[0] == '{')) {
    read_json_body(request.body, q, max_queries);
  } else {
    throw bad("Content-Type " + (type.empty() ? std::string("(none)") : type) +
              ": expected an image (image/*), multipart/form-data or application/json");
  }
  return q;
}

}  // namespace imret::serve
