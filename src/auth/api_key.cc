#include "auth/api_key.h"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <array>
#include <stdexcept>

namespace meter::auth {
namespace {

constexpr char kHex[] = "0123456789abcdef";
constexpr std::size_t kRandomBytes = 20;

std::string hex(const unsigned char* data, std::size_t size) {
  std::string out;
  out.reserve(size * 2);
  for (std::size_t i = 0; i < size; ++i) {
    out.push_back(kHex[data[i] >> 4]);
    out.push_back(kHex[data[i] & 0xf]);
  }
  return out;
}

}  // namespace

std::string generate_key() {
  std::array<unsigned char, kRandomBytes> random{};
  if (RAND_bytes(random.data(), static_cast<int>(random.size())) != 1) {
    throw std::runtime_error("the system random generator failed; cannot create a key");
  }
  return std::string(kKeyPrefix) + hex(random.data(), random.size());
}

std::string sha256_hex(std::string_view text) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int length = 0;
  EVP_Digest(text.data(), text.size(), digest.data(), &length, EVP_sha256(), nullptr);
  return hex(digest.data(), length);
}

std::string key_id_of_hash(std::string_view hash_hex) { return std::string(hash_hex.substr(0, 12)); }

bool looks_like_key(std::string_view text) {
  if (!text.starts_with(kKeyPrefix) || text.size() != kKeyPrefix.size() + 2 * kRandomBytes) return false;
  for (char c : text.substr(kKeyPrefix.size())) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

}  // namespace meter::auth
