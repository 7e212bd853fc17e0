#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "auth/authenticator.h"
#include "core/histogram.h"
#include "server/http_types.h"

namespace meter::server {

// Values of the {name} segments of a matched route pattern.
using PathParams = std::map<std::string, std::string, std::less<>>;

using RouteFn = std::function<void(HttpRequest&, const PathParams&, Responder&)>;
// Answers on the event loop when it can do so without blocking (returns true), else leaves the
// responder alone and returns false.
using FastRouteFn = std::function<bool(HttpRequest&, const PathParams&, Responder&)>;

// Who may call a route: anyone, any valid key (tenant scoping is then the route's job), or
// admin keys only.
enum class Access { kPublic, kKey, kAdmin };

// Where a route's function runs: on the HTTP thread (it must answer at once or hand its work on,
// as ingestion does), or on the read pool (it reads a store, which may be slow or hung).
enum class Runs { kOnEventLoop, kInReadPool };

class ReadPool;

// Maps (method, path pattern) to a function. Patterns are literal segments and {name}
// segments ("/v1/tenants/{tenant}/usage"). An unknown path answers 404, a known path with
// another method 405 with an Allow header. Routes are added before serving; precheck() and
// handle() are then safe from any thread.
class Router : public HttpHandler {
 public:
  // Without an authenticator every caller is an anonymous admin (tests).
  explicit Router(auth::Authenticator* authenticator = nullptr) : authenticator_(authenticator) {}

  void add(std::string method, std::string pattern, Access access, RouteFn fn,
           Runs runs = Runs::kOnEventLoop);
  // A read-pool route that first tries `fast` on the event loop (e.g. from a cache).
  void add(std::string method, std::string pattern, Access access, FastRouteFn fast, RouteFn fn);

  // Routes added with Runs::kInReadPool run there; without a pool (tests), on the event loop.
  void set_read_pool(ReadPool* pool) { read_pool_ = pool; }
  // Matches the route and checks access from the headers; remembers both in the request.
  std::optional<HttpResponse> precheck(HttpRequest& request) override;
  void handle(HttpRequest request, Responder respond) override;

  // (method, pattern) of every route, for the API document's tests.
  std::vector<std::pair<std::string, std::string>> routes() const;

  // meterd_http_request_duration_seconds per route: from the request's dispatch to its answer
  // (a durable write included), in Prometheus' text format.
  void render_metrics(std::string& out) const;

 private:
  struct Route {
    std::string method;
    std::string pattern;
    std::vector<std::string> segments;
    Access access;
    RouteFn fn;
    Runs runs;
    std::shared_ptr<Histogram> latency;  // shared: a route is copied while routes_ grows
    FastRouteFn fast;                    // tried on the event loop first, if set
  };
  std::optional<HttpResponse> authorize(const Route& route, HttpRequest& request);

  // Whose share of the read pool a request uses: the tenant it acts for.
  static std::string caller_of(const HttpRequest& request, const PathParams& params);

  auth::Authenticator* authenticator_;
  ReadPool* read_pool_ = nullptr;
  static bool match(const Route& route, const std::vector<std::string>& segments, PathParams& params);

  std::vector<Route> routes_;
};

}  // namespace meter::server
