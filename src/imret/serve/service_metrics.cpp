#include "imret/serve/service_metrics.hpp"

#include <cstdio>

namespace imret::serve {

namespace {

// `digits` significant digits: bucket bounds as written (0.0005), sums exactly.
std::string number(double value, int digits = 17) {
  char text[40];
  std::snprintf(text, sizeof text, "%.*g", digits, value);
  return text;
}

const std::vector<double> kLatencyBounds = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                            0.1,    0.25,  0.5,    1,     2.5,  5,     10};
const std::vector<double> kBatchBounds = {1, 2, 4, 8, 16, 32, 64, 128, 256};

}  // namespace

std::string prometheus_label(const std::string& value) {
  std::string out;
  for (char c : value) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

Histogram::Histogram(std::vector<double> bounds) : bounds_(std::move(bounds)), counts_(bounds_.size() + 1, 0) {}

void Histogram::observe(double value) {
  size_t bucket = 0;
  while (bucket < bounds_.size() && value > bounds_[bucket]) ++bucket;
  ++counts_[bucket];
  sum_ += value;
  ++count_;
}

std::string Histogram::exposition(const std::string& name, const std::string& labels) const {
  std::string out;
  const std::string sep = labels.empty() ? "" : ",";
  uint64_t cumulative = 0;
  for (size_t b = 0; b <= bounds_.size(); ++b) {
    cumulative += counts_[b];
    const std::string le = b < bounds_.size() ? number(bounds_[b], 6) : "+Inf";
    out += name + "_bucket{" + labels + sep + "le=\"" + le + "\"} " + std::to_string(cumulative) + "\n";
  }
  const std::string braces = labels.empty() ? "" : "{" + labels + "}";
  out += name + "_sum" + braces + " " + number(sum_) + "\n";
  out += name + "_count" + braces + " " + std::to_string(count_) + "\n";
  return out;
}

ServiceMetrics::ServiceMetrics() : batch_sizes_(kBatchBounds) {}

void ServiceMetrics::request(const std::string& endpoint, int status, double seconds) {
  std::lock_guard<std::mutex> lock(mutex_);
  ++requests_[{endpoint, status}];
  latency_.try_emplace(endpoint, kLatencyBounds).first->second.observe(seconds);
}

void ServiceMetrics::batch(int64_t images) {
  std::lock_guard<std::mutex> lock(mutex_);
  batch_sizes_.observe(static_cast<double>(images));
}

void ServiceMetrics::items_served(int64_t count) {
  std::lock_guard<std::mutex> lock(mutex_);
  items_served_ += static_cast<uint64_t>(count);
}

std::string ServiceMetrics::exposition(
    const std::vector<std::pair<std::string, std::pair<double, std::string>>>& gauges) const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::string out;
  out += "# HELP imret_http_requests_total HTTP requests answered, by endpoint and status.\n";
  out += "# TYPE imret_http_requests_total counter\n";
  for (const auto& [key, count] : requests_)
    out += "imret_http_requests_total{endpoint=\"" + prometheus_label(key.first) + "\",status=\"" +
           std::to_string(key.second) + "\"} " + std::to_string(count) + "\n";
  out += "# HELP imret_http_request_duration_seconds Time from a request's arrival to its answer.\n";
  out += "# TYPE imret_http_request_duration_seconds histogram\n";
  for (const auto& [endpoint, histogram] : latency_)
    out += histogram.exposition("imret_http_request_duration_seconds",
                                "endpoint=\"" + prometheus_label(endpoint) + "\"");
  out += "# HELP imret_embed_batch_size Images per forward pass of the embedding network.\n";
  out += "# TYPE imret_embed_batch_size histogram\n";
  out += batch_sizes_.exposition("imret_embed_batch_size", "");
  out += "# HELP imret_items_served_total Search results returned.\n";
  out += "# TYPE imret_items_served_total counter\n";
  out += "imret_items_served_total " + std::to_string(items_served_) + "\n";
  for (const auto& [name, value] : gauges) {
    out += "# HELP " + name + " " + value.second + "\n";
    out += "# TYPE " + name + " gauge\n";
    out += name + " " + number(value.first) + "\n";
  }
  return out;
}

}  // namespace imret::serve
