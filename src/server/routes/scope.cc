#include "server/routes/scope.h"

#include "core/identifier.h"
#include "server/problem.h"

namespace meter::server {

std::optional<HttpResponse> hidden_unless_own(const HttpRequest& request, std::string_view tenant_id) {
  if (request.principal.may_act_for(tenant_id)) return std::nullopt;
  return problem(404, "Not Found", "no tenant " + std::string(tenant_id));
}

std::optional<HttpResponse> forbidden_unless_own(const HttpRequest& request, std::string_view tenant_id) {
  if (request.principal.may_act_for(tenant_id)) return std::nullopt;
  return problem(
      403, "Forbidden",
      "this key may only act for tenant " + request.principal.tenant_id + ", not " + std::string(tenant_id),
      "tenant_id");
}

Result<std::string> body_tenant(const JsonBody& body, const HttpRequest& request) {
  auto tenant = body.string("tenant_id");
  if (!tenant) return fail(tenant.error());
  if (!*tenant && !request.principal.admin) return request.principal.tenant_id;
  if (!*tenant) return fail(Error::invalid("tenant_id", "tenant_id is required"));
  if (auto why = check_identifier(**tenant)) return fail(Error::invalid("tenant_id", "tenant_id " + *why));
  return **tenant;
}

std::optional<HttpResponse> bad_path_tenant(std::string_view tenant) {
  if (auto why = check_identifier(tenant)) return problem(Error::invalid("tenant", "tenant " + *why));
  return std::nullopt;
}

}  // namespace meter::server
