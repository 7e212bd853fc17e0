#pragma once

// Adjustment notes (docs/corrections.md): a finalized invoice never changes. What changed in its
// month afterwards (a correction, a backfill, an event that arrived late) is issued as a credit
// note (the total went down) or a debit note, with its own number and each changed line's
// quantity and amount before and after; the next note starts from where the last one ended.

#include <map>
#include <optional>
#include <span>
#include <string>

#include "billing/invoice.h"
#include "core/decimal.h"
#include "core/error.h"
#include "credits/ledger.h"
#include "store/tenant_records.h"

namespace meter::billing {

// A month as billed so far: its finalized invoice, then every note issued for it, in order.
struct Billed {
  struct Line {
    Decimal quantity;
    Decimal amount;
  };
  std::string invoice_number;
  std::string currency;
  std::map<UsageKey, Line> lines;
  Decimal total;
  int notes = 0;
  // The credit each lot paid for each line (grant id, event type): the invoice's, less what
  // the notes gave back. Empty when the month had no credit.
  std::map<std::pair<std::string, std::string>, Decimal> credit;
};

Result<Billed> billed_so_far(const store::FinalizedInvoice& invoice,
                             std::span<const store::AdjustmentNote> notes);

// The next note for the month: what `now` (its invoice built today) changes against `billed`;
// nullopt when no line's quantity or amount and not the total changed. `carried_to`: the month
// (YYYYMM) whose invoice carries it as a line, or 0. In a month that credit paid for, a line
// that went down gives back to its lots what they paid beyond what it now costs: listed in
// `restored` (and in the note), and taken off what the note changes in money.
std::optional<store::AdjustmentNote> adjustment_note(const Billed& billed, const Invoice& now,
                                                     Timestamp issued_at, int carried_to,
                                                     std::vector<credits::Restored>& restored);

// The first row of every note's CSV (a billing run writes it once above all notes' rows).
std::string adjustment_csv_header();

}  // namespace meter::billing
