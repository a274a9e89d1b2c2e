// The load generator of bench/serve_load.py: N clients, each on its own
// keep-alive connection, post the given bodies in turn for S seconds and
// record each request's latency. Written in C++ so that, on a small machine,
// the servers rather than the generator are what is measured.
//
//   imret_http_load PORT PATH CONTENT_TYPE CLIENTS SECONDS BODY_FILE...
//
// Prints one JSON line: requests, errors, seconds, requests_per_s, p50_ms, p99_ms.
#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

std::string read_file(const char* path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "imret_http_load: %s: cannot read\n", path);
    std::exit(2);
  }
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

double percentile(std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  const double rank = p / 100.0 * static_cast<double>(sorted.size() - 1);
  const size_t low = static_cast<size_t>(rank);
  const size_t high = std::min(low + 1, sorted.size() - 1);
  return sorted[low] + (sorted[high] - sorted[low]) * (rank - static_cast<double>(low));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 7) {
    std::fprintf(stderr, "usage: imret_http_load PORT PATH CONTENT_TYPE CLIENTS SECONDS BODY_FILE...\n");
    return 2;
  }
  const int port = std::atoi(argv[1]);
  const std::string path = argv[2], content_type = argv[3];
  const int clients = std::max(1, std::atoi(argv[4]));
  const double seconds = std::atof(argv[5]);
  std::vector<std::string> bodies;
  for (int i = 6; i < argc; ++i) bodies.push_back(read_file(argv[i]));

  std::vector<double> latencies_ms;
  std::mutex mutex;
  std::atomic<long> errors{0};
  const auto start = Clock::now();
  const auto stop_at = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c)
    threads.emplace_back([&, c] {
      httplib::Client client("127.0.0.1", port);
      client.set_keep_alive(true);
      client.set_tcp_nodelay(true);
      client.set_read_timeout(60, 0);
      std::vector<double> own;
      for (size_t i = static_cast<size_t>(c); Clock::now() < stop_at; ++i) {
        const std::string& body = bodies[i % bodies.size()];
        const auto sent = Clock::now();
        const auto result = client.Post(path.c_str(), body, content_type.c_str());
        if (result && result->status == 200) own.push_back(std::chrono::duration<double, std::milli>(Clock::now() - sent).count());
        else ++errors;
      }
      const std::lock_guard<std::mutex> lock(mutex);
      latencies_ms.insert(latencies_ms.end(), own.begin(), own.end());
    });
  for (std::thread& t : threads) t.join();
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  std::sort(latencies_ms.begin(), latencies_ms.end());
  std::printf("{\"requests\": %zu, \"errors\": %ld, \"seconds\": %.3f, \"requests_per_s\": %.2f, \"p50_ms\": %.3f, "
              "\"p99_ms\": %.3f}\n",
              latencies_ms.size(), errors.load(), elapsed, static_cast<double>(latencies_ms.size()) / elapsed,
              percentile(latencies_ms, 50), percentile(latencies_ms, 99));
  return latencies_ms.empty() ? 1 : 0;
}
