#pragma once
// The query service's own measurements, in Prometheus' text exposition
// format (GET /metrics): requests by endpoint and status, request latency
// and embedding batch-size histograms, queue depth, items served.
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace imret::serve {

// A Prometheus histogram: cumulative bucket counts, sum and count.
class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void observe(double value);
  // "<name>_bucket{<labels>le="..."} n" lines, _sum and _count.
  std::string exposition(const std::string& name, const std::string& labels) const;

 private:
  std::vector<double> bounds_;
  std::vector<uint64_t> counts_;  // per bucket (not cumulative); the last is +Inf
  double sum_ = 0;
  uint64_t count_ = 0;
};

class ServiceMetrics {
 public:
  ServiceMetrics();
  // A request to `endpoint` (the route, not the raw path: /api/items/{id})
  // answered with `status` after `seconds`.
  void request(const std::string& endpoint, int status, double seconds);
  void batch(int64_t images);       // a forward pass of the embedding network
  void items_served(int64_t count);  // results returned
  // The whole exposition; `gauges` adds current values (name -> value, help).
  std::string exposition(const std::vector<std::pair<std::string, std::pair<double, std::string>>>& gauges) const;

 private:
  mutable std::mutex mutex_;
  std::map<std::pair<std::string, int>, uint64_t> requests_;
  std::map<std::string, Histogram> latency_;
  Histogram batch_sizes_;
  uint64_t items_served_ = 0;
};

// A label value with Prometheus' escapes (backslash, quote, newline).
std::string prometheus_label(const std::string& value);

}  // namespace imret::serve
