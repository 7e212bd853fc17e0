#include "billing/invoicer.h"

#include <date/date.h>
#include <fmt/format.h>

#include "billing/adjustment.h"
#include "billing/credits_applied.h"
#include "billing/export.h"
#include "billing/gauge.h"

namespace meter::billing {
namespace {

using std::chrono::days;
using std::chrono::hours;

template <class Totals>
Status add_rows(Totals& totals, const std::vector<store::UsageRow>& rows) {
  for (const auto& r : rows) {
    auto& t = totals[r.event_type];
    auto sum = t.quantity.checked_add(r.quantity);
    if (!sum) return fail(Error::invalid("quantity", "the usage of " + r.event_type + " overflows"));
    t.quantity = *sum;
    t.events += r.events;
  }
  return {};
}

Timestamp ceil_to(Window w, Timestamp t) { return floor_to(w, t) == t ? t : next_window(w, t); }

}  // namespace

InvoicePeriod Invoicer::period(const std::string& tenant_id, int year, int month) const {
  const quota::Zone& zone = tenants_.get(tenant_id)->zone;
  // The 15th at noon UTC lies inside the local month in every zone.
  date::year_month_day mid{date::year(year), date::month(static_cast<unsigned>(month)), date::day(15)};
  Timestamp inside = Timestamp(date::sys_days(mid).time_since_epoch()) + hours(12);
  return {year, month, std::string(zone.name()), zone.period_start(quota::Period::kMonth, inside),
          zone.period_end(quota::Period::kMonth, inside)};
}

Result<MeterUsage> Invoicer::usage(const std::string& tenant_id, Timestamp from, Timestamp to,
                                   UsageSource source) {
  auto sums = summed_usage(tenant_id, from, to, source);
  if (!sums) return fail(sums.error());
  MeterUsage out;
  for (const auto& [type, total] : *sums) {
    const pricing::MeterDef* meter = book_.meter(type);
    if (meter == nullptr || !meter->needs_raw_events()) {  // sums and counts: the rollups have them
      bool count = meter != nullptr && meter->aggregation == Aggregation::kCount;
      out[{type, ""}] = count ? *Decimal::from_integer(total.events) : total.quantity;
      continue;
    }
    store::AggregateQuery q{tenant_id,
                            type,
                            from,
                            to,
                            meter->aggregation,
                            meter->field,
                            meter->group_by,
                            meter->average_daily_max};
    auto rows = usage_.aggregate_raw(q);
    if (!rows) return fail(rows.error());
    if (!meter->average_daily_max) {
      for (const auto& r : *rows) out[{type, r.group}] = r.value;
      continue;
    }
    std::map<std::string, std::vector<std::pair<Timestamp, Decimal>>> readings;  // per group
    for (const auto& r : *rows) readings[r.group].emplace_back(r.bucket, r.value);
    for (const auto& [group, list] : readings) {
      auto average = average_daily_max(list, tenants_.get(tenant_id)->zone, from, to);
      if (!average) return fail(average.error());
      out[{type, group}] = *average;
    }
  }
  return out;
}

Result<std::map<std::string, Invoicer::Total>> Invoicer::summed_usage(const std::string& tenant_id,
                                                                      Timestamp from, Timestamp to,
                                                                      UsageSource source) {
  std::map<std::string, Total> totals;
  auto add_raw = [&](Timestamp a, Timestamp b) -> Status {
    if (a >= b) return {};
    auto rows = usage_.raw_totals(tenant_id, a, b);
    if (!rows) return fail(rows.error());
    return add_rows(totals, *rows);
  };
  auto add_rollup = [&](Window w, Timestamp a, Timestamp b) -> Status {
    if (a >= b) return {};
    auto rows = usage_.usage({tenant_id, std::nullopt, a, b, w});
    if (!rows) return fail(rows.error());
    return add_rows(totals, *rows);
  };
  if (source == UsageSource::kRawEvents) {
    if (auto s = add_raw(from, to); !s) return fail(s.error());
    return totals;
  }
  // [from, to) = raw edge | hours | days | hours | raw edge
  Timestamp hour_from = ceil_to(Window::kHour, from), hour_to = floor_to(Window::kHour, to);
  if (hour_from >= hour_to) {
    if (auto s = add_raw(from, to); !s) return fail(s.error());  // less than an hour: any way is cheap
    return totals;
  }
  Timestamp day_from = ceil_to(Window::kDay, hour_from), day_to = floor_to(Window::kDay, hour_to);
  if (day_from >= day_to) day_from = day_to = hour_to;
  // Partial hours: quarter-hour rollups when the edge falls on a quarter hour (every zone's
  // midnight today does), raw events otherwise.
  auto add_edge = [&](Timestamp a, Timestamp b) -> Status {
    bool quarters = floor_to(Window::kQuarterHour, a) == a && floor_to(Window::kQuarterHour, b) == b;
    return quarters ? add_rollup(Window::kQuarterHour, a, b) : add_raw(a, b);
  };
  for (Status s : {add_edge(from, hour_from), add_rollup(Window::kHour, hour_from, day_from),
                   add_rollup(Window::kDay, day_from, day_to), add_rollup(Window::kHour, day_to, hour_to),
                   add_edge(hour_to, to)}) {
    if (!s) return fail(s.error());
  }
  return totals;
}

Result<Invoice> Invoicer::build(const std::string& tenant_id, int year, int month, UsageSource source) {
  if (auto bounds = month_bounds(year, month); !bounds) return fail(bounds.error());
  InvoicePeriod p = period(tenant_id, year, month);
  auto plan_name = records_.plan(tenant_id);
  if (!plan_name) return fail(plan_name.error());
  const pricing::Plan& plan = book_.plan_or_default(plan_name->value_or(""));
  auto totals = usage(tenant_id, p.start, p.end, source);
  if (!totals) return fail(totals.error());
  auto invoice = build_invoice(tenant_id, p, *totals, plan);
  if (!invoice) return invoice;
  invoice->source = source == UsageSource::kRollups ? "rollups" : "raw_events";
  auto carried = records_.adjustments_carried_to(tenant_id, year * 100 + month);
  if (!carried) return fail(carried.error());
  for (const auto& note : *carried) {
    auto amount = Decimal::parse(note.total_change);
    auto total = amount ? invoice->total.checked_add(*amount) : std::nullopt;
    if (!total) return fail(Error::internal("adjustment note " + note.number + " has a malformed total"));
    invoice->adjustments.push_back({note.number, note.month, *amount});
    invoice->total = *total;
  }
  if (credits_ != nullptr) {
    auto burnt = credits_->month_ledger(tenant_id, year * 100 + month);
    if (!burnt) return fail(burnt.error());
    if (!burnt->burnt.empty() || invoice->minimum_adjustment > Decimal()) {
      auto lots = credits_->grants(tenant_id);
      if (!lots) return fail(lots.error());
      invoice->credits = credits_applied(*invoice, *burnt, *lots, plan);
    }
  }
  return invoice;
}

Result<std::string> Invoicer::render(const std::string& tenant_id, int year, int month, bool csv) {
  auto snapshot = records_.finalized_invoice(tenant_id, year * 100 + month);
  if (!snapshot) return fail(snapshot.error());
  if (*snapshot) return csv ? (*snapshot)->csv : (*snapshot)->json;
  auto invoice = build(tenant_id, year, month);
  if (!invoice) return fail(invoice.error());
  return csv ? invoice_csv(*invoice) : invoice_json(*invoice);
}

Result<store::FinalizedInvoice> Invoicer::finalize(const std::string& tenant_id, int year, int month,
                                                   Timestamp now) {
  InvoicePeriod p = period(tenant_id, year, month);
  if (now < p.end) {
    return fail(Error{
        ErrorCode::kConflict,
        fmt::format("{:04d}-{:02d} has not ended for tenant {} (time zone {}); it can be finalized from {}",
                    year, month, tenant_id, p.time_zone, format_rfc3339(p.end)),
        "month"});
  }
  auto invoice = build(tenant_id, year, month);
  if (!invoice) return fail(invoice.error());
  invoice->finalized_at = now;
  store::FinalizedInvoice snapshot{tenant_id, year * 100 + month, invoice_json(*invoice),
                                   invoice_csv(*invoice), now};
  if (auto s = records_.put_finalized_invoice(snapshot); !s) return fail(s.error());
  if (on_finalized) {
    if (auto s = on_finalized(*invoice); !s) return fail(s.error());
  }
  return snapshot;
}

Result<int> Invoicer::carrying_month(const std::string& tenant_id, int year, int month) {
  auto plan_name = records_.plan(tenant_id);
  if (!plan_name) return fail(plan_name.error());
  if (!book_.plan_or_default(plan_name->value_or("")).adjustments_on_next_invoice) return 0;
  // The first later month not finalized; a tenant finalizes months in order, so this is near.
  for (int y = year, m = month;;) {
    if (++m == 13) m = 1, ++y;
    auto finalized = records_.finalized_invoice(tenant_id, y * 100 + m);
    if (!finalized) return fail(finalized.error());
    if (!*finalized) return y * 100 + m;
  }
}

Result<std::optional<store::AdjustmentNote>> Invoicer::adjust(const std::string& tenant_id, int year,
                                                              int month, Timestamp now) {
  MutexLock lock(adjusting_);
  for (int attempt = 0;; ++attempt) {
    auto finalized = records_.finalized_invoice(tenant_id, year * 100 + month);
    if (!finalized) return fail(finalized.error());
    if (!*finalized) return std::optional<store::AdjustmentNote>();
    auto notes = records_.adjustments(tenant_id, year * 100 + month);
    if (!notes) return fail(notes.error());
    auto billed = billed_so_far(**finalized, *notes);
    if (!billed) return fail(billed.error());
    auto invoice = build(tenant_id, year, month);
    if (!invoice) return fail(invoice.error());
    auto carried_to = carrying_month(tenant_id, year, month);
    if (!carried_to) return fail(carried_to.error());
    std::vector<credits::Restored> restored;
    auto note = adjustment_note(*billed, *invoice, now, *carried_to, restored);
    if (!note) return note;
    if (!restored.empty() && on_credit_restored) {
      if (auto s = on_credit_restored(tenant_id, note->month, note->number, restored); !s)
        return fail(s.error());
    }
    auto stored = records_.put_adjustment(*note);
    if (stored) return note;
    // Another node issued this sequence first: start again from its note.
    if (stored.error().code != ErrorCode::kConflict || attempt == 2) return fail(stored.error());
  }
}

}  // namespace meter::billing
