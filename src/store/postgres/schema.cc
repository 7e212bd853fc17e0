#include "store/postgres/schema.h"

#include <fmt/format.h>

#include <chrono>

#include "core/time.h"

namespace meter::store::postgres {
namespace {

// Version 1. Quantities are numeric (exact); times are Unix milliseconds, as in the embedded
// store. A rollup's sum is kept within what meterd's decimals hold (CHECK), so an append that
// would overflow one is refused as the data's fault, as on SQLite.
constexpr const char* kVersion1 = R"sql(
CREATE TABLE usage_events (
  id          text    NOT NULL,
  tenant_id   text    NOT NULL,
  event_type  text    NOT NULL,
  quantity    numeric NOT NULL,
  ts          bigint  NOT NULL,
  received_at bigint  NOT NULL,
  metadata    text    NOT NULL
) PARTITION BY RANGE (ts);
CREATE TABLE event_ids (
  tenant_id   text   NOT NULL,
  id          text   NOT NULL,
  received_at bigint NOT NULL,
  PRIMARY KEY (tenant_id, id)
);
CREATE INDEX event_ids_received ON event_ids (received_at);
CREATE TABLE tenant_settings (
  tenant_id            text PRIMARY KEY,
  plan                 text,
  quota_set            boolean NOT NULL DEFAULT false,
  time_zone            text    NOT NULL DEFAULT 'UTC',
  enforcement          text    NOT NULL DEFAULT 'soft',
  queries_per_day      numeric,
  queries_per_month    numeric,
  tokens_per_day       numeric,
  tokens_per_month     numeric,
  storage_gb           numeric,
  storage_gb_per_month numeric,
  updated_at           bigint  NOT NULL DEFAULT 0,
  version              bigint  NOT NULL DEFAULT 0  -- meter_changes' 'settings' when last changed
);
CREATE INDEX tenant_settings_version ON tenant_settings (version);
-- What nodes poll to learn of changes made through other nodes: a counter per kind of record,
-- bumped in the transaction that changes one. Its row lock orders the changes, so a node that
-- has seen version N has seen every change up to N.
CREATE TABLE meter_changes (kind text PRIMARY KEY, version bigint NOT NULL);
INSERT INTO meter_changes VALUES ('settings', 0), ('keys', 0);
CREATE TABLE api_keys (
  key_id     text PRIMARY KEY,
  hash       text    NOT NULL UNIQUE,  -- SHA-256 of the key, hex; the key itself is never stored
  admin      boolean NOT NULL,
  tenant_id  text,
  name       text    NOT NULL,
  created_at bigint  NOT NULL,
  revoked_at bigint
);
CREATE TABLE invoices (
  tenant_id    text    NOT NULL,
  month        integer NOT NULL,
  json         text    NOT NULL,
  csv          text    NOT NULL,
  finalized_at bigint  NOT NULL,
  PRIMARY KEY (tenant_id, month)
);
CREATE TABLE quota_alerts (
  id           bigserial PRIMARY KEY,
  tenant_id    text    NOT NULL,
  meter        text    NOT NULL,
  period       text    NOT NULL,
  period_start bigint  NOT NULL,
  threshold    integer NOT NULL,
  used         numeric NOT NULL,
  quota_limit  numeric NOT NULL,
  fired_at     bigint  NOT NULL,
  delivery     text    NOT NULL,
  attempts     integer NOT NULL,
  UNIQUE (tenant_id, meter, period, period_start, threshold)
);
)sql";

// Version 2: gauges' peaks in the quarter-hour rollup, and the outbox to ClickHouse (ship_log.h). Once
// ship_state has a row (a node started with ClickHouse), every group's transaction tags its events with a
// group number and queues (group, month); one node at a time ships a run of groups and deletes their queue
// rows. The partial index costs nothing while nothing is shipped.
constexpr const char* kVersion2 = R"sql(
ALTER TABLE usage_events ADD COLUMN ship_group bigint;
CREATE INDEX usage_events_ship_group ON usage_events (ship_group) WHERE ship_group IS NOT NULL;
CREATE SEQUENCE ship_groups;
CREATE TABLE ship_state (target text PRIMARY KEY, enabled_at bigint NOT NULL);
CREATE TABLE ship_queue (
  group_id    bigint  NOT NULL,
  month       integer NOT NULL,
  events      bigint  NOT NULL,
  received_at bigint  NOT NULL,
  PRIMARY KEY (month, group_id)
);
-- A gauge's largest reading per quarter hour, so that every node decides gauge limits on the
-- level any node stored.
ALTER TABLE usage_quarter_hour ADD COLUMN peak numeric NOT NULL DEFAULT 0;
UPDATE usage_quarter_hour q SET peak = m.peak FROM (
  SELECT tenant_id, ts - ((ts % 900000) + 900000) % 900000 AS bucket_start, event_type, max(quantity) AS peak
  FROM usage_events GROUP BY 1, 2, 3) m
WHERE q.tenant_id = m.tenant_id AND q.bucket_start = m.bucket_start AND q.event_type = m.event_type;
CREATE TABLE ship_in_flight (
  batch_id   text     PRIMARY KEY,
  month      integer  NOT NULL,
  groups     bigint[] NOT NULL,
  events     bigint   NOT NULL,
  started_at bigint   NOT NULL  -- the server's clock, in Unix milliseconds
);
)sql";

// Version 3: corrections (docs/corrections.md). A retraction is a row like any event, whose
// `cancels` names the event it withdraws; the partial index finds them (reads skip both rows).
// Adjustment notes of finalized months beside the invoices.
constexpr const char* kVersion3 = R"sql(
ALTER TABLE usage_events ADD COLUMN cancels text;
CREATE INDEX usage_events_retractions ON usage_events (tenant_id, cancels) WHERE cancels IS NOT NULL;
CREATE TABLE adjustments (
  tenant_id    text    NOT NULL,
  month        integer NOT NULL,
  sequence     integer NOT NULL,
  number       text    NOT NULL,
  json         text    NOT NULL,
  csv          text    NOT NULL,
  issued_at    bigint  NOT NULL,
  total_change text    NOT NULL,
  carried_to   integer NOT NULL,
  PRIMARY KEY (tenant_id, month, sequence)
);
CREATE INDEX adjustments_carried ON adjustments (tenant_id, carried_to) WHERE carried_to <> 0;
)sql";

// Version 4: prepaid credit (docs/credits.md), as in the embedded store, with amounts as exact
// numeric. credit_heads counts each tenant's credit changes: a writer bumps it, under the
// tenant's advisory lock, in every group that burns for the tenant and every change outside
// groups bumps it first, so a node that finds a count other than the one it left reloads the
// tenant (ingest/credit_admission.h). meter_changes' 'credits' orders the changes outside
// groups, for the nodes to follow (credit_heads.changed).
constexpr const char* kVersion4 = R"sql(
CREATE SEQUENCE credit_lot_seq;
CREATE TABLE credit_grants (
  grant_id        text    PRIMARY KEY,
  tenant_id       text    NOT NULL,
  seq             bigint  NOT NULL,
  name            text    NOT NULL,
  amount          numeric NOT NULL,
  category        text    NOT NULL,
  priority        integer NOT NULL,
  scope           text    NOT NULL,
  effective_at    bigint  NOT NULL,
  expires_at      bigint,
  created_at      bigint  NOT NULL,
  voided_at       bigint,
  idempotency_key text    NOT NULL,
  request_hash    text    NOT NULL,
  voided          numeric NOT NULL DEFAULT 0,
  rule_id         text    NOT NULL DEFAULT '',
  awaits_payment  boolean NOT NULL DEFAULT false,
  rolled          numeric NOT NULL DEFAULT 0,
  UNIQUE (tenant_id, idempotency_key)
);
CREATE TABLE credit_settings (
  tenant_id   text   PRIMARY KEY,
  enforcement text   NOT NULL,
  updated_at  bigint NOT NULL
);
CREATE TABLE credit_txns (
  txn       bigserial PRIMARY KEY,
  tenant_id text   NOT NULL,
  kind      text   NOT NULL,
  at        bigint NOT NULL,
  ref       text
);
CREATE INDEX credit_txns_by_tenant ON credit_txns (tenant_id, txn);
CREATE INDEX credit_txns_by_time ON credit_txns (tenant_id, at);
CREATE UNIQUE INDEX credit_txns_by_ref ON credit_txns (tenant_id, kind, ref) WHERE ref IS NOT NULL;
CREATE TABLE credit_entries (
  txn        bigint  NOT NULL,
  pos        integer NOT NULL,
  account    text    NOT NULL,
  grant_id   text    NOT NULL,
  month      integer NOT NULL,
  event_type text    NOT NULL,
  amount     numeric NOT NULL,
  PRIMARY KEY (txn, pos)
);
CREATE TABLE credit_lines (
  tenant_id  text    NOT NULL,
  month      integer NOT NULL,
  event_type text    NOT NULL,
  grant_id   text    NOT NULL,
  amount     numeric NOT NULL,
  PRIMARY KEY (tenant_id, month, event_type, grant_id)
);
CREATE TABLE credit_rules (
  rule_id                text    PRIMARY KEY,
  tenant_id              text    NOT NULL,
  kind                   text    NOT NULL,
  threshold              numeric NOT NULL,
  amount                 numeric NOT NULL,
  category               text    NOT NULL,
  priority               integer NOT NULL,
  scope                  text    NOT NULL,
  expires_after          text    NOT NULL,
  starts                 integer NOT NULL,
  rollover_max           numeric,
  rollover_priority      integer NOT NULL,
  rollover_expires_after text    NOT NULL,
  created_at             bigint  NOT NULL,
  deleted_at             bigint,
  idempotency_key        text    NOT NULL,
  request_hash           text    NOT NULL
);
CREATE UNIQUE INDEX credit_rules_by_key ON credit_rules (tenant_id, idempotency_key) WHERE idempotency_key <> '';
CREATE TABLE credit_notices (
  notice_id text    PRIMARY KEY,
  tenant_id text    NOT NULL,
  type      text    NOT NULL,
  ref       text    NOT NULL,
  fired_at  bigint  NOT NULL,
  body      text    NOT NULL,
  delivery  text    NOT NULL,
  attempts  integer NOT NULL,
  seq       bigserial,
  UNIQUE (tenant_id, type, ref)
);
CREATE INDEX credit_notices_by_tenant ON credit_notices (tenant_id, fired_at);
CREATE TABLE credit_heads (
  tenant_id text   PRIMARY KEY,
  version   bigint NOT NULL,
  changed   bigint NOT NULL DEFAULT 0  -- meter_changes' 'credits' at its last change outside groups
);
CREATE INDEX credit_heads_changed ON credit_heads (changed);
INSERT INTO meter_changes VALUES ('credits', 0);
)sql";

std::string rollup_table(const char* table) {
  return fmt::format(R"sql(
CREATE TABLE {0} (
  tenant_id    text    NOT NULL,
  bucket_start bigint  NOT NULL,
  event_type   text    NOT NULL,
  quantity     numeric NOT NULL CHECK (abs(quantity) < 1e26),
  events       bigint  NOT NULL,
  PRIMARY KEY (tenant_id, bucket_start, event_type)
);
)sql",
                     table);
}

}  // namespace

Result<MigrationReport> migrate(Connection& db) {
  return in_transaction(db, [](Connection& tx) -> Result<MigrationReport> {
    if (auto s = tx.exec(fmt::format("SELECT pg_advisory_xact_lock({}); "
                                     "CREATE TABLE IF NOT EXISTS meter_schema (version integer NOT NULL)",
                                     kDdlLock));
        !s) {
      return fail(s.error());
    }
    auto version = tx.exec("SELECT coalesce(max(version), 0) FROM meter_schema");
    if (!version) return fail(version.error());
    MigrationReport report;
    report.from_version = static_cast<int>(version->int64(0, 0));
    report.to_version = kSchemaVersion;
    if (report.from_version > kSchemaVersion) {
      return fail(Error::unavailable(fmt::format(
          "the PostgreSQL schema is version {}, written by a newer meterd; this one knows {}: upgrade meterd",
          report.from_version, kSchemaVersion)));
    }
    if (report.from_version < 1) {
      std::string ddl = kVersion1;
      for (const char* table : {"usage_quarter_hour", "usage_hourly", "usage_daily"})
        ddl += rollup_table(table);
      if (auto s = tx.exec(ddl); !s) return fail(s.error());
    }
    if (report.from_version < 2) {
      if (auto s = tx.exec(kVersion2); !s) return fail(s.error());
    }
    if (report.from_version < 3) {
      if (auto s = tx.exec(kVersion3); !s) return fail(s.error());
    }
    if (report.from_version < 4) {
      if (auto s = tx.exec(kVersion4); !s) return fail(s.error());
    }
    if (report.from_version < kSchemaVersion) {
      if (auto s = tx.exec(
              fmt::format("DELETE FROM meter_schema; INSERT INTO meter_schema VALUES ({})", kSchemaVersion));
          !s) {
        return fail(s.error());
      }
    }
    return report;
  });
}

Status ensure_partition(Connection& db, int month) {
  Timestamp start = month_start(month);
  auto made = in_transaction(db, [&](Connection& tx) -> Result<Rows> {
    return tx.exec(fmt::format(
        "SELECT pg_advisory_xact_lock({}); CREATE TABLE IF NOT EXISTS usage_events_{} PARTITION OF "
        "usage_events FOR VALUES FROM ({}) TO ({})",
        kDdlLock, month, to_unix_ms(start), to_unix_ms(next_window(Window::kMonth, start))));
  });
  if (!made) return fail(made.error());
  return {};
}

Result<std::vector<int>> partitions(Connection& db) {
  auto rows = db.exec(
      "SELECT substr(c.relname, 14)::int AS month FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
      "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'usage_events' "
      "AND p.relnamespace = current_schema()::regnamespace ORDER BY month");
  if (!rows) return fail(rows.error());
  std::vector<int> out;
  for (int r = 0; r < rows->size(); ++r) out.push_back(static_cast<int>(rows->int64(r, 0)));
  return out;
}

}  // namespace meter::store::postgres
