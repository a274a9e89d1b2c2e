#pragma once
// A request to add items (POST /api/items), read into what it adds: images
// (a raw image body, a multipart upload of one or more files, or JSON
// {"images": [base64, ...]}) or embeddings (JSON {"embedding": [...]} or
// {"embeddings": [[...], ...]}), and the label they all get: a class number
// ("label") and/or a class name ("class"), from the URL, the form's fields
// or the JSON object. Knows nothing of HTTP libraries; errors are
// RequestErrors naming the field.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "imret/serve/search_request.hpp"

namespace imret::serve {

struct NewItems {
  SearchQueries content;  // kind Images or Embeddings
  std::optional<int64_t> label;
  std::optional<std::string> class_name;
};

// Reads `request`; `max_items` bounds the items of one request.
NewItems read_new_items(const RawSearchRequest& request, size_t max_items);

// The label and class name of new items in a collection with `classes`:
// with classes, a label must be one of them and a class name one of their
// names (either gives the other; both must agree); without, any label >= -1
// and any name. Neither: label -1, no class. RequestError naming the field.
std::pair<int64_t, std::string> resolve_label(const NewItems& items, const std::vector<std::string>& classes);

}  // namespace imret::serve
