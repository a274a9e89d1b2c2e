#pragma once
// The query service over HTTP (cpp-httplib): the JSON API under /api/, the
// page at /, Prometheus metrics at /metrics. Secure by default: it binds the
// loopback address unless told otherwise, and refuses any other address
// without a token; with a token every endpoint but /api/health needs
// "Authorization: Bearer <token>" (the page also takes ?token=). Requests
// never name files: items are named by their ids.
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "imret/serve/query_service.hpp"

namespace imret::serve {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;  // 0: any free port (port() says which)
  std::string token;
  int threads = 0;  // connections served at once; 0: max(2 x cores, max batch + 4)
  uint64_t max_upload_bytes = 16ull << 20;
  int read_timeout_s = 10;  // a client that sends nothing for this long is dropped
};

class HttpServer {
 public:
  // SettingError for a non-loopback host without a token.
  HttpServer(std::shared_ptr<QueryService> service, std::shared_ptr<ServiceMetrics> metrics, ServerOptions options);
  ~HttpServer();

  // Binds the address; Error naming it when it cannot. Returns the port.
  int bind();
  // Serves until stop(); in-flight requests finish first.
  void run();
  // From any thread (a signal watcher): stop accepting and let run() return.
  void stop();
  int port() const { return port_; }

 private:
  struct Impl;  // the HTTP library's server (http_server_httplib.cpp)
  std::unique_ptr<Impl> impl_;
  int port_ = 0;
};

// Whether this build has the service (built with cpp-httplib).
bool has_http_server();

// The page (src/imret/serve/page/index.html, built into the binary).
const std::string& web_page();

}  // namespace imret::serve
