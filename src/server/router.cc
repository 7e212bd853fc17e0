#include "server/router.h"

#include <fmt/format.h>

#include "server/problem.h"

namespace meter::server {
namespace {

std::vector<std::string_view> split_path(std::string_view path) {
  std::vector<std::string_view> out;
  while (!path.empty()) {
    if (path.front() == '/') {
      path.remove_prefix(1);
      continue;
    }
    std::size_t slash = path.find('/');
    out.push_back(path.substr(0, slash));
    path = slash == std::string_view::npos ? std::string_view() : path.substr(slash);
  }
  return out;
}

}  // namespace

void Router::add(std::string method, std::string pattern, Access access, RouteFn fn) {
  std::vector<std::string> segments;
  for (auto s : split_path(pattern)) segments.emplace_back(s);
  routes_.push_back({std::move(method), std::move(pattern), std::move(segments), access, std::move(fn),
                     std::make_shared<Histogram>()});
}

bool Router::authorize(const Route& route, HttpRequest& request, Responder& respond) {
  if (authenticator_ == nullptr) {
    request.principal = auth::Principal{true, "", ""};
    return true;
  }
  auto principal = authenticator_->authenticate(request.authorization);
  if (route.access == Access::kPublic) {
    if (principal) request.principal = *principal;
    return true;
  }
  if (!principal) {
    respond(problem(principal.error()));
    return false;
  }
  if (route.access == Access::kAdmin && !principal->admin) {
    respond(problem(Error{ErrorCode::kForbidden, "this needs an admin key (meterd keys create --admin)", ""}));
    return false;
  }
  request.principal = std::move(*principal);
  return true;
}

bool Router::match(const Route& route, const std::vector<std::string_view>& segments, PathParams& params) {
  if (route.segments.size() != segments.size()) return false;
  for (std::size_t i = 0; i < segments.size(); ++i) {
    const std::string& want = route.segments[i];
    if (want.size() > 2 && want.front() == '{' && want.back() == '}') {
      params.insert_or_assign(want.substr(1, want.size() - 2), std::string(segments[i]));
    } else if (want != segments[i]) {
      return false;
    }
  }
  return true;
}

void Router::handle(HttpRequest request, Responder respond) {
  auto segments = split_path(request.path);
  std::string allowed;
  for (const Route& route : routes_) {
    PathParams params;
    if (!match(route, segments, params)) continue;
    if (route.method == request.method) {
      Responder timed([latency = route.latency, start = std::chrono::steady_clock::now(),
                       inner = std::move(respond)](Responder::Builder build) mutable {
        latency->observe(std::chrono::steady_clock::now() - start);
        inner.later(std::move(build));
      });
      if (authorize(route, request, timed)) route.fn(request, params, timed);
      return;
    }
    if (allowed.find(route.method) == std::string::npos) allowed += (allowed.empty() ? "" : ", ") + route.method;
  }
  if (!allowed.empty()) {
    HttpResponse r = problem(405, "Method Not Allowed",
                             request.method + " is not allowed on " + request.path + "; use " + allowed);
    r.headers.emplace_back("Allow", allowed);
    return respond(std::move(r));
  }
  respond(problem(404, "Not Found", "no route for " + request.path + " (the API is described at /docs)"));
}

void Router::render_metrics(std::string& out) const {
  out += "# HELP meterd_http_request_duration_seconds Time from a request's dispatch to its answer, per route.\n"
         "# TYPE meterd_http_request_duration_seconds histogram\n";
  for (const Route& r : routes_) {
    r.latency->render(out, "meterd_http_request_duration_seconds",
                      fmt::format("method=\"{}\",route=\"{}\",", r.method, r.pattern));
  }
}

std::vector<std::pair<std::string, std::string>> Router::routes() const {
  std::vector<std::pair<std::string, std::string>> out;
  for (const Route& r : routes_) out.emplace_back(r.method, r.pattern);
  return out;
}

}  // namespace meter::server
