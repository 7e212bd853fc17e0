#pragma once

#include <span>
#include <string>
#include <string_view>

#include "core/error.h"
#include "core/event.h"
#include "core/time.h"

namespace meter::store::clickhouse {

// The events as RowBinary rows of usage_events (the columns of kInsertColumns), each tagged
// with batch_id: the body meterd ships. Binary, so ClickHouse parses no text: strings are a
// LEB128 length and their bytes, a quantity the Decimal(38, 12)'s 128-bit count of 10^-12
// little-endian (meterd's own representation, copied), times 32-bit seconds.
std::string to_row_binary(std::string_view batch_id, std::span<const Event> events);

// The events summed per (tenant, UTC hour or day, event type), in that order, as RowBinary rows
// of a rollup table (kRollupInsertColumns) tagged with batch_id. The same events give the same
// bytes, so a replicated table drops a resend of them as a duplicate block. Fails when a sum
// overflows.
Result<std::string> to_rollup_row_binary(std::string_view batch_id, std::span<const Event> events,
                                         Window window);
inline constexpr const char* kRollupInsertColumns =
    "tenant_id, bucket_start, event_type, quantity, events, batch_id";

}  // namespace meter::store::clickhouse
