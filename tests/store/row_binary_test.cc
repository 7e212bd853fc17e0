#include "store/clickhouse/row_binary.h"

#include <gtest/gtest.h>

#include <cstring>

#include "support/events.h"

namespace meter::store::clickhouse {
namespace {

// Reads back the rollup rows RowBinary encodes (tenant, bucket seconds, type, units, events, batch).
struct Reader {
  std::string_view in;
  template <class T>
  T get() {
    T v;
    std::memcpy(&v, in.data(), sizeof(T));
    in.remove_prefix(sizeof(T));
    return v;
  }
  std::string text() {
    std::uint64_t n = 0;
    for (int shift = 0;; shift += 7) {
      auto byte = static_cast<unsigned char>(in.front());
      in.remove_prefix(1);
      n |= std::uint64_t{byte & 0x7fu} << shift;
      if ((byte & 0x80) == 0) break;
    }
    std::string s(in.substr(0, n));
    in.remove_prefix(n);
    return s;
  }
};

Event at(std::string tenant, std::string id, std::string_view quantity, std::string_view when) {
  return meter::testing::make_event(std::move(tenant), std::move(id), "query", quantity,
                                    *parse_rfc3339(when));
}

// Verifies the rollup block: one row per (tenant, hour, type) in key order, exact sums, and the
// same bytes for the same events in any order (a resend is then dropped as a duplicate block).
TEST(RowBinaryTest, RollupRowsAreSummedSortedAndStable) {
  std::vector<Event> events = {
      at("b", "1", "2.5", "2026-11-02T10:59:59.999Z"), at("a", "2", "0.000000000001", "2026-11-02T10:15:00Z"),
      at("b", "3", "7", "2026-11-02T10:00:00Z"), at("b", "4", "1", "2026-11-02T11:00:00Z")};
  auto hourly = to_rollup_row_binary("batch-1", events, Window::kHour);
  ASSERT_TRUE(hourly);
  std::vector<Event> shuffled = {events[3], events[1], events[0], events[2]};
  EXPECT_EQ(*to_rollup_row_binary("batch-1", shuffled, Window::kHour), *hourly);
  EXPECT_NE(*to_rollup_row_binary("batch-2", events, Window::kHour), *hourly);

  Reader r{*hourly};
  std::int64_t ten = to_unix_ms(*parse_rfc3339("2026-11-02T10:00:00Z")) / 1000;
  struct Row {
    std::string tenant;
    std::int64_t bucket;
    Int128 units;
    std::uint64_t events;
  };
  std::vector<Row> rows;
  while (!r.in.empty()) {
    Row row;
    row.tenant = r.text();
    row.bucket = r.get<std::uint32_t>();
    EXPECT_EQ(r.text(), "query");
    row.units = r.get<Int128>();
    row.events = r.get<std::uint64_t>();
    EXPECT_EQ(r.text(), "batch-1");
    rows.push_back(row);
  }
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].tenant, "a");
  EXPECT_EQ(rows[0].units, Int128{1});
  EXPECT_EQ(rows[1].tenant, "b");
  EXPECT_EQ(rows[1].bucket, ten);
  EXPECT_EQ(rows[1].units, Decimal::parse("9.5")->units());
  EXPECT_EQ(rows[1].events, 2u);
  EXPECT_EQ(rows[2].bucket, ten + 3600);

  auto daily = to_rollup_row_binary("batch-1", events, Window::kDay);
  Reader d{*daily};
  EXPECT_EQ(d.text(), "a");
  EXPECT_EQ(d.get<std::uint32_t>(), static_cast<std::uint32_t>(ten - 10 * 3600));
}

}  // namespace
}  // namespace meter::store::clickhouse
