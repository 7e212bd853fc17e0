#include "server/router.h"

#include <fmt/format.h>

#include "server/problem.h"
#include "server/read_pool.h"

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

std::optional<std::vector<std::string>> decoded_segments(std::string_view path) {
  std::vector<std::string> out;
  for (std::string_view raw : split_path(path)) {
    std::string segment;
    if (!percent_decode(raw, segment, false)) return std::nullopt;
    out.push_back(std::move(segment));
  }
  return out;
}

bool is_loopback_host(std::string_view host) {
  if (host.starts_with('[')) return host.starts_with("[::1]");  // [::1] or [::1]:port
  host = host.substr(0, host.find(':'));
  return host == "localhost" || host.starts_with("127.");
}

// Open mode (no keys, loopback only) trusts whoever can reach the socket; a browser can too, for
// any page it shows. Requests a page on another site makes (a foreign Origin), or makes after
// pointing its own name at 127.0.0.1 (DNS rebinding: a foreign Host), are refused, and writes must
// declare a JSON body, which a cross-site form cannot send.
std::optional<HttpResponse> refuse_cross_site(const HttpRequest& request) {
  if (!request.host.empty() && !is_loopback_host(request.host)) {
    return problem(403, "Forbidden",
                   "without API keys meterd answers only requests addressed to a loopback name (Host: " +
                       request.host + "); create a key (meterd keys create --admin) to serve other names");
  }
  if (!request.origin.empty()) {
    std::string_view origin = request.origin;
    std::size_t scheme = origin.find("://");
    if (scheme == std::string_view::npos || !is_loopback_host(origin.substr(scheme + 3))) {
      return problem(403, "Forbidden",
                     "without API keys meterd refuses requests from web pages of other sites (Origin: " +
                         request.origin + ")");
    }
  }
  bool write = request.method != "GET" && request.method != "HEAD";
  bool json = request.content_type == "application/json" ||
              request.content_type.find("ndjson") != std::string::npos ||
              request.content_type == "application/jsonl" ||
              request.content_type == "application/x-jsonlines" ||
              request.content_type == "application/cloudevents+json" ||
              request.content_type == "application/cloudevents-batch+json";
  if (write && (request.content_length > 0 || !request.body.empty()) && !json) {
    return problem(
        415, "Unsupported Media Type",
        "without API keys a request body must be sent as Content-Type: application/json (or NDJSON)");
  }
  return std::nullopt;
}

}  // namespace

void Router::add(std::string method, std::string pattern, Access access, RouteFn fn, Runs runs) {
  std::vector<std::string> segments;
  for (auto s : split_path(pattern)) segments.emplace_back(s);
  routes_.push_back({std::move(method), std::move(pattern), std::move(segments), access, std::move(fn), runs,
                     std::make_shared<Histogram>(), nullptr});
}

void Router::add(std::string method, std::string pattern, Access access, FastRouteFn fast, RouteFn fn) {
  add(std::move(method), std::move(pattern), access, std::move(fn), Runs::kInReadPool);
  routes_.back().fast = std::move(fast);
}

std::optional<HttpResponse> Router::authorize(const Route& route, HttpRequest& request) {
  if (authenticator_ == nullptr) {
    request.principal = auth::Principal{true, "", ""};
    request.has_key = true;
    return std::nullopt;
  }
  bool open = authenticator_->open_mode();
  if (open) {
    if (auto refused = refuse_cross_site(request)) return refused;
  }
  auto principal = authenticator_->authenticate(request.authorization);
  if (principal) request.has_key = open || !principal->key_id.empty();
  if (route.access == Access::kPublic) {
    if (principal) request.principal = *principal;
    return std::nullopt;
  }
  if (!principal) return problem(principal.error());
  if (route.access == Access::kAdmin && !principal->admin) {
    return problem(Error{ErrorCode::kForbidden, "this needs an admin key (meterd keys create --admin)", ""});
  }
  request.principal = std::move(*principal);
  return std::nullopt;
}

std::string Router::caller_of(const HttpRequest& request, const PathParams& params) {
  if (!request.principal.tenant_id.empty()) return "tenant:" + request.principal.tenant_id;
  if (auto t = params.find("tenant"); t != params.end()) return "tenant:" + t->second;
  if (auto t = request.param("tenant_id")) return "tenant:" + std::string(*t);
  return "key:" + request.principal.key_id;  // an admin's request about no one tenant
}

bool Router::match(const Route& route, const std::vector<std::string>& segments, PathParams& params) {
  if (route.segments.size() != segments.size()) return false;
  for (std::size_t i = 0; i < segments.size(); ++i) {
    const std::string& want = route.segments[i];
    if (want.size() > 2 && want.front() == '{' && want.back() == '}') {
      params.insert_or_assign(want.substr(1, want.size() - 2), segments[i]);
    } else if (want != segments[i]) {
      return false;
    }
  }
  return true;
}

std::optional<HttpResponse> Router::precheck(HttpRequest& request) {
  auto decoded = decoded_segments(request.path);
  if (!decoded) return problem(400, "Bad Request", "the request path is not valid percent-encoding");
  std::string allowed;
  for (std::size_t i = 0; i < routes_.size(); ++i) {
    const Route& route = routes_[i];
    PathParams params;
    if (!match(route, *decoded, params)) continue;
    if (route.method == request.method) {
      if (auto refused = authorize(route, request)) return refused;
      request.route = static_cast<int>(i);
      request.path_params = std::move(params);
      return std::nullopt;
    }
    if (allowed.find(route.method) == std::string::npos)
      allowed += (allowed.empty() ? "" : ", ") + route.method;
  }
  if (!allowed.empty()) {
    HttpResponse r = problem(405, "Method Not Allowed",
                             request.method + " is not allowed on " + request.path + "; use " + allowed);
    r.headers.emplace_back("Allow", allowed);
    return r;
  }
  return problem(404, "Not Found", "no route for " + request.path + " (the API is described at /docs)");
}

void Router::handle(HttpRequest request, Responder respond) {
  if (request.route < 0) {  // not prechecked (a caller other than HttpServer)
    if (auto refused = precheck(request)) return respond(std::move(*refused));
  }
  const Route& route = routes_[static_cast<std::size_t>(request.route)];
  Responder timed([latency = route.latency, start = std::chrono::steady_clock::now(),
                   inner = std::move(respond)](Responder::Builder build) mutable {
    latency->observe(std::chrono::steady_clock::now() - start);
    inner.later(std::move(build));
  });
  if (route.fast && route.fast(request, request.path_params, timed)) return;
  if (route.runs == Runs::kInReadPool && read_pool_ != nullptr) {
    std::string caller = caller_of(request, request.path_params);
    read_pool_->submit(
        std::move(caller),
        [&fn = route.fn, request = std::move(request)](Responder& r) mutable {
          fn(request, request.path_params, r);
        },
        std::move(timed));
    return;
  }
  route.fn(request, request.path_params, timed);
}

void Router::render_metrics(std::string& out) const {
  out +=
      "# HELP meterd_http_request_duration_seconds Time from a request's dispatch to its answer, per route.\n"
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
