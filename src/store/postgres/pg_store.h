#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <utility>

#include "core/clock.h"
#include "store/credit_ledger.h"
#include "store/event_log.h"
#include "store/postgres/connection.h"
#include "store/tenant_records.h"
#include "store/usage_store.h"

namespace meter::store::postgres {

struct PgOptions {
  std::string url;                                               // libpq URL or connection string
  std::chrono::milliseconds timeout = std::chrono::seconds(10);  // connect and each statement
  const Clock* clock = nullptr;  // stamps updated_at; nullptr: the system clock
  // A claimed id is forgotten this long after it was received (ingest.dedupe_window_days).
  std::chrono::milliseconds claim_window = std::chrono::days(42);
};

// Tenants' settings changed since a version, and the version they bring a node to.
struct SettingsChanges {
  std::int64_t version = 0;
  std::vector<std::pair<std::string, TenantSettings>> changed;
};

// The shared store: the event log, usage store and tenant records in one PostgreSQL database
// that several meterd nodes use at once (schema in schema.cc and docs/postgresql.md).
//
// append() stores a group in one transaction: the events are copied into a temporary table,
// their (tenant, id) claimed in event_ids (so an id another node stored is found there and
// reported, never stored twice; a plain insert first, under a savepoint, and ON CONFLICT only
// when one was claimed already), the fresh ones inserted into the monthly partitions and
// added to the three rollups. Every commit notifies the nodes' UsageCaches of its tenants. Keys are written
// in sorted order, so two nodes' groups lock rows in the same order and cannot deadlock. Claims older than
// the dedupe window are forgotten by append() itself, a bounded batch at a time, at most hourly on each node.
//
// Thread-safety: append() uses the writer connection and is called by one thread at a time;
// everything else borrows a pooled connection. Connections that break are replaced on their
// next use, so a restarted or failed-over server is picked up without a restart.
class PgStore final : public EventLog, public UsageStore, public TenantRecords, public CreditLedger {
 public:
  // Connects and migrates the schema; fails when the server cannot be reached.
  static Result<std::unique_ptr<PgStore>> open(PgOptions options);

  // EventLog
  Result<AlreadyStored> append(std::span<const Event> events) override { return append_group(events, false); }
  Result<AlreadyStored> append_whole(std::span<const Event> events) override {
    return append_group(events, true);
  }
  // The ids are claimed in PostgreSQL itself: nothing needs remembering in memory.
  Status scan_recent_ids(Timestamp, Timestamp, const RowCursor*, const IdVisitor&) override { return {}; }
  Result<RowCursor> row_cursor() override { return RowCursor{}; }
  Result<std::int64_t> rows_after(const RowCursor&) override { return std::int64_t{0}; }
  Status scan_for_quotas(Timestamp since, const TypeFilter& summable, const EventVisitor& visit) override;
  // An advisory lock per tenant in the group's transaction (begun here; append() ends it).
  Status lock_tenants(std::span<const std::string> tenants) override;
  void unlock_tenants() override { abort_group(); }
  bool take_redo() override { return std::exchange(redo_, false); }
  // From the quarter-hour rollups, in the same transaction.
  Result<std::optional<Decimal>> locked_usage(std::string_view tenant, const UsageWindow& window) override;
  // Corrections (corrections.cc).
  Result<std::vector<Found>> find_events(std::string_view tenant_id,
                                         std::span<const std::string> ids) override;
  Result<std::vector<Event>> live_events(std::string_view tenant_id, std::string_view event_type,
                                         Timestamp from, Timestamp to, std::size_t limit) override;
  Result<std::vector<Event>> retractions(std::string_view tenant_id, Timestamp from, Timestamp to,
                                         std::size_t limit) override;

  // UsageStore (usage.cc)
  std::string_view name() const override { return "postgresql"; }
  Result<std::vector<UsageRow>> usage(const UsageQuery& query) override;
  Result<std::vector<UsageRow>> raw_totals(std::string_view tenant_id, Timestamp from, Timestamp to) override;
  Result<std::vector<AggregateRow>> aggregate_raw(const AggregateQuery& query) override;
  Result<std::vector<std::string>> tenants(Timestamp from, Timestamp to) override;
  Result<std::vector<RollupCheck>> check_rollups(int month, std::string_view tenant_id) override;
  Result<std::vector<int>> months() override;
  Status drop_month(int month) override;

  // TenantRecords (tenant_records.cc)
  Result<TenantSettings> update_settings(std::string_view tenant_id, const SettingsChange& change) override;
  Result<std::optional<TenantSettings>> settings(std::string_view tenant_id) override;
  Result<std::vector<std::pair<std::string, TenantSettings>>> list_settings() override;
  Status put_finalized_invoice(const FinalizedInvoice& invoice) override;
  Result<std::optional<FinalizedInvoice>> finalized_invoice(std::string_view tenant_id, int month) override;
  Result<std::vector<FinalizedInvoice>> finalized_invoices(int month) override;
  Result<std::optional<std::int64_t>> record_alert(const quota::Alert& alert) override;
  Status update_alert_delivery(std::int64_t id, std::string_view delivery, int attempts) override;
  Result<std::vector<AlertRecord>> list_alerts(std::string_view tenant_id, std::size_t limit,
                                               bool pending_only) override;
  Status put_adjustment(const AdjustmentNote& note) override;
  Result<std::vector<AdjustmentNote>> adjustments(std::string_view tenant_id, int month) override;
  Result<std::vector<AdjustmentNote>> adjustments_carried_to(std::string_view tenant_id, int month) override;

  // CreditLedger (credits.cc, credit_rules.cc), shared by every node.
  Result<credits::Lot> put_grant(credits::Lot lot) override;
  Result<std::optional<credits::LotRecord>> grant_by_key(std::string_view tenant,
                                                         std::string_view idempotency_key) override;
  Status put_void(const credits::LotRecord& record) override;
  Status put_activation(const credits::Lot& lot, Timestamp at) override;
  Result<bool> put_rollover(const credits::Lot& from, Decimal amount, credits::Lot& into) override;
  Result<std::vector<credits::LotRecord>> grants(std::string_view tenant) override;
  Status put_enforcement(std::string_view tenant, credits::Enforcement e) override;
  Result<std::vector<std::pair<std::string, credits::Enforcement>>> enforcements() override;
  Result<std::optional<credits::Enforcement>> enforcement(std::string_view tenant) override;
  Result<bool> put_trueup(std::string_view tenant, int month,
                          std::span<const credits::Entry> entries) override;
  Result<bool> put_restore(std::string_view tenant, std::string_view note,
                           std::span<const credits::Entry> entries) override;
  Result<credits::MonthLedger> month_ledger(std::string_view tenant, int month) override;
  Result<Decimal> consumed_between(std::string_view tenant, Timestamp from, Timestamp to) override;
  Result<std::vector<credits::Transaction>> transactions(std::string_view tenant, std::int64_t after,
                                                         std::size_t limit) override;
  Status put_rule(const credits::Rule& rule) override;
  Result<bool> delete_rule(std::string_view tenant, std::string_view id, Timestamp at) override;
  Result<std::vector<credits::Rule>> rules(std::string_view tenant) override;
  Result<std::optional<credits::Rule>> rule_by_key(std::string_view tenant, std::string_view key) override;
  Result<bool> put_notice(const credits::Notice& notice) override;
  Status update_notice_delivery(std::string_view id, std::string_view delivery, int attempts) override;
  Result<std::vector<credits::NoticeRecord>> notices(std::string_view tenant, std::size_t limit,
                                                     bool pending_only) override;
  // Written by the next append(), in its transaction (writer thread).
  void stage(StagedCredit staged) override;
  bool shared() const override { return true; }
  Result<GroupSync> sync_group(std::span<const std::string> tenants,
                               std::span<const Event* const> events) override;
  Result<std::int64_t> lot_seq(std::int64_t proposed) override;
  Result<Changes> changed_since(std::int64_t seen) override;

  // What a tenant stored in each window, by every node, in one query.
  Result<std::vector<Decimal>> stored_usage(std::string_view tenant, std::span<const UsageWindow> windows);

  // What changed through any node since `seen` (0: every tenant's settings), for the nodes to
  // follow.
  Result<SettingsChanges> settings_changed_since(std::int64_t seen);

 private:
  explicit PgStore(PgOptions options);
  Result<Connection*> writer();  // reconnected when broken (never inside a group)
  Status begin_group();          // BEGIN on the writer, unless a group is open
  void abort_group();            // ROLLBACK of the open group, if any
  Result<AlreadyStored> append_group(std::span<const Event> events, bool whole);
  // Forgets up to `limit` claims of ids received before `cutoff`; returns how many it forgot.
  Result<std::int64_t> expire_ids(Connection& db, Timestamp cutoff, std::int64_t limit);
  void expire_claims(Connection& db);
  std::int64_t now_ms() const;
  // Runs `body` in a transaction that first counts a change of the tenant's credit and last
  // tells the other nodes (schema.cc, version 4).
  template <class T>
  Result<T> credit_change(std::string_view tenant, const std::function<Result<T>(Connection&)>& body);
  // A ledger transaction booked once per (tenant, kind, ref): true-ups and restores.
  Result<bool> put_keyed(std::string_view tenant, std::string_view kind, const std::string& ref,
                         std::span<const credits::Entry> entries);
  // The staged top-up lots and notices, on the writer in the group's transaction; returns the
  // staged burns as statements, sent with the group's append (no round trip of their own).
  Result<std::string> write_staged_credit(std::int64_t at_ms);

  PgOptions options_;
  ConnectionPool pool_;
  std::unique_ptr<Connection> writer_;  // append() only
  std::set<int> months_;                // partitions the writer knows exist
  Timestamp next_expiry_{};             // when append() next forgets claims past the window
  bool in_group_ = false;               // the writer's transaction is open (lock_tenants, append)
  StagedCredit staged_credit_;          // for the next append() (writer thread)
  // A group with credit burns found ids stored already: it is redone, and the next groups'
  // sync_group() asks which of their ids are stored (until one appends without a conflict).
  bool redo_ = false;
  bool recheck_ids_ = false;
  bool ids_checked_ = false;  // the group in flight's sync_group() asked
};

}  // namespace meter::store::postgres
