#include "pricing/price_book.h"

namespace meter::pricing {

const Price* PriceBook::find(std::string_view event_type) const {
  for (const Price& p : prices) {
    if (p.event_type == event_type) return &p;
  }
  return nullptr;
}

PriceBook seed_price_book(Decimal per_query, Decimal per_1k_input_tokens, Decimal per_1k_output_tokens,
                          Decimal per_gb_storage) {
  Decimal one = *Decimal::from_integer(1);
  Decimal thousand = *Decimal::from_integer(1000);
  PriceBook book;
  book.prices = {
      {"query", "Queries", per_query, one},
      {"input_tokens", "Input tokens (per 1,000)", per_1k_input_tokens, thousand},
      {"output_tokens", "Output tokens (per 1,000)", per_1k_output_tokens, thousand},
      {"storage_gb", "Storage (per GB)", per_gb_storage, one},
  };
  return book;
}

}  // namespace meter::pricing
