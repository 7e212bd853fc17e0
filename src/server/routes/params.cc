#include "server/routes/params.h"

#include <fmt/format.h>

#include <charconv>

namespace meter::server {

Result<std::int64_t> limit_param(const HttpRequest& request, std::int64_t fallback, std::int64_t most) {
  auto text = request.param("limit");
  if (!text) return fallback;
  std::int64_t limit = 0;
  auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), limit);
  if (ec != std::errc() || end != text->data() + text->size() || limit < 1 || limit > most)
    return fail(Error::invalid("limit", fmt::format("limit must be a whole number from 1 to {}", most)));
  return limit;
}

Result<bool> wants_csv(const HttpRequest& request) {
  if (auto format = request.param("format")) {
    if (*format == "csv") return true;
    if (*format == "json") return false;
    return fail(Error::invalid("format", "format must be json or csv"));
  }
  return request.accept.find("text/csv") != std::string::npos;
}

}  // namespace meter::server
