#pragma once

// The checks every prepaid-credit route makes (credits.cc, credit_rules.cc).
#include <optional>
#include <string>
#include <utility>

#include "server/problem.h"
#include "server/routes/api_context.h"
#include "server/routes/scope.h"

namespace meter::server {

// Credit support, the tenant's name, and (reads) that the key may see it: an answer when one
// fails.
inline std::optional<HttpResponse> credits_refused(const ApiContext& api, const HttpRequest& req,
                                                   const std::string& tenant, bool writes) {
  if (api.credits == nullptr) {
    return problem(Error::unimplemented("prepaid credit is not served by this server"));
  }
  if (auto bad = bad_path_tenant(tenant)) return bad;
  if (!writes) return hidden_unless_own(req, tenant);
  return std::nullopt;
}

// Wraps a credits handler, handler(req, params, tenant, respond), with those checks.
template <class Handler>
auto tenant_route(const ApiContext& api, bool writes, Handler handler) {
  return [&api, writes, handler](HttpRequest& req, const PathParams& p, Responder& r) {
    const std::string& tenant = p.at("tenant");
    if (auto no = credits_refused(api, req, tenant, writes)) return r(std::move(*no));
    handler(req, p, tenant, r);
  };
}

}  // namespace meter::server
