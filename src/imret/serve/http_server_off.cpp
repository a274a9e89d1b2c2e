// The query service in a build without cpp-httplib (IMRET_WITH_SERVE off).
#include "imret/serve/http_server.hpp"

namespace imret::serve {

struct HttpServer::Impl {};

bool has_http_server() { return false; }

HttpServer::HttpServer(std::shared_ptr<QueryService>, std::shared_ptr<ServiceMetrics>, ServerOptions) {
  throw Error("imret serve: this imret was built without its query service (cpp-httplib; Debian: libcpp-httplib-dev)");
}

HttpServer::~HttpServer() = default;
int HttpServer::bind() { return 0; }
void HttpServer::run() {}
void HttpServer::stop() {}

}  // namespace imret::serve
