#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/decimal.h"
#include "pricing/money.h"

namespace meter::pricing {

// The price of one meter (an event type): unit_price per `per` units, e.g. 0.003 per 1000.
struct Price {
  std::string event_type;
  std::string description;
  Decimal unit_price;
  Decimal per = *Decimal::from_integer(1);
};

// The prices of a plan. This is the seed's flat per-unit model; tiers, packages, allowances
// and minimums extend it.
struct PriceBook {
  std::string currency = "USD";
  int minor_digits = 2;  // cents
  Rounding rounding = Rounding::kHalfUp;
  std::vector<Price> prices;

  const Price* find(std::string_view event_type) const;
};

// The seed's default plan: query, input_tokens and output_tokens (per 1,000), storage_gb.
PriceBook seed_price_book(Decimal per_query, Decimal per_1k_input_tokens, Decimal per_1k_output_tokens,
                          Decimal per_gb_storage);

}  // namespace meter::pricing
