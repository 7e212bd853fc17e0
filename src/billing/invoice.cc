#include "billing/invoice.h"

#include <date/date.h>
#include <fmt/format.h>

namespace meter::billing {

Result<std::pair<Timestamp, Timestamp>> month_bounds(int year, int month) {
  if (month < 1 || month > 12) return fail(Error::invalid("month", "month must be 1..12 (January is 1)"));
  if (year < 1970 || year > 9999) return fail(Error::invalid("year", "year must be 1970..9999"));
  date::year_month start_ym{date::year(year), date::month(static_cast<unsigned>(month))};
  auto start = date::sys_days(start_ym / 1);
  auto end = date::sys_days((start_ym + date::months(1)) / 1);
  return std::pair{Timestamp(start.time_since_epoch()), Timestamp(end.time_since_epoch())};
}

Result<std::pair<int, int>> parse_year_month(std::string_view text, std::string field) {
  auto digits = [&](std::size_t from, std::size_t n) {
    int v = 0;
    for (std::size_t i = from; i < from + n; ++i) {
      if (text[i] < '0' || text[i] > '9') return -1;
      v = v * 10 + (text[i] - '0');
    }
    return v;
  };
  int year = text.size() == 7 && text[4] == '-' ? digits(0, 4) : -1;
  int month = year >= 0 ? digits(5, 2) : -1;
  if (year < 1970 || month < 1 || month > 12) {
    return fail(Error::invalid(std::move(field),
                               fmt::format("'{}' is not a month: use YYYY-MM, e.g. 2026-11", text)));
  }
  return std::pair{year, month};
}

Result<Invoice> build_invoice(const std::string& tenant_id, const InvoicePeriod& period,
                              const std::map<std::string, Decimal>& usage, const pricing::Plan& plan) {
  MeterUsage keyed;
  for (const auto& [type, quantity] : usage) keyed.emplace(UsageKey{type, ""}, quantity);
  return build_invoice(tenant_id, period, keyed, plan);
}

Result<Invoice> build_invoice(const std::string& tenant_id, const InvoicePeriod& period,
                              const MeterUsage& usage, const pricing::Plan& plan) {
  Invoice invoice;
  invoice.number = fmt::format("INV-{:04d}{:02d}-{}", period.year, period.month, tenant_id);
  invoice.tenant_id = tenant_id;
  invoice.plan = plan.name;
  invoice.year = period.year;
  invoice.month = period.month;
  invoice.time_zone = period.time_zone;
  invoice.period_start = period.start;
  invoice.period_end = period.end;
  invoice.currency = plan.currency;
  invoice.minimum_commitment = plan.minimum_commitment;

  for (const auto& [key, quantity] : usage) {
    const std::string& event_type = key.event_type;
    InvoiceLine line;
    line.event_type = event_type;
    line.group = key.group;
    const pricing::MeterPrice* price = plan.find(event_type);
    if (price == nullptr) {
      line.description = event_type + " (no price in this plan)";
      line.priced = false;
      line.per = *Decimal::from_integer(1);
      line.charge.quantity = quantity;
    } else {
      auto charge = pricing::charge(*price, quantity, plan);
      if (!charge) return fail(charge.error());
      line.description = price->description.empty() ? event_type : price->description;
      if (!key.group.empty()) line.description += " (" + key.group + ")";
      line.unit_price = !charge->tiers.empty() ? charge->tiers.front().unit_price
                        : price->tiers.empty() ? price->unit_price
                                               : price->tiers.front().unit_price;
      line.per = price->model == pricing::Model::kPackage ? price->package_size : price->per;
      line.charge = std::move(*charge);
    }
    auto subtotal = invoice.subtotal.checked_add(line.charge.amount);
    if (!subtotal) return fail(Error::invalid("quantity", "the invoice total overflows"));
    invoice.subtotal = *subtotal;
    invoice.lines.push_back(std::move(line));
  }
  if (invoice.subtotal < plan.minimum_commitment) {
    invoice.minimum_adjustment = *plan.minimum_commitment.checked_sub(invoice.subtotal);
  }
  auto total = invoice.subtotal.checked_add(invoice.minimum_adjustment);
  if (!total) return fail(Error::invalid("quantity", "the invoice total overflows"));
  invoice.total = *total;
  return invoice;
}

}  // namespace meter::billing
