// Who may use the service (access.hpp) and its measurements (service_metrics.hpp).
#include "imret/serve/access.hpp"

#include <gtest/gtest.h>

#include <sstream>

#include "imret/serve/service_metrics.hpp"

namespace imret::serve {
namespace {

TEST(Access, LoopbackAddresses) {
  for (const char* host : {"127.0.0.1", "127.1.2.3", "localhost", "::1"}) EXPECT_TRUE(is_loopback(host)) << host;
  for (const char* host : {"0.0.0.0", "10.0.0.1", "128.0.0.1", "::", "example.org", "127.0.0.1.example.org", ""})
    EXPECT_FALSE(is_loopback(host)) << host;
}

TEST(Access, TokensMatchOnlyWhole) {
  EXPECT_TRUE(same_token("s3cret", "s3cret"));
  EXPECT_FALSE(same_token("s3cre", "s3cret"));
  EXPECT_FALSE(same_token("s3cret!", "s3cret"));
  EXPECT_FALSE(same_token("S3cret", "s3cret"));
  EXPECT_FALSE(same_token("", "s3cret"));
  EXPECT_FALSE(same_token(std::string("s3cret\0", 7), "s3cret"));
}

// The value of the exposition line that starts with `prefix`, or -1.
double value_of(const std::string& text, const std::string& prefix) {
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);)
    if (line.rfind(prefix + " ", 0) == 0) return std::stod(line.substr(prefix.size() + 1));
  return -1;
}

TEST(ServiceMetrics, PrometheusTextWithCumulativeBuckets) {
  ServiceMetrics metrics;
  metrics.request("/api/search", 200, 0.002);
  metrics.request("/api/search", 200, 0.2);
  metrics.request("/api/search", 400, 0.0001);
  metrics.request("/api/items/{id}", 404, 0.0001);
  metrics.batch(3);
  metrics.batch(32);
  metrics.items_served(30);
  const std::string text = metrics.exposition({{"imret_embed_queue_depth", {4, "Images waiting."}}});
  EXPECT_EQ(value_of(text, R"(imret_http_requests_total{endpoint="/api/search",status="200"})"), 2);
  EXPECT_EQ(value_of(text, R"(imret_http_requests_total{endpoint="/api/search",status="400"})"), 1);
  EXPECT_EQ(value_of(text, R"(imret_http_requests_total{endpoint="/api/items/{id}",status="404"})"), 1);
  // Buckets count every observation at or below their bound.
  EXPECT_EQ(value_of(text, R"(imret_http_request_duration_seconds_bucket{endpoint="/api/search",le="0.0005"})"), 1);
  EXPECT_EQ(value_of(text, R"(imret_http_request_duration_seconds_bucket{endpoint="/api/search",le="0.0025"})"), 2);
  EXPECT_EQ(value_of(text, R"(imret_http_request_duration_seconds_bucket{endpoint="/api/search",le="0.25"})"), 3);
  EXPECT_EQ(value_of(text, R"(imret_http_request_duration_seconds_bucket{endpoint="/api/search",le="+Inf"})"), 3);
  EXPECT_EQ(value_of(text, R"(imret_http_request_duration_seconds_count{endpoint="/api/search"})"), 3);
  EXPECT_NEAR(value_of(text, R"(imret_http_request_duration_seconds_sum{endpoint="/api/search"})"), 0.2021, 1e-12);
  EXPECT_EQ(value_of(text, R"(imret_embed_batch_size_bucket{le="2"})"), 0);
  EXPECT_EQ(value_of(text, R"(imret_embed_batch_size_bucket{le="4"})"), 1);
  EXPECT_EQ(value_of(text, R"(imret_embed_batch_size_bucket{le="32"})"), 2);
  EXPECT_EQ(value_of(text, "imret_items_served_total"), 30);
  EXPECT_EQ(value_of(text, "imret_embed_queue_depth"), 4);
  EXPECT_NE(text.find("# TYPE imret_embed_queue_depth gauge\n"), std::string::npos);
  EXPECT_EQ(prometheus_label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
}

}  // namespace
}  // namespace imret::serve
