#include "store/sqlite/decimal_functions.h"

#include <sqlite3.h>

#include <cstring>
#include <optional>
#include <string>
#include <string_view>

#include "core/decimal.h"

namespace meter::store::sqlite {
namespace {

std::optional<Decimal> decimal_arg(sqlite3_value* value) {
  if (sqlite3_value_type(value) == SQLITE_NULL) return Decimal();
  const auto* text = reinterpret_cast<const char*>(sqlite3_value_text(value));
  if (text == nullptr) return std::nullopt;
  return Decimal::parse(std::string_view(text, sqlite3_value_bytes(value)));
}

void result_decimal(sqlite3_context* ctx, Decimal d) {
  std::string text = d.to_string();
  sqlite3_result_text(ctx, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
}

void dec_add(sqlite3_context* ctx, int, sqlite3_value** argv) {
  auto a = decimal_arg(argv[0]);
  auto b = decimal_arg(argv[1]);
  if (!a || !b) return sqlite3_result_error(ctx, "meter_dec_add: operand is not a decimal", -1);
  auto sum = a->checked_add(*b);
  if (!sum) return sqlite3_result_error(ctx, "meter_dec_add: overflow", -1);
  result_decimal(ctx, *sum);
}

// SQLite's aggregate memory is only 8-byte aligned, too little for a 128-bit integer, so the
// running total is kept as bytes and copied in and out.
struct SumState {
  unsigned char total[sizeof(Decimal)];
  bool failed;
};

Decimal load(const SumState& state) {
  Decimal d;
  std::memcpy(&d, state.total, sizeof d);
  return d;
}

void dec_sum_step(sqlite3_context* ctx, int, sqlite3_value** argv) {
  auto* state = static_cast<SumState*>(sqlite3_aggregate_context(ctx, sizeof(SumState)));
  if (state == nullptr || state->failed) return;
  auto value = decimal_arg(argv[0]);
  auto sum = value ? load(*state).checked_add(*value) : std::nullopt;
  if (!sum) {
    state->failed = true;
    return;
  }
  std::memcpy(state->total, &*sum, sizeof(Decimal));
}

void dec_sum_final(sqlite3_context* ctx) {
  auto* state = static_cast<SumState*>(sqlite3_aggregate_context(ctx, 0));
  if (state != nullptr && state->failed) {
    return sqlite3_result_error(ctx, "meter_dec_sum: operand is not a decimal or overflow", -1);
  }
  result_decimal(ctx, state != nullptr ? load(*state) : Decimal());
}

// Largest (Max = true) or smallest decimal; NULL over no rows.
struct ExtremeState {
  unsigned char value[sizeof(Decimal)];
  bool seen;
  bool failed;
};

template <bool Max>
void dec_extreme_step(sqlite3_context* ctx, int, sqlite3_value** argv) {
  auto* state = static_cast<ExtremeState*>(sqlite3_aggregate_context(ctx, sizeof(ExtremeState)));
  if (state == nullptr || state->failed) return;
  auto value = decimal_arg(argv[0]);
  if (!value) {
    state->failed = true;
    return;
  }
  Decimal current;
  std::memcpy(&current, state->value, sizeof current);
  if (!state->seen || (Max ? *value > current : *value < current))
    std::memcpy(state->value, &*value, sizeof(Decimal));
  state->seen = true;
}

void dec_extreme_final(sqlite3_context* ctx) {
  auto* state = static_cast<ExtremeState*>(sqlite3_aggregate_context(ctx, 0));
  if (state == nullptr || !state->seen) return sqlite3_result_null(ctx);
  if (state->failed) return sqlite3_result_error(ctx, "meter_dec_max/min: operand is not a decimal", -1);
  Decimal d;
  std::memcpy(&d, state->value, sizeof d);
  result_decimal(ctx, d);
}

}  // namespace

void register_decimal_functions(sqlite3* db) {
  constexpr int kFlags = SQLITE_UTF8 | SQLITE_DETERMINISTIC;
  sqlite3_create_function(db, "meter_dec_add", 2, kFlags, nullptr, dec_add, nullptr, nullptr);
  sqlite3_create_function(db, "meter_dec_sum", 1, kFlags, nullptr, nullptr, dec_sum_step, dec_sum_final);
  sqlite3_create_function(db, "meter_dec_max", 1, kFlags, nullptr, nullptr, dec_extreme_step<true>,
                          dec_extreme_final);
  sqlite3_create_function(db, "meter_dec_min", 1, kFlags, nullptr, nullptr, dec_extreme_step<false>,
                          dec_extreme_final);
}

}  // namespace meter::store::sqlite
