#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "core/error.h"
#include "server/http_types.h"

namespace meter::server {

struct HttpServerOptions {
  std::string listen = "127.0.0.1:8000";  // host:port; port 0 picks a free one
  int workers = 0;                        // threads, one io_context each; 0 = one per core
  std::size_t max_body_bytes = 16 * 1024 * 1024;
  std::size_t max_header_bytes = 16 * 1024;
  std::size_t max_connections = 10'000;
  std::size_t max_connections_per_client = 1'000;                      // from one address
  std::size_t max_unauthenticated_connections = 2'000;                 // open, and no request with a key yet
  std::chrono::milliseconds idle_timeout = std::chrono::seconds(60);   // between requests
  std::chrono::milliseconds read_timeout = std::chrono::seconds(10);   // one whole request
  std::chrono::milliseconds drain_timeout = std::chrono::seconds(10);  // graceful stop
  bool handle_signals = true;                                          // SIGINT/SIGTERM start a graceful stop
  // Called once on an HTTP thread when a graceful stop begins, before in-flight requests are
  // waited for: where slow work is told to answer now. Must not block.
  std::function<void()> on_stop;
};

struct HttpServerStats {
  std::uint64_t open_connections = 0;
  std::uint64_t active_requests = 0;
};

// HTTP/1.1 with keep-alive on Boost.Beast: one io_context and thread per worker, sessions
// spread round-robin. Body, header, idle and read limits are enforced here, before any
// handler runs. The handler must outlive the server.
//
// What a client without a key can cost is bounded: the handler's precheck sees the headers
// before any body is read (no key, no body); connections that have not shown a key count
// against max_unauthenticated_connections and are closed after read_timeout idle; one address
// holds at most max_connections_per_client. Bodies being read or handled hold at most
// 16 × max_body_bytes in all and 4 × max_body_bytes per key (503 beyond).
//
// Lifecycle: listen() binds; run() serves on the calling thread plus workers-1 others until a
// graceful stop (a signal or stop()), which stops accepting, lets in-flight requests finish
// (at most drain_timeout), and returns after joining every thread it started.
// Parses one HTTP/1.1 request from `bytes` as a session does (the header and body limits of
// `options`, the same conversion to HttpRequest); for fuzzing and tests. nullopt, with `error`
// set, for what the server would refuse; nullopt with an empty `error` when more bytes are needed.
std::optional<HttpRequest> parse_http_request(std::string_view bytes, const HttpServerOptions& options,
                                              std::string& error);

class HttpServer {
 public:
  HttpServer(HttpServerOptions options, HttpHandler& handler);
  ~HttpServer();

  Status listen();
  std::uint16_t port() const;
  void run();
  void stop();  // thread-safe
  HttpServerStats stats() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace meter::server
