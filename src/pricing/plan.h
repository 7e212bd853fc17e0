#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/aggregation.h"
#include "core/decimal.h"
#include "core/error.h"
#include "pricing/money.h"

namespace meter::pricing {

// How a meter's monthly quantity becomes money.
enum class Model {
  kPerUnit,    // unit_price per `per` units, prorated (the Python service: 0.003 per 1,000 tokens)
  kPackage,    // unit_price per package of package_size units; a started package counts whole
               // unless package_prorate
  kGraduated,  // each tier's units at that tier's price (like income tax brackets)
  kVolume,     // all units at the price of the tier the total falls in
};
std::optional<Model> parse_model(std::string_view name);
std::string_view model_name(Model m);

// A tier covers quantities above the previous tier's up_to, up to and including its own
// (nullopt = no upper bound; only the last tier). unit_price is per `per` units of the meter;
// flat_fee is charged once when the quantity reaches into the tier (graduated) or falls in it
// (volume).
struct Tier {
  std::optional<Decimal> up_to;
  Decimal unit_price;
  Decimal flat_fee;
};

// The price of one meter (an event type) in a plan.
struct MeterPrice {
  std::string event_type;
  std::string description;
  Model model = Model::kPerUnit;
  Decimal unit_price;
  Decimal per = *Decimal::from_integer(1);  // per-unit and tier prices are per this many units
  Decimal package_size = *Decimal::from_integer(1);
  bool package_prorate = false;
  std::vector<Tier> tiers;  // graduated and volume
  Decimal free_allowance;   // units per month before anything is charged
};

// A named plan: prices per meter, the currency and how amounts are rounded, and a monthly
// minimum commitment (an invoice below it is topped up to it).
struct Plan {
  std::string name = "default";
  std::string currency = "USD";
  int minor_digits = 2;  // cents; each line is rounded once to this many digits
  Rounding rounding = Rounding::kHalfUp;
  Decimal minimum_commitment;
  // Adjustment notes of a finalized month (docs/corrections.md) are also carried as lines on
  // the next invoice not yet finalized, so the amount due includes them.
  bool adjustments_on_next_invoice = false;
  std::vector<MeterPrice> prices;

  const MeterPrice* find(std::string_view event_type) const;
};

// How a meter's month becomes one quantity (meterd.toml [meters.EVENT_TYPE]); event types
// without one are summed. Shared by every plan.
struct MeterDef {
  std::string event_type;
  Aggregation aggregation = Aggregation::kSum;
  std::string field;               // unique_count: the metadata field whose distinct values count
  std::string group_by;            // a metadata field: one invoice line per value (e.g. model)
  bool average_daily_max = false;  // gauges: the month's average of daily maxima (GB-months)

  // Whether the rollups (sums and counts per hour) answer it, or raw events must.
  bool needs_raw_events() const {
    return !group_by.empty() || average_daily_max ||
           (aggregation != Aggregation::kSum && aggregation != Aggregation::kCount);
  }
};
Status validate(const MeterDef& meter);

// Whether `name` can name a metadata field in meters and usage queries: 1 to 64 letters,
// digits, '_' and '-' (it is put into JSON paths and SQL).
bool is_metadata_field(std::string_view name);

// Checks a plan for what would make prices ambiguous: tiers out of order, a bounded last tier,
// negative prices, a zero `per` or package size. The message names the plan and meter.
Status validate(const Plan& plan);

// The storage_gb meter every price book has unless configured otherwise: a gauge, billed as
// the month's average of daily maxima (aggregation = "max", billing = "average_daily_max").
MeterDef storage_gauge_meter();

// The Python service's default plan (PRICE_* settings): query, input_tokens and output_tokens (per
// 1,000), storage_gb.
Plan price_settings_plan(Decimal per_query, Decimal per_1k_input_tokens, Decimal per_1k_output_tokens,
                         Decimal per_gb_storage);

}  // namespace meter::pricing
