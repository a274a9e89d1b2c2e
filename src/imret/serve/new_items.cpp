#include "imret/serve/new_items.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>

#include "imret/serve/request_error.hpp"

namespace imret::serve {

namespace {

RequestError bad(const std::string& message) { return RequestError(400, message); }

int64_t label_of_text(const std::string& text, const std::string& field) {
  char* end = nullptr;
  errno = 0;
  const long long value = std::strtoll(text.c_str(), &end, 10);
  if (text.empty() || end != text.c_str() + text.size() || errno == ERANGE)
    throw bad(field + "=" + text + ": expected a whole number");
  return value;
}

// label / class given once, by whichever part of the request carries them.
void take_label(NewItems& items, const std::string& name, const std::string& value, const std::string& where) {
  if (name == "label") {
    if (items.label) throw bad(where + " label: given twice");
    items.label = label_of_text(value, where + " label");
  } else {
    if (items.class_name) throw bad(where + " class: given twice");
    items.class_name = value;
  }
}

}  // namespace

NewItems read_new_items(const RawSearchRequest& request, size_t max_items) {
  NewItems items;
  RawSearchRequest content = request;
  content.url.clear();
  for (const auto& [name, value] : request.url) {
    if (name == "label" || name == "class") take_label(items, name, value, "URL setting");
    else if (name != "token") throw bad("URL setting " + name + ": adding items takes label and class only");
  }
  content.form.clear();
  for (const auto& [name, value] : request.form) {
    if (name == "label" || name == "class") take_label(items, name, value, "form field");
    else throw bad("form field " + name + ": adding items takes image files, label and class");
  }
  const size_t first = request.body.find_first_not_of(" \t\r\n");
  if (request.files.empty() && first != std::string::npos && request.body[first] == '{') {
    nlohmann::json json;
    try {
      json = nlohmann::json::parse(request.body);
    } catch (const nlohmann::json::parse_error& e) {
      throw bad("request body: malformed JSON at byte " + std::to_string(e.byte) +
                " (expected {\"images\": [base64, ...], \"label\": N} or {\"embedding\": [...], \"label\": N})");
    }
    if (!json.is_object()) throw bad("request body: expected a JSON object, got " + std::string(json.type_name()));
    if (json.contains("label")) {
      const nlohmann::json& label = json["label"];
      if (!label.is_number_integer()) throw bad("label: expected an integer, got " + label.dump());
      if (items.label) throw bad("label: given twice");
      items.label = label.get<int64_t>();
      json.erase("label");
    }
    if (json.contains("class")) {
      const nlohmann::json& name = json["class"];
      if (!name.is_string()) throw bad("class: expected a string, got " + name.dump());
      if (items.class_name) throw bad("class: given twice");
      items.class_name = name.get<std::string>();
      json.erase("class");
    }
    if (json.contains("id") || json.contains("ids")) throw bad("request body: items are added from images or embeddings, not ids");
    content.body = json.dump();
    content.content_type = "application/json";
  }
  items.content = read_search_request(content, max_items);
  return items;
}

std::pair<int64_t, std::string> resolve_label(const NewItems& items, const std::vector<std::string>& classes) {
  const int64_t count = static_cast<int64_t>(classes.size());
  if (classes.empty()) {
    if (items.label && *items.label < -1) throw bad("label " + std::to_string(*items.label) + ": must be -1 (none) or more");
    return {items.label.value_or(-1), items.class_name.value_or("")};
  }
  std::optional<int64_t> by_name;
  if (items.class_name) {
    const auto it = std::find(classes.begin(), classes.end(), *items.class_name);
    if (it == classes.end())
      throw bad("class " + *items.class_name + ": not one of the collection's " + std::to_string(count) +
                " classes (GET /api/info lists them)");
    by_name = it - classes.begin();
  }
  if (items.label) {
    const int64_t label = *items.label;
    if (label < -1 || label >= count)
      throw bad("label " + std::to_string(label) + ": the collection's classes are 0.." + std::to_string(count - 1) +
                " (or -1 for none)");
    if (by_name && *by_name != label)
      throw bad("label " + std::to_string(label) + " and class " + *items.class_name + " disagree (that class is " +
                std::to_string(*by_name) + ")");
    return {label, label < 0 ? std::string() : classes[static_cast<size_t>(label)]};
  }
  if (by_name) return {*by_name, *items.class_name};
  return {-1, ""};
}

}  // namespace imret::serve
