#include "server/routes/scope.h"

#include "server/problem.h"

namespace meter::server {

std::optional<HttpResponse> hidden_unless_own(const HttpRequest& request, std::string_view tenant_id) {
  if (request.principal.may_act_for(tenant_id)) return std::nullopt;
  return problem(404, "Not Found", "no tenant " + std::string(tenant_id));
}

std::optional<HttpResponse> forbidden_unless_own(const HttpRequest& request, std::string_view tenant_id) {
  if (request.principal.may_act_for(tenant_id)) return std::nullopt;
  return problem(403, "Forbidden",
                 "this key may only act for tenant " + request.principal.tenant_id + ", not " + std::string(tenant_id),
                 "tenant_id");
}

}  // namespace meter::server
