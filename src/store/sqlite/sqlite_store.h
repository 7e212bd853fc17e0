#pragma once

#include <SQLiteCpp/SQLiteCpp.h>

#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <thread>
#include <vector>

#include "core/clock.h"
#include "core/sync.h"
#include "store/credit_ledger.h"
#include "store/event_log.h"
#include "store/ship_log.h"
#include "store/tenant_records.h"
#include "store/usage_store.h"

namespace meter::store::sqlite {

// SQL for a partition's event count, in which a retraction counts -1 (aggregate.cc).
extern const char* const kSignedCount;
// What keeps only a partition's live rows for a tenant (aggregate.cc).
std::string live_rows(SQLite::Database& db, const std::string& tenant, int month);

struct SqliteOptions {
  std::filesystem::path path;  // the database file; its folder is created if missing
  int cache_mib = 64;
  std::chrono::milliseconds checkpoint_interval = std::chrono::milliseconds(100);
  int wal_restart_frames = 2048;  // restart the WAL once it holds this many pages (8 MiB)
  const Clock* clock = nullptr;   // stamps settings' updated_at; nullptr: the system clock
};

// The embedded store: the event log, usage store and tenant records (and the durable log a
// shipper reads) in one SQLite file in WAL mode with synchronous=FULL, so a committed append is
// on disk. Raw events go to one table per UTC month (usage_events_YYYYMM, so
// retention drops whole months); usage_quarter_hour and usage_daily are updated in the same
// transaction and can never drift from the raw rows. The schema is in docs/storage.md.
//
// Thread-safety: append() uses the writer connection and must be called from one thread at
// a time; everything else borrows a connection from a pool and may run from any thread:
// queries, and the small writes of tenant records (settings, invoices, alerts), which
// SQLite's WAL serialises with the writer's transactions.
// A checkpointer thread, started by the constructor and joined by the destructor, copies the
// WAL into the database file in the background (PASSIVE), so commits do not pay for it; when
// the WAL has grown, it briefly holds writes (write_mutex_) to finish the copy and restart the
// WAL from its beginning, so the file stops growing and fdatasync overwrites, never extends.
class RollupUpsert;

class SqliteStore final : public EventLog,
                          public UsageStore,
                          public TenantRecords,
                          public ShipLog,
                          public CreditLedger {
 public:
  // Opens (creating or migrating) the database. Throws SQLite::Exception on failure: it runs
  // at start-up, where the caller turns it into a message and an exit code.
  explicit SqliteStore(SqliteOptions options);
  ~SqliteStore() override;

  // EventLog
  Result<AlreadyStored> append(std::span<const Event> events) override;
  Status scan_recent_ids(Timestamp received_since, Timestamp timestamp_since, const RowCursor* after,
                         const IdVisitor& visit) override;
  Result<RowCursor> row_cursor() override;
  Result<std::int64_t> rows_after(const RowCursor& cursor) override;
  Status scan_for_quotas(Timestamp since, const TypeFilter& summable, const EventVisitor& visit) override;

  // UsageStore (raw reads in aggregate.cc, reconciliation and retention in maintenance.cc)
  std::string_view name() const override { return "sqlite"; }
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
  Status put_adjustment(const AdjustmentNote& note) override;
  Result<std::vector<AdjustmentNote>> adjustments(std::string_view tenant_id, int month) override;
  Result<std::vector<AdjustmentNote>> adjustments_carried_to(std::string_view tenant_id, int month) override;
  Result<std::optional<std::int64_t>> record_alert(const quota::Alert& alert) override;
  Status update_alert_delivery(std::int64_t id, std::string_view delivery, int attempts) override;
  Result<std::vector<AlertRecord>> list_alerts(std::string_view tenant_id, std::size_t limit,
                                               bool pending_only) override;

  // ShipLog (ship_log.cc): this file is the durable log events wait in for a remote backend.
  Result<std::optional<Shipment>> next_shipment(std::size_t max_events,
                                                std::string_view new_batch_id) override;
  Status confirm_shipment(const Shipment& shipment) override;
  Result<std::optional<Shipment>> read_ahead(const Shipment& in_flight, std::size_t max_events,
                                             std::string_view new_batch_id) override;
  Status confirm_and_begin(const Shipment& done, const Shipment& next) override;
  Result<Backlog> backlog() override;

  // Corrections (corrections.cc).
  Result<std::vector<Found>> find_events(std::string_view tenant_id,
                                         std::span<const std::string> ids) override;
  Result<std::vector<Event>> live_events(std::string_view tenant_id, std::string_view event_type,
                                         Timestamp from, Timestamp to, std::size_t limit) override;
  Result<std::vector<Event>> retractions(std::string_view tenant_id, Timestamp from, Timestamp to,
                                         std::size_t limit) override;

  // CreditLedger (credits.cc).
  Result<credits::Lot> put_grant(credits::Lot lot) override;
  Result<std::optional<credits::LotRecord>> grant_by_key(std::string_view tenant,
                                                         std::string_view idempotency_key) override;
  Status put_void(const credits::LotRecord& record) override;
  Result<std::vector<credits::LotRecord>> grants(std::string_view tenant) override;
  Status put_enforcement(std::string_view tenant, credits::Enforcement e) override;
  Result<std::vector<std::pair<std::string, credits::Enforcement>>> enforcements() override;
  Result<std::optional<credits::Enforcement>> enforcement(std::string_view tenant) override;
  Result<bool> put_trueup(std::string_view tenant, int month,
                          std::span<const credits::Entry> entries) override;
  Result<bool> put_restore(std::string_view tenant, std::string_view note,
                           std::span<const credits::Entry> entries) override;
  Result<credits::MonthLedger> month_ledger(std::string_view tenant, int month) override;
  Result<std::vector<credits::Transaction>> transactions(std::string_view tenant, std::int64_t after,
                                                         std::size_t limit) override;
  Status put_activation(const credits::Lot& lot, Timestamp at) override;
  Result<bool> put_rollover(const credits::Lot& from, Decimal amount, credits::Lot& into) override;
  void stage(StagedCredit staged) override;
  Result<Decimal> consumed_between(std::string_view tenant, Timestamp from, Timestamp to) override;
  // Rules and notices (credit_rules.cc).
  Status put_rule(const credits::Rule& rule) override;
  Result<bool> delete_rule(std::string_view tenant, std::string_view id, Timestamp at) override;
  Result<std::vector<credits::Rule>> rules(std::string_view tenant) override;
  Result<std::optional<credits::Rule>> rule_by_key(std::string_view tenant, std::string_view key) override;
  Result<bool> put_notice(const credits::Notice& notice) override;
  Status update_notice_delivery(std::string_view id, std::string_view delivery, int attempts) override;
  Result<std::vector<credits::NoticeRecord>> notices(std::string_view tenant, std::size_t limit,
                                                     bool pending_only) override;

  // The months (YYYYMM) that have a raw-event table, oldest first. Throws on failure.
  std::vector<int> partitions();

 private:
  // A pooled connection on loan (reads, and tenant-record writes); goes back on destruction.
  class ConnectionLease {
   public:
    ConnectionLease(SqliteStore& store, std::unique_ptr<SQLite::Database> db)
        : store_(store), db_(std::move(db)) {}
    ConnectionLease(ConnectionLease&&) = default;
    ~ConnectionLease() {
      if (!db_) return;
      MutexLock lock(store_.connections_mutex_);
      store_.idle_connections_.push_back(std::move(db_));
    }
    SQLite::Database& operator*() { return *db_; }

   private:
    SqliteStore& store_;
    std::unique_ptr<SQLite::Database> db_;
  };

  // The row number of a month's last event (0 when it has none): rows are only ever appended.
  static std::int64_t last_rowid(SQLite::Database& db, int month);
  void record_retraction(const Event& e, const std::string& quantity);  // in append()
  static const char* credit_schema();
  // A ledger transaction booked once per (tenant, kind, ref): true-ups and restores.
  Result<bool> put_keyed(std::string_view tenant, std::string_view kind, const std::string& ref,
                         std::span<const credits::Entry> entries);
  static const char* credit_rules_schema();
  // The staged credit (burns, top-up lots, notices), in append()'s transaction.
  void write_staged_credit(std::int64_t at_ms) ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mutex_);
  Shipment next_run(SQLite::Database& reader, std::size_t max_events, std::string_view batch_id,
                    const Shipment* in_flight);
  std::unique_ptr<SQLite::Database> open_connection() const;
  void migrate();
  SQLite::Statement& insert_statement(int month);
  void rebuild_events_view();
  ConnectionLease borrow_connection();

  void run_checkpointer();
  std::int64_t now_ms() const;  // options_.clock's now, in Unix milliseconds

  SqliteOptions options_;
  std::unique_ptr<SQLite::Database> writer_;  // used only inside append() and at start-up
  std::set<int> months_;                      // partitions known to exist (writer side)
  std::map<int, std::unique_ptr<SQLite::Statement>> inserts_;
  std::unique_ptr<RollupUpsert> upsert_quarter_, upsert_daily_;
  std::unique_ptr<SQLite::Statement> insert_retraction_;      // retractions (writer only)
  std::unique_ptr<SQLite::Statement> upsert_credit_line_;     // credit_lines (writer only)
  StagedCredit staged_credit_ ABSL_GUARDED_BY(write_mutex_);  // for the next append()
  // BEGIN IMMEDIATE, COMMIT and ROLLBACK prepared once for append(): run through sqlite3_exec,
  // each group commit parsed and allocated for them anew.
  std::unique_ptr<SQLite::Statement> begin_, commit_, rollback_;

  Mutex connections_mutex_;
  std::vector<std::unique_ptr<SQLite::Database>> idle_connections_ ABSL_GUARDED_BY(connections_mutex_);

  Mutex write_mutex_;  // held by append(), and by the checkpointer to restart the WAL
  Mutex checkpoint_mutex_;
  CondVar checkpoint_wake_;
  bool stopping_ ABSL_GUARDED_BY(checkpoint_mutex_) = false;
  std::thread checkpointer_;
};

}  // namespace meter::store::sqlite
