#pragma once

#include <span>
#include <string>
#include <string_view>

#include "core/event.h"

namespace meter::store::clickhouse {

// The events as RowBinary rows of usage_events (the columns of kInsertColumns), each tagged
// with batch_id: the body meterd ships. Binary, so ClickHouse parses no text: strings are a
// LEB128 length and their bytes, a quantity the Decimal(38, 12)'s 128-bit count of 10^-12
// little-endian (meterd's own representation, copied), times 32-bit seconds.
std::string to_row_binary(std::string_view batch_id, std::span<const Event> events);

}  // namespace meter::store::clickhouse
