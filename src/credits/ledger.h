#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/decimal.h"
#include "core/time.h"
#include "credits/lot.h"

namespace meter::credits {

// How a tenant's credit meets its usage: hard refuses an event its usable credit cannot pay
// for (402), soft admits it and bills what the credit did not cover, off burns nothing as
// events arrive.
enum class Enforcement { kOff, kSoft, kHard };
std::optional<Enforcement> parse_enforcement(std::string_view name);
std::string_view enforcement_name(Enforcement e);

// The ledger's accounts (docs/credits.md). Every transaction's entries sum to zero.
enum class Account {
  kFunding,  // where granted credit came from (paid or promotional); negative
  kCredit,   // a lot: what the tenant may still spend from it
  kUsage,    // a month's invoice line (event type): the usage credit or the invoice paid for
  kDue,      // a line's usage no credit covered: billed on the invoice
  kVoided,   // credit a void took out of a lot
};
std::string_view account_name(Account a);
std::optional<Account> parse_account(std::string_view name);

// The line name under which credit pays a month's minimum commitment (the invoice's
// minimum_adjustment), booked with the finalized invoice's true-up.
inline constexpr std::string_view kMinimumLine = "minimum_adjustment";

// One entry of a ledger transaction. grant_id names the lot (kCredit, and the usage it paid
// for); month (local YYYYMM) and event_type name the line (kUsage, kDue, and the burns).
struct Entry {
  std::string tenant_id;
  Account account = Account::kCredit;
  std::string grant_id;
  int month = 0;
  std::string event_type;
  Decimal amount;
};

// A transaction as stored: what happened, when, and its entries.
struct Transaction {
  std::int64_t id = 0;
  std::string tenant_id;
  // grant, void, burn (a group of events' burns and returns), trueup, rollover (credit moved
  // from an ended lot into the next period's)
  std::string kind;
  Timestamp at;
  std::vector<Entry> entries;
};

// A lot as stored, with what its transactions took out of it so far.
struct LotRecord {
  Lot lot;
  Decimal consumed;  // burnt by usage, net of returns
  Decimal voided;
  Decimal rolled;  // moved into a rollover lot when its period ended
  // What it still holds; nothing while it awaits payment.
  Decimal remaining() const;
};

// Credit an adjustment note of a finalized month gives back to a lot: what its line no longer
// needs of what the lot paid (docs/credits.md, "Corrections").
struct Restored {
  std::string grant_id, event_type;
  Decimal amount;
};

// What the ledger says about one tenant-month's lines, for the writer's live state: the
// credit each lot burnt for each event type, and what no credit covered.
struct MonthLedger {
  std::map<std::pair<std::string, std::string>, Decimal> burnt;  // (grant id, event type)
  std::map<std::string, Decimal> due;                            // by event type
};

}  // namespace meter::credits
