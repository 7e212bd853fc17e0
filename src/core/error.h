#pragma once

#include <cstdint>
#include <expected>
#include <string>
#include <utility>

namespace meter {

// What went wrong, in terms a caller can act on. Maps onto HTTP statuses at the edge.
enum class ErrorCode {
  kInvalidArgument,  // the caller sent something malformed or out of range (400)
  kUnauthenticated,  // no or an unknown API key (401)
  kForbidden,        // the key may not do this (403)
  kPaymentRequired,  // the tenant's prepaid credit cannot cover it (402)
  kNotFound,         // 404
  kConflict,         // 409
  kTooLarge,         // a size limit was exceeded (413)
  kRateLimited,      // over a rate limit; retry later (429)
  kUnavailable,      // a backend or the disk failed; retrying later may work (503)
  kInternal,         // a bug or an impossible state (500)
  kUnimplemented,    // not available with this configuration yet (501)
};

// An error as a value: a code, a message for humans, and the field it concerns (if any).
struct Error {
  ErrorCode code = ErrorCode::kInternal;
  std::string message;
  std::string field;
  std::int64_t retry_after_seconds = 0;  // > 0: when a retry may succeed (Retry-After)

  static Error invalid(std::string field, std::string message) {
    return {ErrorCode::kInvalidArgument, std::move(message), std::move(field)};
  }
  static Error unavailable(std::string message) { return {ErrorCode::kUnavailable, std::move(message), {}}; }
  static Error internal(std::string message) { return {ErrorCode::kInternal, std::move(message), {}}; }
  static Error unimplemented(std::string message) {
    return {ErrorCode::kUnimplemented, std::move(message), {}};
  }
};

template <class T>
using Result = std::expected<T, Error>;

using Status = std::expected<void, Error>;

inline std::unexpected<Error> fail(Error e) { return std::unexpected<Error>(std::move(e)); }

}  // namespace meter
