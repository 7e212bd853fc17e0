// Long, knowingly: one connection's life (accept, limits, header and body reads under one
// timer, the body budget, keep-alive, drain) is one coroutine and the state it shares, kept
// together so the limits can be read in one place.
#include "server/http_server.h"

#include <spdlog/spdlog.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <charconv>
#include <thread>
#include <unordered_map>
#include <variant>

#include "core/sync.h"
#include "server/problem.h"

namespace meter::server {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using asio::awaitable;
using asio::use_awaitable;

// Hands the request to the handler and suspends until it responds, from whatever thread.
template <class Token>
auto async_handle(HttpHandler& handler, HttpRequest request, Token&& token) {
  return asio::async_initiate<Token, void(HttpResponse)>(
      [&handler](auto completion, HttpRequest req) {
        auto executor = asio::get_associated_executor(completion);
        handler.handle(
            std::move(req),
            Responder([completion = std::move(completion), executor](Responder::Builder build) mutable {
              asio::post(executor, [completion = std::move(completion), build = std::move(build)]() mutable {
                std::move(completion)(build());
              });
            }));
      },
      token, std::move(request));
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string media_type(std::string_view content_type) {
  std::string_view t = content_type.substr(0, content_type.find(';'));
  while (!t.empty() && t.back() == ' ') t.remove_suffix(1);
  return lower(t);
}

// Turns Beast's parsed request into the handler's view, or says why the request is malformed.
// The path stays percent-encoded: the router splits it into segments before decoding them, so
// an encoded '/' (%2F) stays inside its segment.
std::variant<HttpRequest, std::string> convert(http::request<http::string_body>& in,
                                               std::uint64_t content_length) {
  HttpRequest out;
  out.content_length = content_length;
  out.method = std::string(in.method_string());
  std::string_view target(in.target().data(), in.target().size());
  std::size_t q = target.find('?');
  out.path = std::string(target.substr(0, q));
  if (q != std::string_view::npos && !parse_query(target.substr(q + 1), out.query)) {
    return std::string("the query string is not valid percent-encoding");
  }
  if (in.count(http::field::authorization) > 1)
    return std::string("send one Authorization header, not several");
  auto field = [&](http::field f) {
    auto v = in[f];
    return std::string_view(v.data(), v.size());
  };
  out.content_type = media_type(field(http::field::content_type));
  out.accept = std::string(field(http::field::accept));
  out.authorization = std::string(field(http::field::authorization));
  out.host = std::string(field(http::field::host));
  out.origin = std::string(field(http::field::origin));
  if (auto key = in.find("Idempotency-Key"); key != in.end())
    out.idempotency_key = std::string(key->value().data(), key->value().size());
  for (const auto& h : in) {
    std::string_view name(h.name_string().data(), h.name_string().size());
    if (name.size() <= 3 || lower(name.substr(0, 3)) != "ce-") continue;
    std::string value;
    if (!percent_decode(std::string_view(h.value().data(), h.value().size()), value, false)) {
      return "header " + std::string(name) + " is not valid percent-encoding";
    }
    out.cloud_event_headers.emplace_back(lower(name.substr(3)), std::move(value));
  }
  return out;
}

}  // namespace

std::optional<HttpRequest> parse_http_request(std::string_view bytes, const HttpServerOptions& options,
                                              std::string& error) {
  error.clear();
  http::request_parser<http::string_body> parser;
  parser.header_limit(static_cast<std::uint32_t>(options.max_header_bytes));
  parser.body_limit(options.max_body_bytes);
  parser.eager(true);
  boost::system::error_code ec;
  std::size_t used = 0;
  while (used < bytes.size() && !parser.is_done()) {
    std::size_t n = parser.put(asio::buffer(bytes.data() + used, bytes.size() - used), ec);
    if (ec == http::error::need_more) break;
    if (ec) {
      error = ec.message();
      return std::nullopt;
    }
    if (n == 0) break;
    used += n;
  }
  if (!parser.is_header_done()) return std::nullopt;
  auto head = convert(parser.get(), parser.chunked() ? 1 : parser.content_length().value_or(0));
  if (auto* why = std::get_if<std::string>(&head)) {
    error = *why;
    return std::nullopt;
  }
  if (!parser.is_done()) return std::nullopt;
  auto request = std::get<HttpRequest>(std::move(head));
  request.body = std::move(parser.get().body());
  return request;
}

class HttpServer::Impl {
 public:
  Impl(HttpServerOptions options, HttpHandler& handler) : options_(std::move(options)), handler_(handler) {
    int workers = options_.workers > 0 ? options_.workers
                                       : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    for (int i = 0; i < workers; ++i) contexts_.push_back(std::make_unique<asio::io_context>(1));
    acceptor_ = std::make_unique<tcp::acceptor>(*contexts_[0]);
  }

  Status listen() {
    std::string_view listen = options_.listen;
    std::size_t colon = listen.rfind(':');
    if (colon == std::string_view::npos) return fail(Error::invalid("listen", "listen must be host:port"));
    std::string host(listen.substr(0, colon));
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
    unsigned port = 0;
    auto port_text = listen.substr(colon + 1);
    auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (ec != std::errc() || end != port_text.data() + port_text.size() || port > 65535) {
      return fail(Error::invalid("listen", "listen port must be 0..65535: " + options_.listen));
    }
    boost::system::error_code err;
    auto address = asio::ip::make_address(host == "localhost" ? "127.0.0.1" : host, err);
    if (err) return fail(Error::invalid("listen", "listen address is not an IP address: " + host));
    tcp::endpoint endpoint(address, static_cast<std::uint16_t>(port));
    acceptor_->open(endpoint.protocol(), err);
    if (!err) acceptor_->set_option(asio::socket_base::reuse_address(true), err);
    if (!err) acceptor_->bind(endpoint, err);
    if (!err) acceptor_->listen(asio::socket_base::max_listen_connections, err);
    if (err) {
      return fail(Error::unavailable("cannot listen on " + options_.listen + ": " + err.message() +
                                     " (is another meterd running? choose another --listen)"));
    }
    return {};
  }

  std::uint16_t port() const { return acceptor_->local_endpoint().port(); }

  void run() {
    asio::co_spawn(*contexts_[0], accept_loop(), asio::detached);
    std::unique_ptr<asio::signal_set> signals;
    if (options_.handle_signals) {
      signals = std::make_unique<asio::signal_set>(*contexts_[0], SIGINT, SIGTERM);
      signals->async_wait([this](const boost::system::error_code& ec, int signal) {
        if (ec) return;
        spdlog::info("received signal {}: finishing in-flight requests, then stopping", signal);
        begin_stop();
      });
    }
    std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards;
    for (auto& ctx : contexts_) guards.push_back(asio::make_work_guard(*ctx));
    std::vector<std::thread> threads;
    for (std::size_t i = 1; i < contexts_.size(); ++i) {
      threads.emplace_back([ctx = contexts_[i].get()] { ctx->run(); });
    }
    contexts_[0]->run();
    for (auto& t : threads) t.join();
  }

  void stop() {
    asio::post(*contexts_[0], [this] { begin_stop(); });
  }

  HttpServerStats stats() const { return {open_connections_.load(), active_requests_.load()}; }

 private:
  void begin_stop() {
    if (draining_.exchange(true)) return;
    boost::system::error_code ignored;
    acceptor_->close(ignored);
    if (options_.on_stop) options_.on_stop();
    asio::co_spawn(*contexts_[0], wait_for_drain(), asio::detached);
  }

  awaitable<void> wait_for_drain() {
    asio::steady_timer timer(*contexts_[0]);
    auto deadline = std::chrono::steady_clock::now() + options_.drain_timeout;
    while (active_requests_.load() > 0 && std::chrono::steady_clock::now() < deadline) {
      timer.expires_after(std::chrono::milliseconds(5));
      boost::system::error_code ec;
      co_await timer.async_wait(asio::redirect_error(use_awaitable, ec));
    }
    if (active_requests_.load() > 0) {
      spdlog::warn("stopping with {} requests unanswered after {} ms", active_requests_.load(),
                   options_.drain_timeout.count());
    }
    for (auto& ctx : contexts_) ctx->stop();
  }

  awaitable<void> accept_loop() {
    std::size_t next = 0;
    for (;;) {
      boost::system::error_code ec;
      auto& ctx = *contexts_[next];
      next = (next + 1) % contexts_.size();
      tcp::socket socket = co_await acceptor_->async_accept(ctx, asio::redirect_error(use_awaitable, ec));
      if (ec) {
        if (draining_.load() || ec == asio::error::operation_aborted) co_return;
        spdlog::warn("accept failed: {}", ec.message());
        continue;
      }
      boost::system::error_code peer_error;
      std::string peer = socket.remote_endpoint(peer_error).address().to_string();
      if (peer_error) continue;  // already gone
      if (const char* full = admit(peer)) {
        asio::co_spawn(ctx, refuse(std::move(socket), full), asio::detached);  // answer 503, read nothing
        continue;
      }
      asio::co_spawn(ctx, session(std::move(socket), std::move(peer)), asio::detached);
    }
  }

  // Takes the response by reference: GCC 12 mishandles non-trivial by-value coroutine
  // parameters (double destruction), so the caller owns it until the write completes.
  awaitable<void> send(beast::tcp_stream& stream, HttpResponse& response, bool keep_alive) {
    http::response<http::string_body> res{static_cast<http::status>(response.status), 11};
    res.set(http::field::server, "meterd");
    res.set(http::field::content_type, response.content_type);
    for (auto& [name, value] : response.headers) res.set(name, value);
    res.keep_alive(keep_alive);
    res.body() = std::move(response.body);
    res.prepare_payload();
    stream.expires_after(options_.read_timeout);
    boost::system::error_code ec;
    co_await http::async_write(stream, res, asio::redirect_error(use_awaitable, ec));
  }

  // Whether a new connection from `peer` may open, counting it if so; else why not.
  const char* admit(const std::string& peer) {
    if (open_connections_.load() >= options_.max_connections) {
      return "too many open connections (server.max_connections); retry shortly";
    }
    if (unauthenticated_.load() >= options_.max_unauthenticated_connections) {
      return "too many connections have not sent a request yet (server.max_unauthenticated_connections); "
             "retry shortly";
    }
    MutexLock lock(peers_mutex_);
    std::size_t& mine = per_peer_[peer];
    if (mine >= options_.max_connections_per_client) {
      return "too many open connections from your address (server.max_connections_per_client); reuse them";
    }
    ++mine;
    return nullptr;
  }

  // A short 503 without reading the request, then close.
  awaitable<void> refuse(tcp::socket socket, const char* why) {
    beast::tcp_stream stream(std::move(socket));
    HttpResponse response = problem(503, "Service Unavailable", why);
    response.headers.emplace_back("Retry-After", "1");
    co_await send(stream, response, false);
    boost::system::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
  }

  // Counts a connection against its address's share and, until it proves a key, against the
  // unauthenticated share; releases both when it ends.
  class ConnectionSlot {
   public:
    ConnectionSlot(Impl& server, std::string peer) : server_(server), peer_(std::move(peer)) {
      ++server_.open_connections_;
      ++server_.unauthenticated_;
    }
    ~ConnectionSlot() {
      --server_.open_connections_;
      if (!authenticated_) --server_.unauthenticated_;
      MutexLock lock(server_.peers_mutex_);
      auto it = server_.per_peer_.find(peer_);
      if (it != server_.per_peer_.end() && --it->second == 0) server_.per_peer_.erase(it);
    }
    void authenticated() {
      if (authenticated_) return;
      authenticated_ = true;
      --server_.unauthenticated_;
    }
    bool is_authenticated() const { return authenticated_; }

   private:
    Impl& server_;
    std::string peer_;
    bool authenticated_ = false;
  };

  // Body bytes held by requests being read or handled: in all, and per caller (a key), so that
  // one tenant's large uploads cannot take the memory others need. Small bodies (a /track
  // event) are not counted: the connection limits bound them, and the hot path takes no lock.
  static constexpr std::uint64_t kCountedBody = 64 * 1024;
  bool reserve_body(const std::string& caller, std::uint64_t bytes) {
    if (bytes < kCountedBody) return true;
    MutexLock lock(peers_mutex_);
    std::uint64_t& mine = body_bytes_[caller];
    if (body_bytes_total_ + bytes > 16 * options_.max_body_bytes ||
        mine + bytes > 4 * options_.max_body_bytes) {
      if (mine == 0) body_bytes_.erase(caller);
      return false;
    }
    mine += bytes;
    body_bytes_total_ += bytes;
    return true;
  }
  void release_body(const std::string& caller, std::uint64_t bytes) {
    if (bytes < kCountedBody) return;
    MutexLock lock(peers_mutex_);
    body_bytes_total_ -= bytes;
    auto it = body_bytes_.find(caller);
    if (it != body_bytes_.end() && (it->second -= bytes) == 0) body_bytes_.erase(it);
  }

  awaitable<void> session(tcp::socket socket, std::string peer) {
    ConnectionSlot slot(*this, std::move(peer));
    socket.set_option(tcp::no_delay(true));
    beast::tcp_stream stream(std::move(socket));
    beast::flat_buffer buffer;
    // One request's read_timeout, below. A firing already queued when the request finished must
    // touch neither the next request nor a finished session: it acts only for the request it was
    // set for, through state it shares (all on this session's thread).
    struct ReadClock {
      beast::tcp_stream* stream;
      std::uint64_t request = 0;
      bool timed_out = false;
    };
    auto clock = std::make_shared<ReadClock>(ReadClock{&stream});
    asio::steady_timer deadline(stream.get_executor());
    bool& timed_out = clock->timed_out;
    for (;;) {
      boost::system::error_code ec;
      if (buffer.size() == 0) {
        // Waiting for the next request may take idle_timeout; a connection that has not yet
        // shown a key gets read_timeout, so idle sockets cannot hold the slots for long.
        stream.expires_after(slot.is_authenticated()
                                 ? options_.idle_timeout
                                 : std::min(options_.idle_timeout, options_.read_timeout));
        std::size_t n =
            co_await stream.async_read_some(buffer.prepare(8192), asio::redirect_error(use_awaitable, ec));
        if (ec) break;
        buffer.commit(n);
      }
      // Once a request starts it has read_timeout to arrive whole. The timer cancels the read
      // rather than closing the socket, so that the client is still told 408.
      stream.expires_never();
      timed_out = false;
      deadline.expires_after(options_.read_timeout);
      deadline.async_wait([clock, mine = ++clock->request](const boost::system::error_code& e) {
        if (e || mine != clock->request || clock->stream == nullptr) return;
        clock->timed_out = true;
        boost::system::error_code ignored;
        clock->stream->socket().cancel(ignored);
      });
      http::request_parser<http::string_body> parser;
      parser.header_limit(static_cast<std::uint32_t>(options_.max_header_bytes));
      parser.body_limit(options_.max_body_bytes);
      co_await http::async_read_header(stream, buffer, parser, asio::redirect_error(use_awaitable, ec));
      if (ec) {
        deadline.cancel();
        std::optional<HttpResponse> answer = timed_out ? request_timeout() : answer_for_read_error(ec);
        if (answer) co_await send(stream, *answer, false);
        break;
      }
      auto head = convert(parser.get(), parser.chunked() ? 1 : parser.content_length().value_or(0));
      HttpRequest* request = std::get_if<HttpRequest>(&head);
      std::optional<HttpResponse> refused;
      if (request == nullptr) refused = problem(400, "Bad Request", std::get<std::string>(head));
      if (!refused) refused = handler_.precheck(*request);
      if (refused) {
        // Without a body the connection can serve the next request; with one, it is not read.
        deadline.cancel();
        bool reusable = parser.is_done() && parser.get().keep_alive() && !draining_.load();
        co_await send(stream, *refused, reusable);
        if (!reusable) break;
        continue;
      }
      if (request->has_key) slot.authenticated();
      std::uint64_t reserved = parser.content_length().value_or(0);
      std::string caller = reserved < kCountedBody             ? std::string()
                           : request->principal.key_id.empty() ? "anonymous"
                                                               : request->principal.key_id;
      if (!reserve_body(caller, reserved)) {
        deadline.cancel();
        HttpResponse busy =
            problem(503, "Service Unavailable", "too many large requests are being received; retry shortly");
        busy.headers.emplace_back("Retry-After", "1");
        co_await send(stream, busy, false);
        break;
      }
      if (parser.get()[http::field::expect] == "100-continue") {
        http::response<http::empty_body> go_on{http::status::continue_, 11};
        co_await http::async_write(stream, go_on, asio::redirect_error(use_awaitable, ec));
      }
      if (!ec && !parser.is_done()) {
        co_await http::async_read(stream, buffer, parser, asio::redirect_error(use_awaitable, ec));
      }
      deadline.cancel();
      if (ec) {
        release_body(caller, reserved);
        std::optional<HttpResponse> answer = timed_out ? request_timeout() : answer_for_read_error(ec);
        if (answer) co_await send(stream, *answer, false);
        break;
      }
      bool keep_alive = parser.get().keep_alive();
      request->body = std::move(parser.get().body());
      ++active_requests_;
      HttpResponse response = co_await async_handle(handler_, std::move(*request), use_awaitable);
      release_body(caller, reserved);
      keep_alive = keep_alive && !draining_.load();
      co_await send(stream, response, keep_alive);
      --active_requests_;
      if (!keep_alive) break;
    }
    clock->stream = nullptr;  // the stream goes with this frame
    boost::system::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
  }

  static HttpResponse request_timeout() {
    return problem(408, "Request Timeout", "the request was not received within server.read_timeout_seconds");
  }

  static std::optional<HttpResponse> answer_for_read_error(const boost::system::error_code& ec) {
    if (ec == http::error::end_of_stream || ec == asio::error::eof || ec == asio::error::connection_reset ||
        ec == asio::error::operation_aborted) {
      return std::nullopt;
    }
    if (ec == beast::error::timeout) {
      return problem(408, "Request Timeout", "the request was not received in time");
    }
    if (ec == http::error::header_limit) {
      return problem(431, "Request Header Fields Too Large",
                     "the request headers exceed server.max_header_bytes");
    }
    if (ec == http::error::body_limit) {
      return problem(413, "Payload Too Large", "the request body exceeds server.max_body_bytes");
    }
    return problem(400, "Bad Request", "malformed HTTP request: " + ec.message());
  }

  HttpServerOptions options_;
  HttpHandler& handler_;
  std::vector<std::unique_ptr<asio::io_context>> contexts_;
  std::unique_ptr<tcp::acceptor> acceptor_;  // lives on contexts_[0]
  std::atomic<bool> draining_{false};
  std::atomic<std::uint64_t> open_connections_{0};
  std::atomic<std::uint64_t> unauthenticated_{0};  // open connections that have shown no key yet
  Mutex peers_mutex_;
  std::unordered_map<std::string, std::size_t> per_peer_ ABSL_GUARDED_BY(peers_mutex_);      // per address
  std::unordered_map<std::string, std::uint64_t> body_bytes_ ABSL_GUARDED_BY(peers_mutex_);  // per caller
  std::uint64_t body_bytes_total_ ABSL_GUARDED_BY(peers_mutex_) = 0;
  std::atomic<std::uint64_t> active_requests_{0};
};

HttpServer::HttpServer(HttpServerOptions options, HttpHandler& handler)
    : impl_(std::make_unique<Impl>(std::move(options), handler)) {}
HttpServer::~HttpServer() = default;
Status HttpServer::listen() { return impl_->listen(); }
std::uint16_t HttpServer::port() const { return impl_->port(); }
void HttpServer::run() { impl_->run(); }
void HttpServer::stop() { impl_->stop(); }
HttpServerStats HttpServer::stats() const { return impl_->stats(); }

}  // namespace meter::server
