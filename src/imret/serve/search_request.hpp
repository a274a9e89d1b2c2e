#pragma once
// A search request as the query service receives it, read into the queries
// it asks for: images (a raw image body, a multipart upload of one or more
// files, or JSON {"images": [base64, ...]}), embeddings (JSON {"embedding":
// [...]} or {"embeddings": [[...], ...]}), or database items (JSON {"id": N}
// or {"ids": [...]}); and the URL's settings: k, metric and the index's
// query-time parameters (nprobe, efSearch, ...). Knows nothing of HTTP
// libraries; errors are RequestErrors naming the field.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "imret/search/index.hpp"
#include "imret/search/search_params.hpp"

namespace imret::serve {

struct UploadedFile {
  std::string name;  // the form field's file name, or "body"
  std::string bytes;
};

// What arrived: the body by its content type, and the multipart files
// already split out by the HTTP layer.
struct RawSearchRequest {
  std::string content_type;
  std::string body;
  std::vector<UploadedFile> files;            // multipart/form-data file fields, in order
  std::multimap<std::string, std::string> url;  // the query string's settings
  std::multimap<std::string, std::string> form;  // multipart/form-data fields that are not files
};

struct SearchQueries {
  enum class Kind { Images, Embeddings, Ids } kind = Kind::Embeddings;
  std::vector<UploadedFile> images;
  std::vector<std::vector<float>> embeddings;
  std::vector<int64_t> ids;
  int64_t k = 10;
  std::optional<search::Metric> metric;  // none: the collection's default
  std::optional<std::string> rerank;      // a re-ranking spec, or "none"; unset: the service's
  int64_t rerank_depth = 0;               // 0: the service's
  search::SearchParams params;            // every other URL setting, as a number
  size_t count() const;
};

// Reads `request`. `max_queries` bounds the queries of one request.
SearchQueries read_search_request(const RawSearchRequest& request, size_t max_queries);

// Standard base64 (RFC 4648, padding optional, no line breaks). RequestError
// naming `field` on any other character.
std::string decode_base64(const std::string& text, const std::string& field);

}  // namespace imret::serve
