#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "core/error.h"
#include "server/http_types.h"

namespace meter::server {

struct HttpServerOptions {
  std::string listen = "127.0.0.1:8000";  // host:port; port 0 picks a free one
  int workers = 0;                         // threads, one io_context each; 0 = one per core
  std::size_t max_body_bytes = 16 * 1024 * 1024;
  std::size_t max_header_bytes = 16 * 1024;
  std::size_t max_connections = 10'000;
  std::chrono::milliseconds idle_timeout = std::chrono::seconds(60);  // between requests
  std::chrono::milliseconds read_timeout = std::chrono::seconds(10);  // one whole request
  std::chrono::milliseconds drain_timeout = std::chrono::seconds(10);  // graceful stop
  bool handle_signals = true;  // SIGINT/SIGTERM start a graceful stop
};

struct HttpServerStats {
  std::uint64_t open_connections = 0;
  std::uint64_t active_requests = 0;
};

// HTTP/1.1 with keep-alive on Boost.Beast: one io_context and thread per worker, sessions
// spread round-robin. Body, header, idle and read limits are enforced here, before any
// handler runs. The handler must outlive the server.
//
// Lifecycle: listen() binds; run() serves on the calling thread plus workers-1 others until a
// graceful stop (a signal or stop()), which stops accepting, lets in-flight requests finish
// (at most drain_timeout), and returns after joining every thread it started.
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
