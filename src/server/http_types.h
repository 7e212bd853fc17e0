#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "auth/principal.h"

namespace meter::server {

// A request as the handlers see it: HTTP/1.1 details (Beast) stay inside http_server.cc.
struct HttpRequest {
  std::string method;  // "GET", "POST", ...
  std::string path;    // as sent (percent-encoded), without the query; the router decodes segments
  std::map<std::string, std::string, std::less<>> query;
  std::string content_type;  // lowercased media type, without parameters
  std::string accept;
  std::string authorization;
  std::string host;             // the Host header
  std::string origin;           // the Origin header, empty when absent
  std::string idempotency_key;  // the Idempotency-Key header (credit grants), empty when absent
  // CloudEvents' HTTP binary mode: ce-* headers, names lowercased without "ce-", values
  // percent-decoded. Empty for every other request.
  std::vector<std::pair<std::string, std::string>> cloud_event_headers;
  std::uint64_t content_length = 0;  // as announced (1 for a chunked body); may not be read yet
  std::string body;
  auth::Principal principal;  // set by the router once the route's access check passed

  // Set by HttpHandler::precheck from the headers alone, before the body is read.
  int route = -1;  // the matched route, -1 until prechecked
  std::map<std::string, std::string, std::less<>> path_params;
  bool has_key = false;  // the caller proved a key (or the server is in open mode)

  std::optional<std::string_view> param(std::string_view name) const {
    auto it = query.find(name);
    if (it == query.end()) return std::nullopt;
    return it->second;
  }
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

// Delivers the response; call exactly once, from any thread. later() takes a function that
// builds the response on an HTTP worker thread, so that threads which must stay quick (the
// ingest writer) only hand over their results.
class Responder {
 public:
  using Builder = std::move_only_function<HttpResponse()>;
  explicit Responder(std::move_only_function<void(Builder)> sink) : sink_(std::move(sink)) {}

  void operator()(HttpResponse response) {
    sink_([r = std::move(response)]() mutable { return std::move(r); });
  }
  void later(Builder build) { sink_(std::move(build)); }

 private:
  std::move_only_function<void(Builder)> sink_;
};

// Answers requests. handle() runs on an HTTP worker thread and must not block: work that
// waits (the durable write) keeps the responder and answers later from another thread.
class HttpHandler {
 public:
  virtual ~HttpHandler() = default;
  // Called with the request's headers (its body not read yet): a response refuses it at once,
  // so that nobody makes the server read a body they may not send (no key, no such route).
  virtual std::optional<HttpResponse> precheck(HttpRequest&) { return std::nullopt; }
  virtual void handle(HttpRequest request, Responder respond) = 0;
};

// Splits "a=1&b=x%20y" into decoded pairs; false when percent-encoding is malformed.
bool parse_query(std::string_view text, std::map<std::string, std::string, std::less<>>& out);
bool percent_decode(std::string_view text, std::string& out, bool plus_is_space);

}  // namespace meter::server
