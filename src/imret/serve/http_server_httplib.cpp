#include "imret/serve/http_server.hpp"

#include <httplib.h>
#include <sys/socket.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <regex>
#include <thread>

#include "imret/core/setting_error.hpp"
#include "imret/serve/access.hpp"
#include "imret/serve/new_items.hpp"
#include "imret/serve/request_error.hpp"

namespace imret::serve {

namespace {

using Clock = std::chrono::steady_clock;

// Set by the pre-routing handler, read by the logger: both run on the
// thread that serves the request.
thread_local Clock::time_point request_start;

std::string dump(const nlohmann::json& json) {
  return json.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void answer_json(httplib::Response& res, const nlohmann::json& json, int status = 200) {
  res.status = status;
  res.set_content(dump(json), "application/json");
}

void answer_error(httplib::Response& res, int status, const std::string& message) {
  if (status == 503) res.set_header("Retry-After", "1");
  if (status == 401) res.set_header("WWW-Authenticate", "Bearer");
  answer_json(res, {{"error", message}, {"status", status}}, status);
}

// The route a path belongs to, for the metrics' endpoint label (never the raw path).
std::string endpoint_of(const std::string& path) {
  static const std::vector<std::string> fixed = {"/", "/api/health", "/api/info", "/api/search", "/api/items", "/metrics"};
  if (std::find(fixed.begin(), fixed.end(), path) != fixed.end()) return path;
  static const std::regex item(R"(/api/items/[0-9]+)"), image(R"(/api/items/[0-9]+/image)");
  if (std::regex_match(path, item)) return "/api/items/{id}";
  if (std::regex_match(path, image)) return "/api/items/{id}/image";
  return "other";
}

int64_t id_of(const httplib::Request& req) {
  const std::string text = req.matches[1];
  if (text.size() > 18) throw RequestError(404, "no item " + text);
  return std::stoll(text);
}

// Runs a handler; errors become JSON answers with their status.
httplib::Server::Handler guarded(std::function<void(const httplib::Request&, httplib::Response&)> handler) {
  return [handler = std::move(handler)](const httplib::Request& req, httplib::Response& res) {
    try {
      handler(req, res);
    } catch (const RequestError& e) {
      answer_error(res, e.status(), e.what());
    } catch (const UsageError& e) {
      answer_error(res, 400, e.what());
    } catch (const Error& e) {
      spdlog::error("{} {}: {}", req.method, req.path, e.what());
      answer_error(res, 500, e.what());
    } catch (const std::bad_alloc&) {
      answer_error(res, 503, "out of memory for this request");
    } catch (const std::exception& e) {
      spdlog::error("{} {}: internal error: {}", req.method, req.path, e.what());
      answer_error(res, 500, "internal error");
    }
  };
}

RawSearchRequest raw_search_request(const httplib::Request& req) {
  RawSearchRequest raw;
  raw.content_type = req.get_header_value("Content-Type");
  for (const auto& [name, value] : req.params) raw.url.emplace(name, value);
  if (req.is_multipart_form_data()) {
    for (const auto& [field, part] : req.files) {
      if (!part.filename.empty() || part.content_type.rfind("image/", 0) == 0)
        raw.files.push_back({part.filename.empty() ? field : part.filename, part.content});
      else
        raw.form.emplace(field, part.content);
    }
  } else {
    raw.body = req.body;
  }
  return raw;
}

}  // namespace

struct HttpServer::Impl {
  int listening_socket = -1;
  std::shared_ptr<QueryService> service;
  std::shared_ptr<ServiceMetrics> metrics;
  ServerOptions options;
  httplib::Server server;
  void routes();
};

bool has_http_server() { return true; }

HttpServer::HttpServer(std::shared_ptr<QueryService> service, std::shared_ptr<ServiceMetrics> metrics,
                       ServerOptions options)
    : impl_(std::make_unique<Impl>()) {
  impl_->service = std::move(service);
  impl_->metrics = std::move(metrics);
  impl_->options = std::move(options);
  const ServerOptions& options_ = impl_->options;
  if (!is_loopback(options_.host) && options_.token.empty())
    throw SettingError("host", " " + options_.host + ": serving beyond this machine needs a token (" +
                                   SettingError::mention("token") + " or IMRET_TOKEN), so that only its holders can query");
  if (options_.port < 0 || options_.port > 65535) throw SettingError("port", " " + std::to_string(options_.port) + ": expected 0..65535");
  httplib::Server* server_ = &impl_->server;
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  const int threads = options_.threads > 0 ? options_.threads : std::max(2 * cores, 36);
  server_->new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<size_t>(threads)); };
  server_->set_payload_max_length(options_.max_upload_bytes);
  server_->set_read_timeout(options_.read_timeout_s, 0);
  server_->set_write_timeout(options_.read_timeout_s, 0);
  server_->set_keep_alive_timeout(5);
  // cpp-httplib's default sets SO_REUSEPORT, which lets a second server share
  // a port in use and take half its requests; SO_REUSEADDR alone refuses
  // that and still allows a restart while old connections linger.
  server_->set_socket_options([impl = impl_.get()](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
    impl->listening_socket = sock;
  });
  server_->set_tcp_nodelay(true);  // answers go out whole at once, not after the client's delayed ACK
  server_->set_default_headers({{"X-Content-Type-Options", "nosniff"}, {"Cache-Control", "no-store"}});
  impl_->routes();
}

HttpServer::~HttpServer() = default;

void HttpServer::Impl::routes() {
  httplib::Server& s = server;
  const std::string token = options.token;
  const std::shared_ptr<QueryService> service = this->service;    // the handlers' own copies
  const std::shared_ptr<ServiceMetrics> metrics = this->metrics;
  s.set_pre_routing_handler([token](const httplib::Request& req, httplib::Response& res) {
    request_start = Clock::now();
    if (token.empty() || req.path == "/api/health") return httplib::Server::HandlerResponse::Unhandled;
    const std::string header = req.get_header_value("Authorization");
    const std::string bearer = "Bearer ";
    bool allowed = header.size() > bearer.size() && header.compare(0, bearer.size(), bearer) == 0 &&
                   same_token(header.substr(bearer.size()), token);
    // The page is opened in a browser, which cannot send the header: ?token=.
    if (!allowed && req.path == "/" && req.has_param("token")) allowed = same_token(req.get_param_value("token"), token);
    if (allowed) return httplib::Server::HandlerResponse::Unhandled;
    answer_error(res, 401, header.empty() ? "this service needs a token: send Authorization: Bearer <token>"
                                          : "the token is not this service's");
    return httplib::Server::HandlerResponse::Handled;
  });
  s.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return;  // a handler's own answer
    switch (res.status) {
      case 404: answer_error(res, 404, "no such endpoint: " + req.method + " " + req.path); break;
      case 413: answer_error(res, 413, "the request body is larger than this service takes (--max-upload-mb)"); break;
      case 405: answer_error(res, 405, "method " + req.method + " not allowed here"); break;
      default: answer_error(res, res.status, res.status == 400 ? "malformed HTTP request" : "request failed");
    }
  });
  s.set_logger([metrics](const httplib::Request& req, const httplib::Response& res) {
    const double seconds = std::chrono::duration<double>(Clock::now() - request_start).count();
    if (metrics) metrics->request(endpoint_of(req.path), res.status, seconds);
    spdlog::debug("{} {} {} {:.1f} ms", req.method, req.path, res.status, seconds * 1000);
  });

  s.Get("/api/health", guarded([](const httplib::Request&, httplib::Response& res) {
          answer_json(res, {{"status", "ok"}});
        }));
  s.Get("/api/info", guarded([service](const httplib::Request&, httplib::Response& res) {
          answer_json(res, service->info());
        }));
  s.Post("/api/search", guarded([service](const httplib::Request& req, httplib::Response& res) {
           answer_json(res, service->search(read_search_request(raw_search_request(req), service->limits().max_queries)));
         }));
  s.Get(R"(/api/items/([0-9]+))", guarded([service](const httplib::Request& req, httplib::Response& res) {
          answer_json(res, service->item(id_of(req)));
        }));
  s.Get(R"(/api/items/([0-9]+)/image)", guarded([service](const httplib::Request& req, httplib::Response& res) {
          ItemImage image = service->item_image(id_of(req));
          // Ids move when items are removed: then a browser asks again each time.
          res.set_header("Cache-Control", service->writes_allowed() ? "no-cache" : "private, max-age=3600");
          res.set_content(std::move(image.bytes), image.content_type.c_str());
        }));
  s.Post("/api/items", guarded([service](const httplib::Request& req, httplib::Response& res) {
           answer_json(res, service->add_items(read_new_items(raw_search_request(req), service->limits().max_queries)),
                       201);
         }));
  s.Delete(R"(/api/items/([0-9]+))", guarded([service](const httplib::Request& req, httplib::Response& res) {
             answer_json(res, service->remove_item(id_of(req)));
           }));
  s.Get("/metrics", guarded([service, metrics](const httplib::Request&, httplib::Response& res) {
          const std::string text = metrics->exposition(
              {{"imret_embed_queue_depth", {static_cast<double>(service->queued()), "Images waiting to be embedded."}},
               {"imret_collection_vectors",
                {static_cast<double>(service->collection().size()), "Vectors in the served collection."}}});
          res.set_content(text, "text/plain; version=0.0.4");
        }));
  s.Get("/", guarded([](const httplib::Request&, httplib::Response& res) {
          res.set_header("Content-Security-Policy",
                         "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
                         "img-src 'self' blob: data:; connect-src 'self'; media-src 'self' blob:; "
                         "base-uri 'none'; form-action 'none'; frame-ancestors 'none'");
          res.set_content(web_page(), "text/html; charset=utf-8");
        }));
}

int HttpServer::bind() {
  const ServerOptions& options_ = impl_->options;
  httplib::Server* server_ = &impl_->server;
  if (options_.port == 0) {
    port_ = server_->bind_to_any_port(options_.host);
    if (port_ < 0) port_ = 0;
  } else if (server_->bind_to_port(options_.host, options_.port)) {
    port_ = options_.port;
  }
  if (port_ <= 0)
    throw Error(options_.host + ":" + std::to_string(options_.port) +
                ": cannot listen there (in use, or not an address of this machine)");
  // The library (Debian's builds it as a shared library) listens with a
  // backlog of 5: under a burst of clients the rest would wait for their SYN
  // retry, a second later. Listening again only raises the backlog.
  if (impl_->listening_socket >= 0) ::listen(impl_->listening_socket, 256);
  return port_;
}

void HttpServer::run() { impl_->server.listen_after_bind(); }

void HttpServer::stop() { impl_->server.stop(); }

}  // namespace imret::serve
