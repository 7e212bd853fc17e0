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

// Random bits for ids: SplitMix64 (Steele, Lea, Flood 2014) over a per-thread state seeded
// from the OS. Ids need uniqueness, not secrecy; unlike std::mt19937_64 it keeps 8 bytes of
// state instead of 2.5 KB and never stops to regenerate it, which kept Tracker::track()'s
// tail above a microsecond.
std::uint64_t next_random() {
  thread_local std::uint64_t state = [] {
    std::uint64_t seed = 0;
    if (RAND_bytes(reinterpret_cast<unsigned char*>(&seed), sizeof seed) != 1) {
      std::random_device rd;
      seed = (static_cast<std::uint64_t>(rd()) << 32) | rd();
    }
    return seed;
  }();
  std::uint64_t z = (state += 0x9e3779b97f4a7c15);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9;
  z = (z ^ (z >> 27)) * 0x94d049bb133111eb;
  return z ^ (z >> 31);
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

void write_event_id(Timestamp now, char (&out)[kEventIdLength]) {
  auto ms = static_cast<std::uint64_t>(to_unix_ms(now));
  std::uint64_t r1 = next_random();
  std::uint64_t r2 = next_random();
  std::array<std::uint8_t, 16> b{};
  for (int i = 0; i < 6; ++i) b[i] = static_cast<std::uint8_t>(ms >> (40 - 8 * i));
  for (int i = 0; i < 8; ++i) b[6 + i] = static_cast<std::uint8_t>(r1 >> (8 * i));
  b[14] = static_cast<std::uint8_t>(r2);
  b[15] = static_cast<std::uint8_t>(r2 >> 8);
  b[6] = static_cast<std::uint8_t>(0x70 | (b[6] & 0x0f));  // version 7
  b[8] = static_cast<std::uint8_t>(0x80 | (b[8] & 0x3f));  // RFC 4122 variant
  static constexpr char kHex[] = "0123456789abcdef";
  std::size_t at = 0;
  for (int i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out[at++] = '-';
    out[at++] = kHex[b[i] >> 4];
    out[at++] = kHex[b[i] & 0xf];
  }
}

std::string new_event_id(Timestamp now) {
  char id[kEventIdLength];
  write_event_id(now, id);
  return std::string(id, sizeof id);
}

}  // namespace meter
