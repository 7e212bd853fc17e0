#pragma once

#include <optional>
#include <string_view>

#include "core/error.h"
#include "server/http_types.h"
#include "server/json_body.h"

namespace meter::server {

// Tenant scoping for keys that belong to one tenant. Reading another tenant's data answers 404
// as if it did not exist; writing for another tenant answers 403. Admins pass both.
std::optional<HttpResponse> hidden_unless_own(const HttpRequest& request, std::string_view tenant_id);
std::optional<HttpResponse> forbidden_unless_own(const HttpRequest& request, std::string_view tenant_id);

// The {tenant} of a /v1/tenants/{tenant}/... path, checked; an error response otherwise.
std::optional<HttpResponse> bad_path_tenant(std::string_view tenant);

// The tenant_id of a JSON body, checked; a tenant key may leave it out and means its own.
Result<std::string> body_tenant(const JsonBody& body, const HttpRequest& request);

}  // namespace meter::server
