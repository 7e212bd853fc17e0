#pragma once

#include <toml++/toml.h>

#include <functional>
#include <string>
#include <string_view>

#include "config/config.h"
#include "pricing/price_book.h"

namespace meter::config {

// Reads meterd.toml's [plans.NAME] tables into config.plans. Numbers are read from their text
// in the file (`number_text`), so prices never pass through a double. Example:
//
//   [plans.pro]
//   currency = "USD"            # minor_digits = 2, rounding = "half_up" | "half_even" | "up" | "down"
//   minimum_commitment = 49
//   [plans.pro.meters.input_tokens]
//   model = "graduated"         # per_unit | package | graduated | volume
//   per = 1000
//   free_allowance = 100000
//   tiers = [{ up_to = 1000000, unit_price = 0.003 }, { unit_price = 0.002 }]
Status read_plans(Config& config, const toml::table& plans,
                  const std::function<std::string(const toml::node&)>& number_text, const std::string& file);

// Reads meterd.toml's [meters.EVENT_TYPE] tables into config.meters:
//
//   [meters.storage_gb]
//   aggregation = "max"             # sum (default) | count | max | min | latest | unique_count
//   billing = "average_daily_max"   # gauges: the month's average of daily maxima (GB-months)
//   [meters.active_users]
//   aggregation = "unique_count"
//   field = "user_id"               # the metadata field whose distinct values are counted
//   [meters.input_tokens]
//   group_by = "model"              # one invoice line per metadata "model" value
Status read_meters(Config& config, const toml::table& meters, const std::string& file);

// The price book the configuration describes: the Python service's PRICE_* plan as "default", then the
// [plans] tables (one named "default" replaces it). Fails when default_plan names no plan.
Result<pricing::PriceBook> price_book(const Config& config);

}  // namespace meter::config
