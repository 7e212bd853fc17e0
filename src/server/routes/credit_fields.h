#pragma once

// Fields a grant and a rule's lots share, read from a request body (credits.cc, credit_rules.cc).
#include <string_view>
#include <vector>

#include "core/error.h"
#include "credits/lot.h"
#include "server/json_body.h"

namespace meter::server {

// A 0..100 priority; `fallback` when absent.
Result<int> read_priority(const JsonBody& body, std::string_view key, int fallback);
// category (paid or promotional; `category` kept when absent), priority and scope (event types,
// sorted, each once; `scope` kept when absent).
Status read_lot_terms(const JsonBody& body, credits::Category& category, int& priority,
                      std::vector<std::string>& scope);

}  // namespace meter::server
