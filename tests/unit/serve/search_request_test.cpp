// Reading a search request (search_request.hpp): the body forms, the URL's
// settings, and the one-line errors that name the field.
#include "imret/serve/search_request.hpp"

#include <gtest/gtest.h>

#include "imret/serve/request_error.hpp"

namespace imret::serve {
namespace {

RawSearchRequest json_request(const std::string& body, std::multimap<std::string, std::string> url = {}) {
  return {"application/json", body, {}, std::move(url)};
}

// The RequestError a request gives: "status|message".
std::string error_of(const RawSearchRequest& request, size_t max_queries = 8) {
  try {
    read_search_request(request, max_queries);
  } catch (const RequestError& e) {
    return std::to_string(e.status()) + "|" + e.what();
  }
  return "(accepted)";
}

TEST(SearchRequest, Base64AsRfc4648Says) {
  // RFC 4648 section 10's test vectors, with and without padding.
  const std::vector<std::pair<std::string, std::string>> vectors = {
      {"", ""}, {"f", "Zg=="}, {"fo", "Zm8="}, {"foo", "Zm9v"}, {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="},
      {"foobar", "Zm9vYmFy"}};
  for (const auto& [plain, encoded] : vectors) {
    EXPECT_EQ(decode_base64(encoded, "x"), plain) << encoded;
    std::string bare = encoded;
    while (!bare.empty() && bare.back() == '=') bare.pop_back();
    EXPECT_EQ(decode_base64(bare, "x"), plain) << bare;
  }
  EXPECT_EQ(decode_base64("/+8=", "x"), std::string("\xff\xef"));
  EXPECT_THROW(decode_base64("Zm9v!", "images[0]"), RequestError);
  EXPECT_THROW(decode_base64("Z", "images[0]"), RequestError);  // 6 bits: not a byte
  EXPECT_THROW(decode_base64("Zg===", "images[0]"), RequestError);
}

TEST(SearchRequest, ReadsEachBodyForm) {
  SearchQueries q = read_search_request(json_request(R"({"embedding": [1, 2.5, -3]})"), 8);
  EXPECT_EQ(q.kind, SearchQueries::Kind::Embeddings);
  ASSERT_EQ(q.embeddings.size(), 1u);
  EXPECT_EQ(q.embeddings[0], (std::vector<float>{1, 2.5f, -3}));
  q = read_search_request(json_request(R"({"embeddings": [[1], [2]]})"), 8);
  EXPECT_EQ(q.count(), 2u);
  q = read_search_request(json_request(R"({"id": 7})"), 8);
  EXPECT_EQ(q.kind, SearchQueries::Kind::Ids);
  EXPECT_EQ(q.ids, std::vector<int64_t>{7});
  q = read_search_request(json_request(R"({"ids": [3, 4.0]})"), 8);
  EXPECT_EQ(q.ids, (std::vector<int64_t>{3, 4}));
  q = read_search_request(json_request(R"({"images": ["Zm9v", "data:image/png;base64,YmFy"]})"), 8);
  EXPECT_EQ(q.kind, SearchQueries::Kind::Images);
  ASSERT_EQ(q.images.size(), 2u);
  EXPECT_EQ(q.images[0].bytes, "foo");
  EXPECT_EQ(q.images[1].bytes, "bar");
  EXPECT_EQ(q.images[1].name, "images[1]");
  q = read_search_request({"image/jpeg", "\xff\xd8rest", {}, {}}, 8);
  EXPECT_EQ(q.kind, SearchQueries::Kind::Images);
  EXPECT_EQ(q.images.at(0).name, "body");
  q = read_search_request({"multipart/form-data; boundary=x", "", {{"a.png", "A"}, {"b.png", "B"}}, {}}, 8);
  EXPECT_EQ(q.images.size(), 2u);
  EXPECT_EQ(q.images[1].name, "b.png");
}

TEST(SearchRequest, ReadsTheUrlSettings) {
  const SearchQueries q = read_search_request(
      json_request(R"({"id": 1})", {{"k", "25"}, {"metric", "Cosine"}, {"nprobe", "16"}, {"efSearch", "64"}}), 8);
  EXPECT_EQ(q.k, 25);
  ASSERT_TRUE(q.metric.has_value());
  EXPECT_EQ(*q.metric, search::Metric::Cosine);
  EXPECT_EQ(q.params.to_string(), "efSearch=64,nprobe=16");  // the URL's settings in name order
  EXPECT_FALSE(read_search_request(json_request(R"({"id": 1})"), 8).metric.has_value());
}

TEST(SearchRequest, ErrorsNameTheField) {
  EXPECT_EQ(error_of(json_request("{\"embedding\": [1, 2")),
            "400|request body: malformed JSON at byte 20 (expected {\"embedding\": [...]}, {\"id\": N} or "
            "{\"images\": [base64, ...]})");
  EXPECT_EQ(error_of(json_request("[1, 2]")), "400|request body: expected a JSON object, got array");
  EXPECT_EQ(error_of(json_request("{}")),
            "400|request body: give exactly one of embedding, embeddings, id, ids or images");
  EXPECT_EQ(error_of(json_request(R"({"id": 1, "embedding": [1]})")),
            "400|request body: give exactly one of embedding, embeddings, id, ids or images (got 2)");
  EXPECT_EQ(error_of(json_request(R"({"embedding": [1, "x"]})")), "400|embedding[1]: expected a number, got \"x\"");
  EXPECT_EQ(error_of(json_request(R"({"embedding": [1e300]})")), "400|embedding[0]: not a finite float");
  EXPECT_EQ(error_of(json_request(R"({"id": "3"})")), "400|id: expected an integer, got \"3\"");
  EXPECT_EQ(error_of(json_request(R"({"id": 2.5})")), "400|id: expected an integer, got 2.5");
  EXPECT_EQ(error_of(json_request(R"({"ids": []})")), "400|ids: empty");
  EXPECT_EQ(error_of(json_request(R"({"ids": [1, 2, 3]})"), 2),
            "400|ids: 3 queries, more than the limit of 2 per request");
  EXPECT_EQ(error_of(json_request(R"({"images": [5]})")), "400|images[0]: expected a base64 string");
  EXPECT_EQ(error_of(json_request(R"({"id": 1})", {{"k", "0"}})), "400|URL setting k=0: must be at least 1");
  EXPECT_EQ(error_of(json_request(R"({"id": 1})", {{"k", "ten"}})), "400|URL setting k=ten: expected a whole number");
  EXPECT_EQ(error_of(json_request(R"({"id": 1})", {{"k", "99999999999999999999999"}})),
            "400|URL setting k=99999999999999999999999: expected a whole number");
  EXPECT_EQ(error_of(json_request(R"({"id": 1})", {{"metric", "l1"}})),
            "400|URL setting metric=l1: expected euclidean or cosine");
  EXPECT_EQ(error_of(json_request(R"({"id": 1})", {{"nprobe", "lots"}})),
            "400|URL setting nprobe=lots: expected a number");
  EXPECT_EQ(error_of({"text/plain", "hello", {}, {}}),
            "400|Content-Type text/plain: expected an image (image/*), multipart/form-data or application/json");
  EXPECT_EQ(error_of({"image/png", "", {}, {}}), "400|request body: empty (expected an image)");
  EXPECT_EQ(error_of({"multipart/form-data; boundary=x", "", {}, {}}),
            "400|upload: no file field in the form (send the image as a file)");
}

}  // namespace
}  // namespace imret::serve
