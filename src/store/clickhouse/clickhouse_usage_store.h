#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "core/event.h"
#include "store/clickhouse/client.h"
#include "store/usage_store.h"

namespace meter::store::clickhouse {

// The events as TabSeparated rows of usage_events (column order of kInsertColumns), each
// tagged with batch_id: what bench/clickhouse.sh inserts by other means for reference (meterd
// itself ships RowBinary, row_binary.h).
std::string to_tsv(std::string_view batch_id, std::span<const Event> events);
inline constexpr const char* kInsertColumns =
    "id, tenant_id, event_type, quantity, timestamp, timestamp_ms, received_at, metadata, batch_id, cancels";
// A raw row's count in sums of events: a retraction counts -1 (docs/corrections.md).
inline constexpr const char* kSignedCount = "sum(if(cancels = '', 1, -1))";

// Raw events and their rollups in ClickHouse (schema in schema.cc and docs/clickhouse.md): with
// ClickHouse, the usage store meterd reads from, the system of record for analytics. Events reach
// it in shipments from the local durable log (ingest::Shipper), each tagged with a batch id so
// that an interrupted shipment can be checked before it is sent again. Thread-safe; each method
// uses the client it was given.
class ClickHouseUsageStore final : public UsageStore {
 public:
  // `cluster`: the tables are Distributed over a cluster's shards (schema.h); empty: one server.
  ClickHouseUsageStore(Client& client, std::string database, std::string cluster = {})
      : client_(client), db_(std::move(database)), cluster_(std::move(cluster)) {}

  const std::string& database() const { return db_; }

  // True on a cluster: a batch sent again after part of it landed (one shard took its rows,
  // another failed) is safe, because each shard's replicated table drops a block it already
  // has. On one server a month's rows land all or none, so a partial batch means tampering.
  bool resend_completes_partial_batch() const { return !cluster_.empty(); }

  // Inserts the events as one RowBinary block tagged with batch_id. Events of one UTC month
  // (one partition) are stored atomically on one server: all or none, rollups included (the
  // views). On a cluster the insert returns once every shard has its rows
  // (insert_distributed_sync), all or, on a failure, possibly those of some shards (see
  // resend_completes_partial_batch); then insert_rollups().
  Status insert_batch(std::string_view batch_id, std::span<const Event> events);

  // How many rows of batch_id are stored in the month YYYYMM.
  Result<std::uint64_t> batch_rows(std::string_view batch_id, int month);

  // On a cluster, the batch's hourly and daily sums, computed by meterd and inserted as one
  // block per shard and table: a resend of the same batch is the same block, which the
  // replicated rollup drops if the shard has it, so calling it again after any failure is safe.
  // (Views would miss a block: 18.16 does not run them for a raw block dropped as a duplicate,
  // so a node killed between its raw and view writes would lose those sums.) Nothing on one
  // server, where the views write in the same insert.
  Status insert_rollups(std::string_view batch_id, std::span<const Event> events);

  std::string_view name() const override { return "clickhouse"; }
  Result<std::vector<UsageRow>> usage(const UsageQuery& query) override;
  Result<std::vector<UsageRow>> raw_totals(std::string_view tenant_id, Timestamp from, Timestamp to) override;
  Result<std::vector<AggregateRow>> aggregate_raw(const AggregateQuery& query) override;
  Result<std::vector<std::string>> tenants(Timestamp from, Timestamp to) override;
  Result<std::vector<RollupCheck>> check_rollups(int month, std::string_view tenant_id) override;
  Result<std::vector<int>> months() override;
  // Drops the month's partition of the raw events and of both rollups.
  Status drop_month(int month) override;
  // tenant_quotas, a ReplacingMergeTree: read it with FINAL.
  Status mirror_quota(std::string_view tenant_id, const quota::TenantQuota& quota) override;

 private:
  // The cluster's two rollup inserts of a shipment, to run at once.
  std::vector<std::function<Status()>> rollup_inserts(std::string_view batch_id,
                                                      std::span<const Event> events);
  Status insert_rollup(std::string_view batch_id, std::span<const Event> events, Window window);

  Client& client_;
  std::string db_;
  std::string cluster_;
};

}  // namespace meter::store::clickhouse
