#pragma once

#include <absl/container/node_hash_map.h>

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/error.h"
#include "core/event.h"
#include "core/sync.h"
#include "credits/ledger.h"
#include "credits/rule.h"
#include "pricing/price_book.h"
#include "quota/zone.h"

namespace meter::credits {

// A tenant's credit as the writer sees it now.
struct Balance {
  std::string tenant_id;
  Enforcement enforcement = Enforcement::kOff;
  std::vector<LotRecord> lots;  // in burn order
  Decimal available;            // what lots usable at the asked instant still hold
};

// The balance of these lots (any order) at `at`.
Balance balance_of(std::string tenant, Enforcement enforcement, std::vector<LotRecord> lots, Timestamp at);

// What one more event would cost and whether it would be admitted (a dry run).
struct Quote {
  Decimal cost;       // the change in its line's exact price; negative gives credit back
  Decimal available;  // usable credit for it
  bool burns = true;  // false: its meter is not burnt as events arrive (settled on the invoice)
  bool admitted = true;
};

// Every tenant's prepaid credit: lots, and the lines of their months that credit pays for.
// Decides, in the ingest writer and in arrival order, what each event burns: the change its
// quantity makes to the exact (unrounded) price of its invoice line, taken from the usable lots
// in burn order (credits/lot.h), so the burns of a month add up to the line's exact price.
// In hard mode an event the usable credit cannot pay for is refused whole. Changes come from
// the writer thread (admission, and grants and voids between groups); reads from any thread.
class CreditBook {
 public:
  using PlanOf = std::function<const pricing::Plan&(std::string_view tenant)>;
  using ZoneOf = std::function<quota::Zone(std::string_view tenant)>;
  CreditBook(const pricing::PriceBook& prices, PlanOf plan_of, ZoneOf zone_of)
      : prices_(prices), plan_of_(std::move(plan_of)), zone_of_(std::move(zone_of)) {}

  quota::Zone zone_of(std::string_view tenant) const { return zone_of_(tenant); }
  // The seq the next lot takes: one above every lot's (lots are ordered by it last).
  std::int64_t next_seq() const;

  // Set-up, and changes between groups.
  void set_enforcement(std::string_view tenant, Enforcement e);
  void add_lot(LotRecord record);
  // Ends a lot, taking out what it still holds; nullopt when the tenant has no such lot.
  std::optional<LotRecord> void_lot(std::string_view tenant, std::string_view id, Timestamp at);
  // A tenant's plan changed: its lines are priced on the new plan from now on.
  void reprice(std::string_view tenant);
  // A top-up was paid for: its lot is credited and spendable. nullopt when there is no such lot.
  std::optional<LotRecord> activate(std::string_view tenant, std::string_view id);
  // Moves `amount` out of an ended lot into `into` (its rollover lot, added here).
  void roll_over(std::string_view tenant, std::string_view from, Decimal amount, LotRecord into);
  // The tenant's rules that watch its balance (low_balance, top_up), replacing the last ones.
  void set_rules(std::string_view tenant, std::vector<Rule> rules);

  // The tenant's credit as another writer left it (a shared ledger): its lots, enforcement
  // (nullopt: never set) and rules replace what is in memory, and its months' lines are loaded
  // afresh (month_to_load) before its next event. Writer thread, between groups.
  void reset_tenant(std::string_view tenant, std::optional<Enforcement> enforcement,
                    std::vector<LotRecord> lots, std::vector<Rule> rules);

  // The tenant-month's invoice is finalized: its credit is settled, and a late event dated in it
  // burns nothing (it is late usage, docs/credits.md).
  void close_month(std::string_view tenant, int month);

  // The local month (YYYYMM) of the event's line when its state is not in memory yet and must
  // be loaded (load_month) before admit(); nullopt otherwise.
  std::optional<int> month_to_load(const Event& e);
  // The tenant-month's usage so far (by event type: the invoice quantities) and what the
  // ledger says its lines burnt.
  void load_month(std::string_view tenant, int month, const std::map<std::string, Decimal>& quantities,
                  const MonthLedger& ledger);

  // Burns the event's cost, or says why it is refused (402). `also`, when given, is asked once
  // the credit would admit the event and before anything is burnt (another admission, e.g. a
  // quota): its refusal refuses the event with nothing burnt. Writer thread.
  using Also = std::function<std::optional<Error>()>;
  std::optional<Error> admit(const Event& e, const Also& also = {});
  // The group failed: everything admitted since the last settle() is undone.
  void rollback();
  // The group is stored: its burns stay.
  void settle();
  // The ledger entries of the group's burns, summed per lot and line: written with its events.
  std::vector<Entry> journal() const;

  // The thresholds the current group's burns took a tenant's balance (its credit usable at
  // `now`) below: each watching rule's (a top-up whose last lot still awaits payment is not
  // asked again), and zero (rule nullopt: depleted). Writer thread, before the group is stored.
  struct Crossing {
    std::string tenant_id;
    std::optional<Rule> rule;
    Decimal before, after;
  };
  std::vector<Crossing> crossings(Timestamp now) const;

  // Applies booked ledger entries that move credit outside a group (an invoice's true-up): each
  // lot's consumption and, when in memory, its line's burns. Writer thread, between groups.
  void apply(std::span<const Entry> entries);

  // Reads, from any thread.
  // For /metrics: events refused for credit, events stored that burnt or gave back credit, and
  // tenants with credit.
  std::uint64_t refused() const { return refused_.load(); }
  std::uint64_t burning_events() const { return burning_events_.load(); }
  std::size_t accounts() const;
  // The tenants that have credit settings, lots or rules; whether `tenant` is one.
  std::vector<std::string> tenants() const;
  bool has_credit(std::string_view tenant) const;
  std::optional<Balance> balance(std::string_view tenant, Timestamp at) const;
  std::optional<LotRecord> lot(std::string_view tenant, std::string_view id) const;
  // What an event of `quantity` at `at` would cost; its month must be loaded. Writer thread.
  Result<Quote> quote(const Event& e);

 private:
  struct LotState {
    LotRecord record;
    std::uint64_t saved = 0;  // the group generation its undo copy was taken in
  };
  struct TenantCredit {
    Enforcement enforcement = Enforcement::kSoft;
    std::vector<std::unique_ptr<LotState>> lots;  // in burn order
    std::vector<Rule> rules;                      // those that watch the balance
  };
  // How an event's meter is burnt: its price and how one event adds to its quantity; nullopt
  // when it is not burnt as events arrive (no price, or a meter read from raw events).
  struct Metered {
    const pricing::MeterPrice* price;
    bool counts;  // a count meter: each event adds 1 (a retraction -1)
  };
  struct LineKey {
    std::string tenant;
    std::string event_type;
    int month = 0;
    bool operator==(const LineKey&) const = default;
  };
  struct LineHash {
    std::size_t operator()(const LineKey& k) const;
  };
  struct Line {
    const LineKey* key = nullptr;
    Decimal quantity;                                  // the month's metered quantity
    Decimal priced;                                    // its exact price
    Decimal due;                                       // what no credit covered
    std::vector<std::pair<LotState*, Decimal>> burnt;  // credit each lot paid, in burn order
    // The current group's part of the above: its ledger entries.
    std::vector<std::pair<LotState*, Decimal>> group_burnt;
    Decimal group_due;
    std::uint64_t saved = 0;
  };
  // What the last event resolved to: a batch is mostly one tenant, meter and month, and those
  // skip every lookup. Forgotten whenever accounts, lots or plans change.
  struct Hot {
    std::string tenant, event_type;
    Timestamp from, to;  // the tenant's local month
    int month = 0;
    TenantCredit* account = nullptr;  // null: no credit (or off)
    std::optional<Metered> metered;
    Line* line = nullptr;  // null: month not loaded
    bool valid = false;
  };

  std::optional<Metered> metered(std::string_view tenant, std::string_view event_type) const;
  // The line's quantity and exact price with the event added, and the change: what it burns.
  struct Step {
    Decimal quantity, priced, cost;
  };
  static Result<Step> step(const Line& line, const Metered& m, const Event& e);
  // The event's tenant, meter and line, through the hot cache.
  const Hot& resolve(const Event& e) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  TenantCredit* account(std::string_view tenant) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  const TenantCredit* account(std::string_view tenant) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  Line& line_at(std::string_view tenant, const std::string& event_type, int month)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  // Records the pre-group values of a line and a lot, once per group, for rollback().
  void save(Line& line) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  void save(LotState& lot) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  void burn(Line& line, TenantCredit& acct, Timestamp at, Decimal cost) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  void give_back(Line& line, Decimal amount) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  static void add_to(std::vector<std::pair<LotState*, Decimal>>& sums, LotState* lot, Decimal amount);
  static Decimal usable(const TenantCredit& acct, std::string_view event_type, Timestamp at);
  // The lot's record as the current group found it.
  const LotRecord& before_group(const LotState& lot) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  LotState* find_lot(std::string_view tenant, std::string_view id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);
  void end_group() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mutex_);

  const pricing::PriceBook& prices_;
  PlanOf plan_of_;
  ZoneOf zone_of_;
  mutable Mutex mutex_;
  absl::node_hash_map<std::string, TenantCredit> accounts_ ABSL_GUARDED_BY(mutex_);
  std::unordered_map<LineKey, Line, LineHash> lines_ ABSL_GUARDED_BY(mutex_);
  std::set<std::pair<std::string, int>> loaded_ ABSL_GUARDED_BY(mutex_);  // (tenant, month)
  std::set<std::pair<std::string, int>> closed_ ABSL_GUARDED_BY(mutex_);  // finalized (tenant, month)
  std::int64_t max_seq_ ABSL_GUARDED_BY(mutex_) = 0;
  Hot hot_ ABSL_GUARDED_BY(mutex_);
  // The current group: undo copies (every line it touched is here once).
  std::uint64_t generation_ = 1;
  std::vector<std::pair<Line*, Line>> line_undo_ ABSL_GUARDED_BY(mutex_);
  std::vector<std::pair<LotState*, LotRecord>> lot_undo_ ABSL_GUARDED_BY(mutex_);
  std::uint64_t group_burning_ ABSL_GUARDED_BY(mutex_) = 0;
  std::atomic<std::uint64_t> refused_{0};
  std::atomic<std::uint64_t> burning_events_{0};
};

}  // namespace meter::credits
