#include "pricing/price_book.h"

namespace meter::pricing {

const Plan* PriceBook::find(std::string_view name) const {
  for (const Plan& p : plans) {
    if (p.name == name) return &p;
  }
  return nullptr;
}

const MeterDef* PriceBook::meter(std::string_view event_type) const {
  for (const MeterDef& m : meters) {
    if (m.event_type == event_type) return &m;
  }
  return nullptr;
}

const Plan& PriceBook::plan_or_default(std::string_view name) const {
  if (const Plan* p = find(name); p != nullptr && !name.empty()) return *p;
  if (const Plan* p = find(default_plan)) return *p;
  return plans.front();  // a book always has at least the Python service's default plan
}

PriceBook price_settings_book(Decimal per_query, Decimal per_1k_input_tokens, Decimal per_1k_output_tokens,
                              Decimal per_gb_storage) {
  PriceBook book;
  book.plans.push_back(
      price_settings_plan(per_query, per_1k_input_tokens, per_1k_output_tokens, per_gb_storage));
  return book;
}

}  // namespace meter::pricing
