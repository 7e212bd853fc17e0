#include "store/clickhouse/row_binary.h"

#include <bit>
#include <cstdint>
#include <cstring>
#include <map>
#include <tuple>

#include "core/time.h"

namespace meter::store::clickhouse {
namespace {

static_assert(std::endian::native == std::endian::little, "RowBinary is little-endian, as is this host");

template <class T>
void put(std::string& out, T value) {
  char bytes[sizeof(T)];
  std::memcpy(bytes, &value, sizeof(T));
  out.append(bytes, sizeof(T));
}

void put_string(std::string& out, std::string_view s) {
  std::uint64_t n = s.size();
  do {
    auto byte = static_cast<unsigned char>(n & 0x7f);
    n >>= 7;
    out.push_back(static_cast<char>(n != 0 ? (byte | 0x80) : byte));
  } while (n != 0);
  out.append(s);
}

// Whole seconds, rounded down (also before 1970), as ClickHouse's DateTime counts them.
std::int64_t floor_seconds(std::int64_t ms) { return ms >= 0 ? ms / 1000 : (ms - 999) / 1000; }

}  // namespace

std::string to_row_binary(std::string_view batch_id, std::span<const Event> events) {
  std::string out;
  std::size_t bytes = 0;
  for (const Event& e : events) {
    bytes += e.id.size() + e.tenant_id.size() + e.event_type.size() + e.metadata.size() + batch_id.size() +
             e.cancels.size() + 41;
  }
  out.reserve(bytes);
  for (const Event& e : events) {
    std::int64_t ms = to_unix_ms(e.timestamp);
    std::int64_t s = floor_seconds(ms);
    put_string(out, e.id);
    put_string(out, e.tenant_id);
    put_string(out, e.event_type);
    put(out, e.quantity.units());
    put(out, static_cast<std::uint32_t>(s));
    put(out, static_cast<std::uint16_t>(ms - s * 1000));
    put(out, static_cast<std::uint32_t>(floor_seconds(to_unix_ms(e.received_at))));
    put_string(out, e.metadata);
    put_string(out, batch_id);
    put_string(out, e.cancels);
  }
  return out;
}

Result<std::string> to_rollup_row_binary(std::string_view batch_id, std::span<const Event> events,
                                         Window window) {
  struct Sum {
    Decimal quantity;
    std::int64_t events = 0;  // a retraction counts -1; the UInt64 column sums modulo 2^64
  };
  std::map<std::tuple<std::string_view, std::int64_t, std::string_view>, Sum> sums;
  for (const Event& e : events) {
    Sum& s = sums[{e.tenant_id, to_unix_ms(floor_to(window, e.timestamp)), e.event_type}];
    auto total = s.quantity.checked_add(e.quantity);
    if (!total) return fail(Error::invalid("quantity", "a rollup sum of this shipment overflows"));
    s.quantity = *total;
    s.events += e.sign();
  }
  std::string out;
  for (const auto& [key, s] : sums) {
    const auto& [tenant, bucket_ms, type] = key;
    put_string(out, tenant);
    put(out, static_cast<std::uint32_t>(floor_seconds(bucket_ms)));
    put_string(out, type);
    put(out, s.quantity.units());
    put(out, static_cast<std::uint64_t>(s.events));
    put_string(out, batch_id);
  }
  return out;
}

}  // namespace meter::store::clickhouse
