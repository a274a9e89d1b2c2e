// imret serve: the query service over HTTP, with its page, until Ctrl+C.
#include <CLI/CLI.hpp>

#include <csignal>
#include <cstdio>
#include <cstdlib>

#include "imret/cli/commands.hpp"
#include "imret/cli/common.hpp"
#include "imret/core/precision.hpp"
#include "imret/core/runtime.hpp"
#include "imret/serve/run_service.hpp"

namespace imret::cli {
namespace {

struct ServeArgs {
  std::string folder;
  serve::ServeRequest request;
  double max_upload_mb = 16;
  double batch_wait_ms = 2;
  double max_megapixels = 40;
  std::string device = "cpu";
  std::string precision = "fp32";
};

std::atomic<bool> stop_requested{false};

extern "C" void on_stop_signal(int) { stop_requested.store(true); }

void run_serve(ServeArgs& args) {
  serve::ServeRequest& request = args.request;
  request.folder = args.folder;
  if (request.server.token.empty())
    if (const char* token = std::getenv("IMRET_TOKEN")) request.server.token = token;
  if (!(args.max_upload_mb > 0)) throw UsageError("--max-upload-mb must be positive");
  if (!(args.batch_wait_ms >= 0)) throw UsageError("--batch-wait-ms must be >= 0");
  if (!(args.max_megapixels > 0)) throw UsageError("--max-megapixels must be positive");
  if (request.batching.max_batch < 1) throw UsageError("--max-batch must be at least 1");
  request.server.max_upload_bytes = static_cast<uint64_t>(args.max_upload_mb * 1024 * 1024);
  request.batching.wait = std::chrono::microseconds(static_cast<int64_t>(args.batch_wait_ms * 1000));
  request.batching.max_queued = std::max<int64_t>(request.batching.max_queued, request.batching.max_batch);
  request.limits.image_limits.max_pixels = static_cast<uint64_t>(args.max_megapixels * 1e6);
  request.batching.device = parse_device(args.device);
  request.batching.precision = parse_precision(args.precision);
  check_precision_on(request.batching.precision, request.batching.device);
  std::signal(SIGINT, on_stop_signal);
  std::signal(SIGTERM, on_stop_signal);
  serve::run_service(request, stop_requested, [&](int port, const nlohmann::json& info) {
    const std::string host = request.server.host.find(':') != std::string::npos ? "[" + request.server.host + "]"
                                                                                : request.server.host;
    std::printf("serving %lld vectors (%s, %s) at http://%s:%d/%s\n", info["vectors"].get<long long>(),
                info["backend"].get<std::string>().c_str(), info["metric"].get<std::string>().c_str(), host.c_str(),
                port, request.server.token.empty() ? "" : "  (token required)");
    if (!info["image_queries"].get<bool>())
      std::printf("image queries are off: %s\n", info["image_queries_off"].get<std::string>().c_str());
    if (request.allow_writes) std::printf("writes are on: items can be added and removed\n");
    if (info["rerank"]["spec"] != "none")
      std::printf("re-ranking: %s (depth %lld)\n", info["rerank"]["spec"].get<std::string>().c_str(),
                  info["rerank"]["depth"].get<long long>());
    std::printf("press Ctrl+C to stop\n");
    std::fflush(stdout);
  });
  std::printf("stopped\n");
}

}  // namespace

void add_serve_command(CLI::App& app) {
  auto args = std::make_shared<ServeArgs>();
  serve::ServeRequest& r = args->request;
  CLI::App* command = app.add_subcommand(
      "serve", "Query service over HTTP with a web page: search by uploading an image (docs/serve.md)");
  command->add_option("folder", args->folder, "Index folder (imret index build), embedding folder (imret embed) "
                                              "or run folder (imret demo)")
      ->required();
  command->add_option("--checkpoint", r.collection.checkpoint,
                      "Network for image queries (default: the one the folder records)");
  command->add_option("--device", args->device, "Where image queries' network runs: cpu, cuda or cuda:N")
      ->capture_default_str();
  add_precision_option(*command, args->precision);
  command->add_option("--host", r.server.host, "Address to listen on; other than loopback needs --token")
      ->capture_default_str();
  command->add_option("--port", r.server.port, "Port (0: any free one)")->capture_default_str();
  command->add_option("--token", r.server.token,
                      "Bearer token every request but /api/health must carry (default: $IMRET_TOKEN)");
  command->add_option("--threads", r.server.threads, "Connections served at once (0: automatic)")
      ->capture_default_str();
  command->add_option("--max-upload-mb", args->max_upload_mb, "Largest request body")->capture_default_str();
  command->add_option("--max-megapixels", args->max_megapixels, "Largest image, from its header (before decoding)")
      ->capture_default_str();
  command->add_option("--max-batch", r.batching.max_batch, "Images per forward pass of the network")
      ->capture_default_str();
  command->add_option("--batch-wait-ms", args->batch_wait_ms, "How long an image query waits for others to batch with")
      ->capture_default_str();
  command->add_option("--max-queued", r.batching.max_queued, "Images waiting to be embedded before 503 answers")
      ->capture_default_str();
  command->add_flag("--allow-writes", r.allow_writes,
                    "Take POST /api/items and DELETE /api/items/{id}, each saved to the index folder before it answers");
  command->add_option("--rerank", r.rerank,
                      "Re-rank every search: none, aqe, kreciprocal, diffusion, dba (an index built with it) or a "
                      "chain (docs/rerank.md); a request's rerank=... may ask for another or none")
      ->capture_default_str();
  command->add_option("--rerank-depth", r.rerank_depth, "Shortlist re-ranked per query")
      ->check(CLI::Range(int64_t{1}, int64_t{100000}))
      ->capture_default_str();
  command->callback([args] { run_serve(*args); });
}

}  // namespace imret::cli
