#pragma once
// `imret serve` as one call: open the collection, start the service, serve
// until asked to stop, then finish the requests in flight.
#include <atomic>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>

#include "imret/serve/collection.hpp"
#include "imret/serve/embed_batcher.hpp"
#include "imret/serve/http_server.hpp"
#include "imret/serve/query_service.hpp"

namespace imret::serve {

struct ServeRequest {
  std::filesystem::path folder;  // index folder, embedding folder or run folder
  CollectionOptions collection;
  ServerOptions server;
  BatcherOptions batching;
  ServiceLimits limits;
  bool allow_writes = false;  // POST /api/items and DELETE /api/items/{id}
  std::string rerank = "none";  // re-ranking of every search (QueryService::set_rerank)
  int64_t rerank_depth = 100;
};

// Serves `request` until `stop` becomes true (checked every 100 ms).
// `listening` is told the port and the collection's info once requests are
// accepted. Errors (a folder that cannot be served, an address in use) come
// before it is called.
void run_service(const ServeRequest& request, const std::atomic<bool>& stop,
                 const std::function<void(int port, const nlohmann::json& info)>& listening);

}  // namespace imret::serve
