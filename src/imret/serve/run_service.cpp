#include "imret/serve/run_service.hpp"

#include <chrono>
#include <thread>

namespace imret::serve {

void run_service(const ServeRequest& request, const std::atomic<bool>& stop,
                 const std::function<void(int port, const nlohmann::json& info)>& listening) {
  std::shared_ptr<Collection> collection = Collection::open(request.folder, request.collection);
  auto metrics = std::make_shared<ServiceMetrics>();
  auto service =
      std::make_shared<QueryService>(collection, request.batching, request.limits, metrics, request.allow_writes);
  service->set_rerank(request.rerank, request.rerank_depth);
  HttpServer server(service, metrics, request.server);
  const int port = server.bind();
  std::atomic<bool> done{false};
  std::thread watcher([&] {
    while (!stop.load() && !done.load()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    server.stop();
  });
  try {
    if (listening) listening(port, service->info());
    server.run();  // returns once stopped, after the requests in flight
  } catch (...) {
    done = true;
    watcher.join();
    throw;
  }
  done = true;
  watcher.join();
}

}  // namespace imret::serve
