#pragma once

#include <fmt/format.h>

#include <exception>
#include <string_view>

#include "core/decimal.h"
#include "core/error.h"

namespace meter::store::sqlite {

// Runs `body` (SQLiteCpp reports failures by throwing) and turns an exception into an
// unavailable error: "<what> failed: <SQLite's message>". `body` returns Status or a Result;
// so does this.
template <class Body>
auto sqlite_call(std::string_view what, Body&& body) -> decltype(body()) {
  try {
    return body();
  } catch (const std::exception& ex) {
    return fail(Error::unavailable(fmt::format("{} failed: {}", what, ex.what())));
  }
}

// A decimal column as stored; a value that does not parse is reported, never read as 0.
inline Result<Decimal> stored_decimal(std::string_view text, std::string_view where) {
  auto d = Decimal::parse(text);
  if (!d) return fail(Error::internal(fmt::format("corrupt decimal '{}' in {}", text, where)));
  return *d;
}

}  // namespace meter::store::sqlite
