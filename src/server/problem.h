#pragma once

#include <string_view>

#include "core/error.h"
#include "server/http_types.h"

namespace meter::server {

// An RFC 9457 problem body (application/problem+json): type, title, status, detail, and the
// offending field when there is one.
HttpResponse problem(int status, std::string_view title, std::string_view detail,
                     std::string_view field = {});

// The problem for an error value: invalid -> 400, too large -> 413, unavailable -> 503 with
// Retry-After, and so on.
HttpResponse problem(const Error& error);

std::string_view status_title(int status);

}  // namespace meter::server
