#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "pricing/plan.h"

namespace meter::pricing {

// Every plan meterd knows (meterd.toml [plans.NAME]); tenants without a plan of their own are
// billed on default_plan. The Python service's PRICE_* settings are the plan named "default" unless
// meterd.toml defines one.
struct PriceBook {
  std::vector<Plan> plans;
  std::string default_plan = "default";
  std::vector<MeterDef> meters;  // [meters.EVENT_TYPE]; the rest are summed

  const MeterDef* meter(std::string_view event_type) const;

  const Plan* find(std::string_view name) const;
  // The plan called `name`, or the default plan when name is empty or unknown.
  const Plan& plan_or_default(std::string_view name) const;
};

// A book with just the Python service's default plan.
PriceBook price_settings_book(Decimal per_query, Decimal per_1k_input_tokens, Decimal per_1k_output_tokens,
                              Decimal per_gb_storage);

}  // namespace meter::pricing
