#pragma once

#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "server/http_types.h"

namespace meter::server {

// Values of the {name} segments of a matched route pattern.
using PathParams = std::map<std::string, std::string, std::less<>>;

using RouteFn = std::function<void(HttpRequest&, const PathParams&, Responder&)>;

// Maps (method, path pattern) to a function. Patterns are literal segments and {name}
// segments ("/v1/tenants/{tenant}/usage"). An unknown path answers 404, a known path with
// another method 405 with an Allow header. Routes are added before serving; dispatch() is then
// safe from any thread.
class Router : public HttpHandler {
 public:
  void add(std::string method, std::string pattern, RouteFn fn);
  void handle(HttpRequest request, Responder respond) override;

  // (method, pattern) of every route, for the API document's tests.
  std::vector<std::pair<std::string, std::string>> routes() const;

 private:
  struct Route {
    std::string method;
    std::string pattern;
    std::vector<std::string> segments;
    RouteFn fn;
  };
  static bool match(const Route& route, const std::vector<std::string_view>& segments, PathParams& params);

  std::vector<Route> routes_;
};

}  // namespace meter::server
