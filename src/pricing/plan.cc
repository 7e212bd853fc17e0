#include "pricing/plan.h"

#include <fmt/format.h>

#include <cctype>

namespace meter::pricing {

std::optional<Model> parse_model(std::string_view name) {
  if (name == "per_unit") return Model::kPerUnit;
  if (name == "package") return Model::kPackage;
  if (name == "graduated") return Model::kGraduated;
  if (name == "volume") return Model::kVolume;
  return std::nullopt;
}

std::string_view model_name(Model m) {
  switch (m) {
    case Model::kPerUnit:
      return "per_unit";
    case Model::kPackage:
      return "package";
    case Model::kGraduated:
      return "graduated";
    case Model::kVolume:
      return "volume";
  }
  return "per_unit";
}

const MeterPrice* Plan::find(std::string_view event_type) const {
  for (const MeterPrice& p : prices) {
    if (p.event_type == event_type) return &p;
  }
  return nullptr;
}

Status validate(const Plan& plan) {
  auto bad = [&](const MeterPrice& p, std::string what) {
    return fail(Error::invalid("plans", fmt::format("plan {}, meter {}: {}", plan.name, p.event_type, what)));
  };
  if (plan.minor_digits < 0 || plan.minor_digits > 6) {
    return fail(Error::invalid("plans", fmt::format("plan {}: minor_digits must be 0..6", plan.name)));
  }
  if (plan.minimum_commitment.is_negative()) {
    return fail(
        Error::invalid("plans", fmt::format("plan {}: minimum_commitment must not be negative", plan.name)));
  }
  for (const MeterPrice& p : plan.prices) {
    if (p.unit_price.is_negative() || p.free_allowance.is_negative())
      return bad(p, "prices and allowances must not be negative");
    if (p.per.is_zero() || p.per.is_negative()) return bad(p, "per must be positive");
    if (p.model == Model::kPackage && (p.package_size.is_zero() || p.package_size.is_negative())) {
      return bad(p, "package_size must be positive");
    }
    bool tiered = p.model == Model::kGraduated || p.model == Model::kVolume;
    if (tiered && p.tiers.empty()) return bad(p, "a tiered model needs tiers");
    if (!tiered && !p.tiers.empty()) return bad(p, "tiers are only for the graduated and volume models");
    std::optional<Decimal> previous;
    for (std::size_t i = 0; i < p.tiers.size(); ++i) {
      const Tier& t = p.tiers[i];
      if (t.unit_price.is_negative() || t.flat_fee.is_negative())
        return bad(p, "tier prices must not be negative");
      bool last = i + 1 == p.tiers.size();
      if (!last && !t.up_to)
        return bad(p, fmt::format("tier {} needs up_to (only the last tier is unbounded)", i + 1));
      if (last && t.up_to) return bad(p, "the last tier must have no up_to (it takes everything above)");
      if (t.up_to && (t.up_to->is_negative() || t.up_to->is_zero() || (previous && *t.up_to <= *previous))) {
        return bad(p, fmt::format("tier {}: up_to must be positive and above the tier before", i + 1));
      }
      if (t.up_to) previous = t.up_to;
    }
  }
  return {};
}

bool is_metadata_field(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-') return false;
  }
  return true;
}

Status validate(const MeterDef& m) {
  auto bad = [&](std::string what) {
    return fail(Error::invalid("meters", fmt::format("meter {}: {}", m.event_type, what)));
  };
  if (m.aggregation == Aggregation::kUniqueCount && !is_metadata_field(m.field)) {
    return bad("unique_count needs field = \"a metadata field\" (letters, digits, _ and -)");
  }
  if (m.aggregation != Aggregation::kUniqueCount && !m.field.empty())
    return bad("field is only for unique_count");
  if (!m.group_by.empty() && !is_metadata_field(m.group_by))
    return bad("group_by must be a metadata field name");
  if (m.average_daily_max && m.aggregation != Aggregation::kMax) {
    return bad("billing = \"average_daily_max\" needs aggregation = \"max\"");
  }
  return {};
}

MeterDef storage_gauge_meter() {
  MeterDef m;
  m.event_type = "storage_gb";
  m.aggregation = Aggregation::kMax;
  m.average_daily_max = true;
  return m;
}

Plan price_settings_plan(Decimal per_query, Decimal per_1k_input_tokens, Decimal per_1k_output_tokens,
                         Decimal per_gb_storage) {
  Decimal thousand = *Decimal::from_integer(1000);
  auto unit = [](std::string type, std::string description, Decimal price, Decimal per) {
    MeterPrice p;
    p.event_type = std::move(type);
    p.description = std::move(description);
    p.unit_price = price;
    p.per = per;
    return p;
  };
  Plan plan;
  plan.prices = {
      unit("query", "Queries", per_query, *Decimal::from_integer(1)),
      unit("input_tokens", "Input tokens (per 1,000)", per_1k_input_tokens, thousand),
      unit("output_tokens", "Output tokens (per 1,000)", per_1k_output_tokens, thousand),
      unit("storage_gb", "Storage (per GB)", per_gb_storage, *Decimal::from_integer(1)),
  };
  return plan;
}

}  // namespace meter::pricing
