#include "billing/adjustment.h"

#include <fmt/format.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "billing/export.h"
#include "credits/ledger.h"

namespace meter::billing {
namespace {

// A decimal string member of a stored document; an error names the document.
Result<Decimal> decimal_at(const rapidjson::Value& object, const char* key, std::string_view what) {
  if (!object.HasMember(key) || !object[key].IsString())
    return fail(Error::internal(fmt::format("{} has no {}", what, key)));
  auto d = Decimal::parse(object[key].GetString());
  if (!d) return fail(Error::internal(fmt::format("{} has a malformed {}", what, key)));
  return *d;
}

Result<rapidjson::Document> parse_stored(std::string_view json, std::string_view what) {
  rapidjson::Document doc;
  doc.Parse(json.data(), json.size());
  if (doc.HasParseError() || !doc.IsObject() || !doc.HasMember("line_items") || !doc["line_items"].IsArray())
    return fail(Error::internal(fmt::format("{} is not a stored invoice or note", what)));
  return doc;
}

UsageKey key_of(const rapidjson::Value& line) {
  return {line["event_type"].GetString(), line.HasMember("group") ? line["group"].GetString() : ""};
}

// Reads lines' `quantity_key` and `amount_key` into `billed`, over what was there.
Status read_lines(const rapidjson::Value& lines, const char* quantity_key, const char* amount_key,
                  std::string_view what, Billed& billed) {
  for (const auto& line : lines.GetArray()) {
    if (!line.IsObject() || !line.HasMember("event_type") || !line["event_type"].IsString())
      return fail(Error::internal(fmt::format("{} has a malformed line", what)));
    auto quantity = decimal_at(line, quantity_key, what);
    if (!quantity) return fail(quantity.error());
    auto amount = decimal_at(line, amount_key, what);
    if (!amount) return fail(amount.error());
    billed.lines[key_of(line)] = {*quantity, *amount};
  }
  return {};
}

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;
void put(Writer& w, std::string_view key, std::string_view value) {
  w.Key(key.data(), static_cast<rapidjson::SizeType>(key.size()));
  w.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
}

struct Change {
  UsageKey key;
  Billed::Line before, after;
};

Decimal minus(const Decimal& a, const Decimal& b) { return a.checked_sub(b).value_or(Decimal()); }

}  // namespace

Result<Billed> billed_so_far(const store::FinalizedInvoice& invoice,
                             std::span<const store::AdjustmentNote> notes) {
  std::string what = fmt::format("the finalized invoice of {} for {}", invoice.tenant_id, invoice.month);
  auto doc = parse_stored(invoice.json, what);
  if (!doc) return fail(doc.error());
  Billed billed;
  billed.invoice_number = (*doc)["invoice_number"].GetString();
  billed.currency = (*doc)["currency"].GetString();
  if (auto s = read_lines((*doc)["line_items"], "quantity", "amount", what, billed); !s)
    return fail(s.error());
  auto total = decimal_at(*doc, "total", what);
  if (!total) return fail(total.error());
  billed.total = *total;
  auto credit = [&](const rapidjson::Value& list, const char* amount_key, bool add,
                    std::string_view from) -> Status {
    for (const auto& a : list.GetArray()) {
      auto amount = decimal_at(a, amount_key, from);
      if (!amount) return fail(amount.error());
      Decimal& sum = billed.credit[{a["grant_id"].GetString(), a["event_type"].GetString()}];
      sum = add ? sum.checked_add(*amount).value_or(sum) : minus(sum, *amount);
    }
    return {};
  };
  if (doc->HasMember("credits")) {
    if (auto s = credit((*doc)["credits"]["applied"], "amount", true, what); !s) return fail(s.error());
  }
  for (const auto& note : notes) {
    auto n = parse_stored(note.json, note.number);
    if (!n) return fail(n.error());
    if (auto s = read_lines((*n)["line_items"], "quantity_after", "amount_after", note.number, billed); !s)
      return fail(s.error());
    auto after = decimal_at(*n, "total_after", note.number);
    if (!after) return fail(after.error());
    billed.total = *after;
    if (n->HasMember("credits_restored")) {
      if (auto s = credit((*n)["credits_restored"], "amount", false, note.number); !s) return fail(s.error());
    }
    ++billed.notes;
  }
  return billed;
}

std::optional<store::AdjustmentNote> adjustment_note(const Billed& billed, const Invoice& now,
                                                     Timestamp issued_at, int carried_to,
                                                     std::vector<credits::Restored>& restored) {
  // What each lot paid for each line now, against what it paid as billed: the difference
  // goes back to it. The minimum's adjustment is not a line of usage: it gives nothing back.
  restored.clear();
  Decimal restored_total;
  for (const auto& [key, paid] : billed.credit) {
    if (key.second == credits::kMinimumLine) continue;
    Decimal now_paid;
    if (now.credits) {
      for (const auto& a : now.credits->applied)
        if (a.grant_id == key.first && a.event_type == key.second)
          now_paid = now_paid.checked_add(a.applied).value_or(now_paid);
    }
    Decimal back = minus(paid, now_paid);
    if (back <= Decimal()) continue;
    restored.push_back({key.first, key.second, back});
    restored_total = restored_total.checked_add(back).value_or(restored_total);
  }
  std::map<UsageKey, Billed::Line> current;
  for (const auto& line : now.lines)
    current[{line.event_type, line.group}] = {line.charge.quantity, line.charge.amount};
  std::vector<Change> changes;
  auto compare = [&](const UsageKey& key) {
    auto b = billed.lines.find(key);
    auto c = current.find(key);
    Billed::Line before = b == billed.lines.end() ? Billed::Line{} : b->second;
    Billed::Line after = c == current.end() ? Billed::Line{} : c->second;
    if (before.quantity != after.quantity || before.amount != after.amount)
      changes.push_back({key, before, after});
  };
  for (const auto& [key, line] : billed.lines) compare(key);
  for (const auto& [key, line] : current) {
    if (!billed.lines.contains(key)) compare(key);
  }
  if (changes.empty() && billed.total == now.total) return std::nullopt;
  std::sort(changes.begin(), changes.end(), [](const Change& a, const Change& b) { return a.key < b.key; });

  store::AdjustmentNote note;
  note.tenant_id = now.tenant_id;
  note.month = now.year * 100 + now.month;
  note.sequence = billed.notes + 1;
  Decimal change = minus(now.total, billed.total);
  bool credit = change.is_negative();
  note.number = fmt::format("{}-{}{}", billed.invoice_number, credit ? "CN" : "DN", note.sequence);
  note.issued_at = issued_at;
  // What it changes in money: the total's change, less the credit it gives back.
  Decimal due_change = change.checked_add(restored_total).value_or(change);
  note.total_change = due_change.to_string();
  note.carried_to = carried_to;
  std::string carried =
      carried_to == 0 ? "" : fmt::format("{:04d}-{:02d}", carried_to / 100, carried_to % 100);
  std::string kind = credit ? "credit_note" : "debit_note";

  rapidjson::StringBuffer buffer;
  Writer w(buffer);
  w.StartObject();
  put(w, "number", note.number);
  put(w, "kind", kind);
  put(w, "invoice_number", billed.invoice_number);
  put(w, "tenant_id", note.tenant_id);
  w.Key("year");
  w.Int(now.year);
  w.Key("month");
  w.Int(now.month);
  w.Key("sequence");
  w.Int(note.sequence);
  put(w, "currency", billed.currency);
  put(w, "issued_at", format_rfc3339(issued_at));
  w.Key("line_items");
  w.StartArray();
  std::string head = fmt::format("{},{},{},{},{}-{:02},{}", note.number, kind, billed.invoice_number,
                                 csv_field(note.tenant_id), now.year, now.month, billed.currency);
  std::string csv = adjustment_csv_header();
  for (const Change& c : changes) {
    Decimal quantity_change = minus(c.after.quantity, c.before.quantity);
    Decimal amount_change = minus(c.after.amount, c.before.amount);
    w.StartObject();
    put(w, "event_type", c.key.event_type);
    if (!c.key.group.empty()) put(w, "group", c.key.group);
    put(w, "quantity_before", c.before.quantity.to_string());
    put(w, "quantity_after", c.after.quantity.to_string());
    put(w, "quantity_change", quantity_change.to_string());
    put(w, "amount_before", c.before.amount.to_string());
    put(w, "amount_after", c.after.amount.to_string());
    put(w, "amount_change", amount_change.to_string());
    w.EndObject();
    csv += fmt::format("{},{},{},{},{},{},{},{},{},{},{}\r\n", head, csv_field(c.key.event_type),
                       csv_field(c.key.group), c.before.quantity.to_string(), c.after.quantity.to_string(),
                       quantity_change.to_string(), c.before.amount.to_string(), c.after.amount.to_string(),
                       amount_change.to_string(), format_rfc3339(issued_at), carried);
  }
  w.EndArray();
  put(w, "total_before", billed.total.to_string());
  put(w, "total_after", now.total.to_string());
  put(w, "total_change", change.to_string());
  if (!billed.credit.empty()) {  // absent otherwise: notes of months without credit keep their form
    w.Key("credits_restored");
    w.StartArray();
    for (const auto& r : restored) {
      w.StartObject();
      put(w, "grant_id", r.grant_id);
      put(w, "event_type", r.event_type);
      put(w, "amount", r.amount.to_string());
      w.EndObject();
    }
    w.EndArray();
    put(w, "credit_restored", restored_total.to_string());
    put(w, "amount_due_change", due_change.to_string());
  }
  w.Key("carried_to");
  if (carried.empty())
    w.Null();
  else
    w.String(carried.c_str());
  w.EndObject();
  csv += fmt::format("{},total,,,,,{},{},{},{},{}\r\n", head, billed.total.to_string(), now.total.to_string(),
                     change.to_string(), format_rfc3339(issued_at), carried);
  note.json = std::string(buffer.GetString(), buffer.GetSize());
  note.csv = std::move(csv);
  return note;
}

std::string adjustment_csv_header() {
  return "number,kind,invoice_number,tenant_id,month,currency,event_type,group,quantity_before,quantity_"
         "after,"
         "quantity_change,amount_before,amount_after,amount_change,issued_at,carried_to\r\n";
}

}  // namespace meter::billing
