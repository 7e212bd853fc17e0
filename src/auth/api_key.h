#pragma once

#include <string>
#include <string_view>

namespace meter::auth {

// API keys look like "mk_" followed by 40 lowercase hex digits (160 random bits from OpenSSL).
// Only their SHA-256 is stored; the key id shown by `keys list` is the hash's first 12 hex digits.
inline constexpr std::string_view kKeyPrefix = "mk_";

std::string generate_key();
std::string sha256_hex(std::string_view text);
std::string key_id_of_hash(std::string_view hash_hex);
bool looks_like_key(std::string_view text);

}  // namespace meter::auth
