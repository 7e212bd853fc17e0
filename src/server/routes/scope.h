#pragma once

#include <optional>
#include <string_view>

#include "server/http_types.h"

namespace meter::server {

// Tenant scoping for keys that belong to one tenant. Reading another tenant's data answers 404
// as if it did not exist; writing for another tenant answers 403. Admins pass both.
std::optional<HttpResponse> hidden_unless_own(const HttpRequest& request, std::string_view tenant_id);
std::optional<HttpResponse> forbidden_unless_own(const HttpRequest& request, std::string_view tenant_id);

}  // namespace meter::server
