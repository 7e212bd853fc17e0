#include "billing/export.h"

#include <fmt/format.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace meter::billing {
namespace {

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

void str(Writer& w, std::string_view s) { w.String(s.data(), static_cast<rapidjson::SizeType>(s.size())); }
void dec(Writer& w, const Decimal& d) { str(w, d.to_string()); }
void key(Writer& w, std::string_view k) { w.Key(k.data(), static_cast<rapidjson::SizeType>(k.size())); }

}  // namespace

std::string csv_field(std::string_view s) {
  bool formula = !s.empty() && std::string_view("=+-@\t\r").find(s.front()) != std::string_view::npos;
  if (!formula && s.find_first_of(",\"\r\n") == std::string_view::npos) return std::string(s);
  std::string out = formula ? "\"'" : "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

namespace {

std::string tiers_text(const pricing::Charge& c) {
  std::string out;
  for (const auto& t : c.tiers) {
    if (!out.empty()) out += ';';
    out +=
        fmt::format("{}-{}@{}", t.from.to_string(), t.to ? t.to->to_string() : "", t.unit_price.to_string());
    if (!t.flat_fee.is_zero()) out += "+" + t.flat_fee.to_string();
  }
  return out;
}

}  // namespace

std::string invoice_json(const Invoice& inv) {
  rapidjson::StringBuffer buffer;
  Writer w(buffer);
  w.StartObject();
  key(w, "invoice_number");
  str(w, inv.number);
  key(w, "tenant_id");
  str(w, inv.tenant_id);
  key(w, "plan");
  str(w, inv.plan);
  key(w, "year");
  w.Int(inv.year);
  key(w, "month");
  w.Int(inv.month);
  key(w, "time_zone");
  str(w, inv.time_zone);
  key(w, "period_start");
  str(w, format_rfc3339(inv.period_start));
  key(w, "period_end");
  str(w, format_rfc3339(inv.period_end));
  key(w, "source");
  str(w, inv.source);
  key(w, "currency");
  str(w, inv.currency);
  key(w, "line_items");
  w.StartArray();
  for (const InvoiceLine& line : inv.lines) {
    const pricing::Charge& c = line.charge;
    w.StartObject();
    key(w, "event_type");
    str(w, line.event_type);
    if (!line.group.empty()) {
      key(w, "group");
      str(w, line.group);
    }
    key(w, "description");
    str(w, line.description);
    key(w, "quantity");
    dec(w, c.quantity);
    key(w, "unit_price");
    dec(w, line.unit_price);
    key(w, "per");
    dec(w, line.per);
    key(w, "amount");
    dec(w, c.amount);
    key(w, "priced");
    w.Bool(line.priced);
    if (line.priced) {
      key(w, "model");
      str(w, pricing::model_name(c.model));
      key(w, "free");
      dec(w, c.free);
      key(w, "billable");
      dec(w, c.billable);
      if (c.model == pricing::Model::kPackage) {
        key(w, "packages");
        dec(w, c.packages);
      }
      key(w, "tiers");
      w.StartArray();
      for (const auto& t : c.tiers) {
        w.StartObject();
        key(w, "from");
        dec(w, t.from);
        key(w, "to");
        if (t.to)
          dec(w, *t.to);
        else
          w.Null();
        key(w, "quantity");
        dec(w, t.quantity);
        key(w, "unit_price");
        dec(w, t.unit_price);
        key(w, "flat_fee");
        dec(w, t.flat_fee);
        w.EndObject();
      }
      w.EndArray();
    }
    w.EndObject();
  }
  w.EndArray();
  key(w, "subtotal");
  dec(w, inv.subtotal);
  key(w, "minimum_commitment");
  dec(w, inv.minimum_commitment);
  key(w, "minimum_adjustment");
  dec(w, inv.minimum_adjustment);
  if (!inv.adjustments.empty()) {  // absent otherwise: invoices without notes keep their bytes
    key(w, "adjustments");
    w.StartArray();
    for (const auto& a : inv.adjustments) {
      w.StartObject();
      key(w, "number");
      str(w, a.number);
      key(w, "month");
      str(w, fmt::format("{:04d}-{:02d}", a.month / 100, a.month % 100));
      key(w, "amount");
      dec(w, a.amount);
      w.EndObject();
    }
    w.EndArray();
  }
  key(w, "total");
  dec(w, inv.total);
  if (inv.credits) {  // absent otherwise: invoices without credit keep their bytes
    const InvoiceCredits& c = *inv.credits;
    key(w, "credits");
    w.StartObject();
    key(w, "applied");
    w.StartArray();
    for (const auto& a : c.applied) {
      w.StartObject();
      key(w, "event_type");
      str(w, a.event_type);
      key(w, "grant_id");
      str(w, a.grant_id);
      key(w, "name");
      str(w, a.name);
      key(w, "category");
      str(w, a.category);
      key(w, "burnt");
      dec(w, a.burnt);
      key(w, "amount");
      dec(w, a.applied);
      w.EndObject();
    }
    w.EndArray();
    key(w, "paid");
    dec(w, c.paid);
    key(w, "promotional");
    dec(w, c.promotional);
    key(w, "rounding");
    dec(w, c.rounding);
    key(w, "write_off");
    dec(w, c.write_off);
    key(w, "total");
    dec(w, c.total);
    w.EndObject();
    key(w, "amount_due");
    dec(w, c.amount_due);
  }
  key(w, "status");
  str(w, inv.finalized_at ? "finalized" : "draft");
  key(w, "finalized_at");
  if (inv.finalized_at)
    str(w, format_rfc3339(*inv.finalized_at));
  else
    w.Null();
  w.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize());
}

std::string invoice_csv(const Invoice& inv) {
  std::string out =
      "invoice_number,tenant_id,plan,period_start,period_end,currency,event_type,group,description,model,"
      "quantity,"
      "free,billable,unit_price,per,tiers,amount,status,finalized_at\r\n";
  std::string head =
      fmt::format("{},{},{},{},{},{}", csv_field(inv.number), csv_field(inv.tenant_id), csv_field(inv.plan),
                  format_rfc3339(inv.period_start), format_rfc3339(inv.period_end), csv_field(inv.currency));
  std::string tail = fmt::format("{},{}", inv.finalized_at ? "finalized" : "draft",
                                 inv.finalized_at ? format_rfc3339(*inv.finalized_at) : "");
  for (const InvoiceLine& line : inv.lines) {
    const pricing::Charge& c = line.charge;
    out += fmt::format("{},{},{},{},{},{},{},{},{},{},{},{},{}\r\n", head, csv_field(line.event_type),
                       csv_field(line.group), csv_field(line.description),
                       line.priced ? pricing::model_name(c.model) : "unpriced", c.quantity.to_string(),
                       c.free.to_string(), c.billable.to_string(), line.unit_price.to_string(),
                       line.per.to_string(), csv_field(tiers_text(c)), c.amount.to_string(), tail);
  }
  out += fmt::format("{},,,subtotal,,,,,,,,{},{}\r\n", head, inv.subtotal.to_string(), tail);
  out +=
      fmt::format("{},,,minimum_adjustment,,,,,,,,{},{}\r\n", head, inv.minimum_adjustment.to_string(), tail);
  for (const auto& a : inv.adjustments) {
    std::string description =
        fmt::format("adjustment {} of {:04d}-{:02d}", a.number, a.month / 100, a.month % 100);
    out += fmt::format("{},,,{},,,,,,,,{},{}\r\n", head, csv_field(description), a.amount.to_string(), tail);
  }
  out += fmt::format("{},,,total,,,,,,,,{},{}\r\n", head, inv.total.to_string(), tail);
  if (inv.credits) {
    for (const auto& a : inv.credits->applied) {
      std::string description =
          fmt::format("credit {} ({}, {})", a.name.empty() ? a.grant_id : a.name, a.category, a.grant_id);
      out += fmt::format("{},{},,{},,,,,,,,{},{}\r\n", head, csv_field(a.event_type), csv_field(description),
                         Decimal::from_units(-a.applied.units()).to_string(), tail);
    }
    if (!inv.credits->write_off.is_zero()) {
      out += fmt::format("{},,,rounding_write_off,,,,,,,,-{},{}\r\n", head,
                         inv.credits->write_off.to_string(), tail);
    }
    out += fmt::format("{},,,amount_due,,,,,,,,{},{}\r\n", head, inv.credits->amount_due.to_string(), tail);
  }
  return out;
}

std::string statement_csv(const credits::Statement& s, std::string_view tenant, std::string_view month,
                          std::string_view currency) {
  std::string out =
      "tenant_id,month,currency,grant_id,name,category,opening,granted,consumed,expired,rolled_over,voided,"
      "closing\r\n";
  auto row = [&](const credits::StatementLine& l) {
    out += fmt::format("{},{},{},{},{},{},{},{},{},{},{},{},{}\r\n", csv_field(tenant), month,
                       csv_field(currency), csv_field(l.grant_id), csv_field(l.name), l.category,
                       l.opening.to_string(), l.granted.to_string(), l.consumed.to_string(),
                       l.expired.to_string(), l.rolled_over.to_string(), l.voided.to_string(),
                       l.closing.to_string());
  };
  for (const auto& l : s.lots) row(l);
  credits::StatementLine total = s.total;
  total.grant_id = "total";
  row(total);
  return out;
}

std::string summary_csv_header() {
  return "invoice_number,tenant_id,plan,period_start,period_end,currency,subtotal,minimum_adjustment,"
         "total\r\n";
}

InvoiceSummary summary_of(const Invoice& inv) {
  return {inv.number,
          inv.tenant_id,
          inv.plan,
          format_rfc3339(inv.period_start),
          format_rfc3339(inv.period_end),
          inv.currency,
          inv.subtotal,
          inv.minimum_adjustment,
          inv.total};
}

Result<InvoiceSummary> summary_of_json(std::string_view text) {
  rapidjson::Document doc;
  doc.Parse(text.data(), text.size());
  auto bad = [] { return fail(Error::internal("a finalized invoice is not readable JSON")); };
  if (doc.HasParseError() || !doc.IsObject()) return bad();
  InvoiceSummary s;
  std::string* texts[] = {&s.number, &s.tenant_id, &s.plan, &s.period_start, &s.period_end, &s.currency};
  const char* text_keys[] = {"invoice_number", "tenant_id", "plan", "period_start", "period_end", "currency"};
  for (std::size_t i = 0; i < std::size(texts); ++i) {
    if (!doc.HasMember(text_keys[i]) || !doc[text_keys[i]].IsString()) return bad();
    *texts[i] = doc[text_keys[i]].GetString();
  }
  Decimal* amounts[] = {&s.subtotal, &s.minimum_adjustment, &s.total};
  const char* amount_keys[] = {"subtotal", "minimum_adjustment", "total"};
  for (std::size_t i = 0; i < std::size(amounts); ++i) {
    if (!doc.HasMember(amount_keys[i]) || !doc[amount_keys[i]].IsString()) return bad();
    auto d = Decimal::parse(doc[amount_keys[i]].GetString());
    if (!d) return bad();
    *amounts[i] = *d;
  }
  return s;
}

std::string summary_csv_row(const InvoiceSummary& s) {
  return fmt::format("{},{},{},{},{},{},{},{},{}\r\n", csv_field(s.number), csv_field(s.tenant_id),
                     csv_field(s.plan), s.period_start, s.period_end, csv_field(s.currency),
                     s.subtotal.to_string(), s.minimum_adjustment.to_string(), s.total.to_string());
}

}  // namespace meter::billing
