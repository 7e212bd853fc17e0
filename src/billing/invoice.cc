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

Result<Invoice> build_invoice(const std::string& tenant_id, int year, int month,
                              const std::map<std::string, Decimal>& usage, const pricing::PriceBook& book) {
  auto bounds = month_bounds(year, month);
  if (!bounds) return fail(bounds.error());
  Invoice invoice;
  invoice.number = fmt::format("INV-{:04d}{:02d}-{}", year, month, tenant_id);
  invoice.tenant_id = tenant_id;
  invoice.year = year;
  invoice.month = month;
  invoice.period_start = bounds->first;
  invoice.period_end = bounds->second;
  invoice.currency = book.currency;

  for (const auto& [event_type, quantity] : usage) {
    InvoiceLine line;
    line.event_type = event_type;
    line.quantity = quantity;
    if (const pricing::Price* price = book.find(event_type)) {
      auto amount = pricing::extend(quantity, price->unit_price, price->per, book.minor_digits, book.rounding);
      if (!amount) return fail(Error::invalid("quantity", "the amount for " + event_type + " overflows"));
      line.description = price->description;
      line.unit_price = price->unit_price;
      line.per = price->per;
      line.amount = *amount;
    } else {
      line.description = event_type + " (no price in this plan)";
      line.per = *Decimal::from_integer(1);
      line.priced = false;
    }
    auto subtotal = invoice.subtotal.checked_add(line.amount);
    if (!subtotal) return fail(Error::invalid("quantity", "the invoice total overflows"));
    invoice.subtotal = *subtotal;
    invoice.lines.push_back(std::move(line));
  }
  invoice.total = invoice.subtotal;
  return invoice;
}

}  // namespace meter::billing
