#include "config/plans.h"

#include <fmt/format.h>

#include <algorithm>

namespace meter::config {
namespace {

using pricing::MeterPrice;
using pricing::Plan;

class PlanReader {
 public:
  PlanReader(const std::function<std::string(const toml::node&)>& number_text, std::string where)
      : number_text_(number_text), where_(std::move(where)) {}

  Status error(const std::string& key, const std::string& what) const {
    return fail(Error::invalid("plans", fmt::format("{}: {}: {}", where_, key, what)));
  }

  Status decimal(const toml::table& t, std::string_view key, const std::string& path, Decimal& out) const {
    const toml::node* node = t.get(key);
    if (node == nullptr) return {};
    std::string text = node->is_string()                                   ? node->as_string()->get()
                       : (node->is_integer() || node->is_floating_point()) ? number_text_(*node)
                                                                           : std::string();
    auto d = Decimal::parse(text);
    if (!d || d->is_negative())
      return error(path + "." + std::string(key), "expected a decimal number such as 0.003");
    out = *d;
    return {};
  }

  Status text(const toml::table& t, std::string_view key, const std::string& path, std::string& out) const {
    const toml::node* node = t.get(key);
    if (node == nullptr) return {};
    if (!node->is_string()) return error(path + "." + std::string(key), "expected a string");
    out = node->as_string()->get();
    return {};
  }

  Status only(const toml::table& t, const std::string& path,
              std::initializer_list<std::string_view> keys) const {
    for (const auto& [k, v] : t) {
      if (std::find(keys.begin(), keys.end(), k.str()) == keys.end()) {
        return error(path + "." + std::string(k.str()), "unknown key");
      }
    }
    return {};
  }

  Status meter(const toml::table& t, const std::string& path, MeterPrice& m) const {
    if (auto s = only(t, path,
                      {"description", "model", "unit_price", "per", "package_size", "package_rounding",
                       "tiers", "free_allowance"});
        !s) {
      return s;
    }
    std::string model = "per_unit", rounding = "up";
    for (Status s :
         {text(t, "description", path, m.description), text(t, "model", path, model),
          decimal(t, "unit_price", path, m.unit_price), decimal(t, "per", path, m.per),
          decimal(t, "package_size", path, m.package_size), text(t, "package_rounding", path, rounding),
          decimal(t, "free_allowance", path, m.free_allowance)}) {
      if (!s) return s;
    }
    auto parsed = pricing::parse_model(model);
    if (!parsed) return error(path + ".model", "must be per_unit, package, graduated or volume");
    m.model = *parsed;
    if (rounding != "up" && rounding != "prorate")
      return error(path + ".package_rounding", "must be up or prorate");
    m.package_prorate = rounding == "prorate";
    if (const toml::node* tiers = t.get("tiers")) {
      const toml::array* list = tiers->as_array();
      if (list == nullptr) return error(path + ".tiers", "expected an array of tables");
      for (std::size_t i = 0; i < list->size(); ++i) {
        const toml::table* tier = list->get(i)->as_table();
        std::string tier_path = fmt::format("{}.tiers[{}]", path, i);
        if (tier == nullptr) return error(tier_path, "expected a table { up_to = ..., unit_price = ... }");
        if (auto s = only(*tier, tier_path, {"up_to", "unit_price", "flat_fee"}); !s) return s;
        pricing::Tier out;
        if (tier->get("up_to") != nullptr) {
          Decimal up_to;
          if (auto s = decimal(*tier, "up_to", tier_path, up_to); !s) return s;
          out.up_to = up_to;
        }
        for (Status s : {decimal(*tier, "unit_price", tier_path, out.unit_price),
                         decimal(*tier, "flat_fee", tier_path, out.flat_fee)}) {
          if (!s) return s;
        }
        m.tiers.push_back(out);
      }
    }
    return {};
  }

  Status plan(const toml::table& t, const std::string& path, Plan& p) const {
    if (auto s = only(t, path,
                      {"currency", "minor_digits", "rounding", "minimum_commitment",
                       "adjustments_on_next_invoice", "meters"});
        !s)
      return s;
    if (const toml::node* carry = t.get("adjustments_on_next_invoice")) {
      if (!carry->is_boolean()) return error(path + ".adjustments_on_next_invoice", "expected true or false");
      p.adjustments_on_next_invoice = carry->as_boolean()->get();
    }
    std::string rounding = "half_up";
    for (Status s : {text(t, "currency", path, p.currency), text(t, "rounding", path, rounding),
                     decimal(t, "minimum_commitment", path, p.minimum_commitment)}) {
      if (!s) return s;
    }
    if (const toml::node* digits = t.get("minor_digits")) {
      if (!digits->is_integer()) return error(path + ".minor_digits", "expected a whole number 0..6");
      p.minor_digits = static_cast<int>(digits->as_integer()->get());
    }
    if (rounding == "half_up")
      p.rounding = pricing::Rounding::kHalfUp;
    else if (rounding == "half_even")
      p.rounding = pricing::Rounding::kHalfEven;
    else if (rounding == "up")
      p.rounding = pricing::Rounding::kUp;
    else if (rounding == "down")
      p.rounding = pricing::Rounding::kDown;
    else
      return error(path + ".rounding", "must be half_up, half_even, up or down");
    if (const toml::node* meters = t.get("meters")) {
      if (!meters->is_table())
        return error(path + ".meters", "expected tables [" + path + ".meters.EVENT_TYPE]");
      for (const auto& [name, node] : *meters->as_table()) {
        std::string meter_path = path + ".meters." + std::string(name.str());
        if (!node.is_table()) return error(meter_path, "expected a table");
        MeterPrice m;
        m.event_type = std::string(name.str());
        if (auto s = meter(*node.as_table(), meter_path, m); !s) return s;
        p.prices.push_back(std::move(m));
      }
    }
    return pricing::validate(p);
  }

 private:
  const std::function<std::string(const toml::node&)>& number_text_;
  std::string where_;
};

}  // namespace

Status read_plans(Config& config, const toml::table& plans,
                  const std::function<std::string(const toml::node&)>& number_text, const std::string& file) {
  PlanReader reader(number_text, file);
  config.plans.clear();
  for (const auto& [name, node] : plans) {
    std::string path = "plans." + std::string(name.str());
    if (!node.is_table()) return reader.error(path, "expected a table [" + path + "]");
    Plan p;
    p.name = std::string(name.str());
    if (auto s = reader.plan(*node.as_table(), path, p); !s) return s;
    config.plans.push_back(std::move(p));
  }
  return {};
}

Status read_meters(Config& config, const toml::table& meters, const std::string& file) {
  std::function<std::string(const toml::node&)> no_numbers = [](const toml::node&) { return std::string(); };
  PlanReader reader(no_numbers, file);
  config.meters.clear();
  for (const auto& [name, node] : meters) {
    std::string path = "meters." + std::string(name.str());
    if (!node.is_table()) return reader.error(path, "expected a table [" + path + "]");
    const toml::table& t = *node.as_table();
    if (auto s = reader.only(t, path, {"aggregation", "field", "group_by", "billing"}); !s) return s;
    pricing::MeterDef m;
    m.event_type = std::string(name.str());
    std::string aggregation = "sum", billing = "total";
    for (Status s :
         {reader.text(t, "aggregation", path, aggregation), reader.text(t, "field", path, m.field),
          reader.text(t, "group_by", path, m.group_by), reader.text(t, "billing", path, billing)}) {
      if (!s) return s;
    }
    auto parsed = parse_aggregation(aggregation);
    if (!parsed)
      return reader.error(path + ".aggregation", "must be sum, count, max, min, latest or unique_count");
    m.aggregation = *parsed;
    if (billing != "total" && billing != "average_daily_max") {
      return reader.error(path + ".billing", "must be total or average_daily_max");
    }
    m.average_daily_max = billing == "average_daily_max";
    if (auto s = pricing::validate(m); !s) return s;
    config.meters.push_back(std::move(m));
  }
  return {};
}

Result<pricing::PriceBook> price_book(const Config& c) {
  pricing::PriceBook book;
  book.plans.push_back(pricing::price_settings_plan(c.price_per_query, c.price_per_1k_input_tokens,
                                                    c.price_per_1k_output_tokens, c.price_per_gb_storage));
  for (const Plan& p : c.plans) {
    if (p.name == "default") {
      book.plans.front() = p;
    } else {
      book.plans.push_back(p);
    }
  }
  book.default_plan = c.default_plan;
  book.meters = c.meters;
  // storage_gb is a level, not a flow: unless meterd.toml says otherwise it is billed as the
  // month's average of daily maxima (GB-months), as quotas already read it (its largest value).
  if (book.meter("storage_gb") == nullptr) book.meters.push_back(pricing::storage_gauge_meter());
  if (book.find(c.default_plan) == nullptr) {
    return fail(Error::invalid(
        "billing.default_plan",
        fmt::format("billing.default_plan '{}' is not a plan in meterd.toml", c.default_plan)));
  }
  return book;
}

}  // namespace meter::config
