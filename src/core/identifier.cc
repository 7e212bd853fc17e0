#include "core/identifier.h"

#include <openssl/rand.h>

#include <array>
#include <cstdint>
#include <random>

namespace meter {
namespace {

constexpr std::array<bool, 256> make_allowed() {
  std::array<bool, 256> allowed{};
  for (int c = 'a'; c <= 'z'; ++c) allowed[c] = true;
  for (int c = 'A'; c <= 'Z'; ++c) allowed[c] = true;
  for (int c = '0'; c <= '9'; ++c) allowed[c] = true;
  for (char c : std::string_view("._:@/+=-")) allowed[static_cast<unsigned char>(c)] = true;
  return allowed;
}
constexpr auto kAllowed = make_allowed();

// A per-thread generator seeded from the OS: ids need uniqueness, not secrecy.
std::mt19937_64& thread_rng() {
  thread_local std::mt19937_64 rng = [] {
    std::array<std::uint64_t, 4> seed{};
    if (RAND_bytes(reinterpret_cast<unsigned char*>(seed.data()), sizeof seed) != 1) {
      std::random_device rd;
      for (auto& s : seed) s = (static_cast<std::uint64_t>(rd()) << 32) | rd();
    }
    std::seed_seq seq(seed.begin(), seed.end());
    return std::mt19937_64(seq);
  }();
  return rng;
}

}  // namespace

std::optional<std::string> check_identifier(std::string_view value) {
  if (value.empty()) return "must not be empty";
  if (value.size() > kMaxIdentifierLength) {
    return "must be at most " + std::to_string(kMaxIdentifierLength) + " characters";
  }
  for (char c : value) {
    if (!kAllowed[static_cast<unsigned char>(c)]) {
      return "may contain only letters, digits and . _ : @ / + = -";
    }
  }
  return std::nullopt;
}

std::string new_event_id(Timestamp now) {
  auto ms = static_cast<std::uint64_t>(to_unix_ms(now));
  std::uint64_t r1 = thread_rng()();
  std::uint64_t r2 = thread_rng()();
  std::array<std::uint8_t, 16> b{};
  for (int i = 0; i < 6; ++i) b[i] = static_cast<std::uint8_t>(ms >> (40 - 8 * i));
  for (int i = 0; i < 8; ++i) b[6 + i] = static_cast<std::uint8_t>(r1 >> (8 * i));
  b[14] = static_cast<std::uint8_t>(r2);
  b[15] = static_cast<std::uint8_t>(r2 >> 8);
  b[6] = static_cast<std::uint8_t>(0x70 | (b[6] & 0x0f));  // version 7
  b[8] = static_cast<std::uint8_t>(0x80 | (b[8] & 0x3f));  // RFC 4122 variant
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(36);
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out.push_back('-');
    out.push_back(kHex[b[i] >> 4]);
    out.push_back(kHex[b[i] & 0xf]);
  }
  return out;
}

}  // namespace meter
