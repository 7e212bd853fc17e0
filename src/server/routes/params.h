#pragma once

#include <cstdint>

#include "core/error.h"
#include "server/http_types.h"

namespace meter::server {

// ?limit= of a list route: a whole number from 1 to `most`; `fallback` when absent.
Result<std::int64_t> limit_param(const HttpRequest& request, std::int64_t fallback,
                                 std::int64_t most = 10'000);

// Whether a document route answers CSV: ?format=csv|json wins over Accept; JSON by default.
Result<bool> wants_csv(const HttpRequest& request);

}  // namespace meter::server
