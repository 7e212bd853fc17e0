// The PostgreSQL store against a real PostgreSQL (a private server per test binary run, started
// by scripts/postgres-test-server); each test gets a fresh database.
#include <gtest/gtest.h>

#include <algorithm>
#include <future>
#include <thread>

#include "billing/invoicer.h"
#include "cross_backend.h"
#include "postgres_fixture.h"
#include "store/postgres/key_store.h"
#include "store/postgres/pg_store.h"
#include "store/postgres/schema.h"
#include "store/postgres/usage_cache.h"
#include "store/sqlite/sqlite_store.h"
#include "support/events.h"

namespace meter::testing {
namespace {

// Verifies nodes starting at once migrate the schema once, and that it is then up to date.
TEST_F(PostgresTest, NodesStartingAtOnceMigrateOnce) {
  std::vector<std::future<bool>> nodes;
  for (int i = 0; i < 4; ++i) {
    nodes.push_back(std::async(std::launch::async, [this] {
      auto store = PgStore::open({server_->url(db_), std::chrono::seconds(10)});
      if (!store) ADD_FAILURE() << store.error().message;
      return static_cast<bool>(store);
    }));
  }
  for (auto& n : nodes) EXPECT_TRUE(n.get());
  EXPECT_EQ(count("SELECT count(*) FROM meter_schema"), 1);
  EXPECT_EQ(count("SELECT max(version) FROM meter_schema"), store::postgres::kSchemaVersion);
  auto again = store::postgres::Connection::open(server_->url(db_), std::chrono::seconds(10));
  ASSERT_TRUE(again);
  auto report = store::postgres::migrate(**again);
  ASSERT_TRUE(report);
  EXPECT_EQ(report->from_version, store::postgres::kSchemaVersion);
}

// Verifies usage, raw totals, tenants and reconciliation answer as the embedded store does for
// the same events, partitioned by month.
TEST_F(PostgresTest, AnswersAsTheEmbeddedStoreDoes) {
  auto pg = open_store();
  ASSERT_TRUE(pg);
  TempDir dir;
  store::sqlite::SqliteStore local({dir / "meterd.db"});
  auto events = generated_month();
  events[5].metadata = "{\"note\":\"tab\\there, newline\\n, backslash \\\\ \"}";
  for (std::size_t at = 0; at < events.size(); at += 5000) {
    std::span<const Event> group(events.data() + at, std::min<std::size_t>(5000, events.size() - at));
    auto stored = pg->append(group);
    ASSERT_TRUE(stored) << stored.error().message;
    EXPECT_TRUE(stored->empty());
    ASSERT_TRUE(local.append(group));
  }
  EXPECT_EQ(count("SELECT count(*) FROM usage_events"), 12'000);
  auto months = pg->months();
  ASSERT_TRUE(months);
  EXPECT_EQ(*months, (std::vector<int>{202609, 202610, 202611}));

  Timestamp from = *parse_rfc3339("2026-09-01T00:00:00Z");
  Timestamp to = *parse_rfc3339("2026-12-01T00:00:00Z");
  for (Window w : {Window::kQuarterHour, Window::kHour, Window::kDay, Window::kMonth}) {
    store::UsageQuery q{"tenant_1", std::nullopt, from, to, w};
    auto a = pg->usage(q);
    auto b = local.usage(q);
    ASSERT_TRUE(a && b);
    ASSERT_EQ(a->size(), b->size()) << window_name(w);
    for (std::size_t i = 0; i < a->size(); ++i) {
      EXPECT_EQ((*a)[i].bucket_start, (*b)[i].bucket_start);
      EXPECT_EQ((*a)[i].event_type, (*b)[i].event_type);
      EXPECT_EQ((*a)[i].quantity, (*b)[i].quantity);
      EXPECT_EQ((*a)[i].events, (*b)[i].events);
    }
  }
  auto raw_pg = pg->raw_totals("tenant_2", from, to);
  auto raw_local = local.raw_totals("tenant_2", from, to);
  ASSERT_TRUE(raw_pg && raw_local);
  ASSERT_EQ(raw_pg->size(), raw_local->size());
  for (std::size_t i = 0; i < raw_pg->size(); ++i) EXPECT_EQ((*raw_pg)[i].quantity, (*raw_local)[i].quantity);
  EXPECT_EQ(*pg->tenants(from, to), *local.tenants(from, to));

  auto checks = pg->check_rollups(202610, "");
  ASSERT_TRUE(checks);
  EXPECT_EQ(checks->size(), 12u);  // 3 tenants x 4 event types
  for (const auto& c : *checks) EXPECT_FALSE(c.drift()) << c.tenant_id << " " << c.event_type;
  auto metadata = store::postgres::Connection::open(server_->url(db_), std::chrono::seconds(10));
  auto kept = (*metadata)->exec("SELECT metadata FROM usage_events WHERE id = 'g5'");
  ASSERT_TRUE(kept && kept->size() == 1);
  EXPECT_EQ(kept->str(0, 0), events[5].metadata);
}

// Verifies invoices (rollups and raw events, time zones, grouped and distinct-count meters) are
// byte for byte those of the embedded store.
TEST_F(PostgresTest, InvoicesEqualTheEmbeddedStores) {
  auto pg = open_store();
  ASSERT_TRUE(pg);
  TempDir dir;
  store::sqlite::SqliteStore local({dir / "meterd.db"});
  auto events = generated_month();
  ASSERT_TRUE(pg->append(events));
  ASSERT_TRUE(local.append(events));
  CrossBackendBilling billing;
  billing::Invoicer embedded(local, local, billing.book, billing.zones);
  billing::Invoicer postgres(*pg, *pg, billing.book, billing.zones);
  expect_same_invoices({&embedded, &postgres});
}

// Verifies corrections on PostgreSQL (docs/corrections.md): with the generated month's cancels
// and amends stored as rows, invoices from rollups and raw events equal those of an embedded
// store that only had the corrected events; reconciliation counts them with no drift; the
// events a correction names, a range's live events and the audit trail are found.
TEST_F(PostgresTest, CorrectionsLeaveInvoicesAsTheEmbeddedStores) {
  auto pg = open_store();
  ASSERT_TRUE(pg);
  TempDir dir;
  store::sqlite::SqliteStore without({dir / "without.db"});
  auto events = generated_month();
  auto [corrections, kept] = corrected(events);
  ASSERT_TRUE(pg->append(events));
  ASSERT_TRUE(pg->append(corrections));
  ASSERT_TRUE(without.append(kept));
  for (bool other_aggregations : {false, true}) {
    CrossBackendBilling billing(other_aggregations);
    billing::Invoicer expected(without, without, billing.book, billing.zones);
    billing::Invoicer postgres(*pg, *pg, billing.book, billing.zones);
    expect_same_invoices({&expected, &postgres});
  }
  std::int64_t corrected_rows = 0;
  for (int month : {202609, 202610, 202611}) {
    auto checks = pg->check_rollups(month, "");
    ASSERT_TRUE(checks) << checks.error().message;
    for (const auto& c : *checks) {
      EXPECT_FALSE(c.drift()) << month << " " << c.tenant_id << " " << c.event_type;
      corrected_rows += c.corrections;
    }
  }
  std::int64_t retracted =
      std::count_if(corrections.begin(), corrections.end(), [](const Event& e) { return e.is_retraction(); });
  EXPECT_EQ(corrected_rows, retracted);

  std::vector<std::string> ids = {events[3].id, events[4].id, "nope"};  // cancelled, kept, unknown
  auto found = pg->find_events(events[3].tenant_id, ids);
  ASSERT_TRUE(found) << found.error().message;
  ASSERT_EQ(found->size(), 1u);  // events[4] is another tenant's
  EXPECT_EQ(found->front().event.id, events[3].id);
  ASSERT_TRUE(found->front().retraction);
  EXPECT_EQ(found->front().retraction->quantity, Decimal::from_units(-events[3].quantity.units()));
  auto live = pg->live_events(events[3].tenant_id, events[3].event_type, events[3].timestamp,
                              events[3].timestamp + std::chrono::hours(1), 100);
  ASSERT_TRUE(live) << live.error().message;
  for (const Event& e : *live) EXPECT_NE(e.id, events[3].id);
  auto trail =
      pg->retractions(events[3].tenant_id, Timestamp{}, events.back().received_at + std::chrono::hours(1), 5);
  ASSERT_TRUE(trail) << trail.error().message;
  EXPECT_EQ(trail->size(), 5u);
}

// Verifies a correction is stored whole by one of two nodes: when another node stored part of
// it, append_whole stores nothing (kConflict); when it stored all, it is all duplicates.
TEST_F(PostgresTest, CorrectionsAreWholeAcrossNodes) {
  auto a = open_store();
  auto b = open_store();
  ASSERT_TRUE(a && b);
  Timestamp at = *parse_rfc3339("2026-11-20T10:00:00Z");
  Event original = make_event("t", "e1", "query", "10", at);
  ASSERT_TRUE(a->append(std::vector<Event>{original}));
  std::vector<Event> amend_a = {retraction_of(original, at, "{}"),
                                make_event("t", "fix-a", "query", "4", at)};
  std::vector<Event> amend_b = {retraction_of(original, at, "{}"),
                                make_event("t", "fix-b", "query", "5", at)};
  auto first = a->append_whole(amend_a);
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_TRUE(first->empty());
  auto second = b->append_whole(amend_b);  // its retraction is a's: part of it is stored
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().code, ErrorCode::kConflict);
  auto again = b->append_whole(amend_a);  // a's, sent again through b: all duplicates
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(again->size(), 2u);
  EXPECT_EQ(count("SELECT count(*) FROM usage_events WHERE id = 'fix-b'"), 0);
  EXPECT_EQ(count("SELECT sum(quantity)::bigint FROM usage_daily"), 4);
  EXPECT_EQ(count("SELECT sum(events)::bigint FROM usage_daily"), 1);
}

// Verifies two nodes storing overlapping groups at the same time store each (tenant, id) once,
// and each node learns which of its events the other had stored.
TEST_F(PostgresTest, TwoNodesStoreEachIdOnce) {
  auto a = open_store();
  auto b = open_store();
  ASSERT_TRUE(a && b);
  Timestamp at = *parse_rfc3339("2026-11-20T10:00:00Z");
  auto group = [&](int first, int n) {
    std::vector<Event> events;
    for (int i = first; i < first + n; ++i)
      events.push_back(make_event("t" + std::to_string(i % 4), "id" + std::to_string(i), "query", "1", at));
    return events;
  };
  std::int64_t reported = 0;
  for (int round = 0; round < 20; ++round) {
    // Node a stores ids [round*100, +150), node b [round*100+50, +150): each overlaps the other
    // and the rounds before.
    auto ga = group(round * 100, 150);
    auto gb = group(round * 100 + 50, 150);
    auto fa = std::async(std::launch::async, [&] { return a->append(ga); });
    auto fb = std::async(std::launch::async, [&] { return b->append(gb); });
    auto ra = fa.get();
    auto rb = fb.get();
    ASSERT_TRUE(ra) << ra.error().message;
    ASSERT_TRUE(rb) << rb.error().message;
    reported += static_cast<std::int64_t>(ra->size() + rb->size());
    for (const auto* r : {&*ra, &*rb}) {
      EXPECT_TRUE(std::is_sorted(r->begin(), r->end()));
      for (std::size_t p : *r) EXPECT_LT(p, 150u);
    }
    // Between them, every id of the round that was not stored before is stored once: the first
    // 50 of a's are new unless b had them in the round before.
    if (round == 0) {
      EXPECT_EQ(ra->size() + rb->size(), 100u);
    }
  }
  std::int64_t distinct = 19 * 100 + 200;  // ids 0 .. 2099
  EXPECT_EQ(count("SELECT count(*) FROM usage_events"), distinct);
  EXPECT_EQ(count("SELECT count(DISTINCT (tenant_id, id)) FROM usage_events"), distinct);
  EXPECT_EQ(count("SELECT sum(quantity)::bigint FROM usage_daily"), distinct);
  EXPECT_EQ(reported, 2 * 20 * 150 - distinct);
}

// Verifies what a node reads of a tenant's stored usage counts every node's events: sums of
// summed meters, and the largest reading of a gauge, in the window asked and no other.
TEST_F(PostgresTest, StoredUsageCountsEveryNode) {
  auto a = open_store();
  auto b = open_store();
  ASSERT_TRUE(a && b);
  Timestamp at = *parse_rfc3339("2026-11-20T10:07:00Z");
  ASSERT_TRUE(a->append(std::vector<Event>{make_event("acme", "a1", "storage_gb", "9.5", at),
                                           make_event("acme", "a2", "query", "2", at)}));
  ASSERT_TRUE(b->append(std::vector<Event>{make_event("acme", "b1", "storage_gb", "3", at),
                                           make_event("acme", "b2", "query", "5", at + std::chrono::hours(1)),
                                           make_event("other", "b3", "storage_gb", "50", at)}));
  std::string_view storage[] = {"storage_gb"};
  std::string_view queries[] = {"query"};
  Timestamp day = *parse_rfc3339("2026-11-20T00:00:00Z");
  Timestamp next = day + std::chrono::hours(24);
  store::UsageWindow windows[] = {{storage, day, next, true},
                                  {queries, day, next, false},
                                  {queries, day, at + std::chrono::minutes(8), false}};
  auto used = b->stored_usage("acme", windows);
  ASSERT_TRUE(used) << used.error().message;
  EXPECT_EQ((*used)[0], *Decimal::parse("9.5"));
  EXPECT_EQ((*used)[1], *Decimal::parse("7"));
  EXPECT_EQ((*used)[2], *Decimal::parse("2"));

  std::string tenants[] = {"acme"};
  ASSERT_TRUE(b->lock_tenants(tenants));
  auto locked = b->locked_usage("acme", windows[0]);
  ASSERT_TRUE(locked && *locked) << (locked ? "nullopt" : locked.error().message);
  EXPECT_EQ(**locked, *Decimal::parse("9.5"));
  ASSERT_TRUE(b->append({}));  // ends the group
}

// Verifies the node's cache of stored usage answers repeated reads without PostgreSQL, and that
// a group another node commits for the tenant (and only for it) drops its entry, so the next
// read counts it.
TEST_F(PostgresTest, UsageCacheFollowsEveryNodesCommits) {
  auto a = open_store();
  auto b = open_store();
  ASSERT_TRUE(a && b);
  store::postgres::UsageCache cache(*a, server_->url(db_), std::chrono::seconds(10));
  cache.start();
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!cache.listening() && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ASSERT_TRUE(cache.listening());

  Timestamp at = *parse_rfc3339("2026-11-20T10:07:00Z");
  std::string_view queries[] = {"query"};
  Timestamp day = *parse_rfc3339("2026-11-20T00:00:00Z");
  store::UsageWindow window[] = {{queries, day, day + std::chrono::hours(24), false}};
  auto read = [&](std::string_view tenant) {
    auto used = cache.stored_usage(tenant, window);
    EXPECT_TRUE(used) << used.error().message;
    return used ? used->front().to_string() : "";
  };
  ASSERT_TRUE(a->append(std::vector<Event>{make_event("acme", "a1", "query", "2", at)}));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // a's own notification arrives
  EXPECT_EQ(read("acme"), "2");
  EXPECT_EQ(read("acme"), "2");
  EXPECT_EQ(cache.hits(), 1u);

  ASSERT_TRUE(b->append(std::vector<Event>{make_event("other", "b1", "query", "5", at)}));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(read("acme"), "2");
  EXPECT_EQ(cache.hits(), 2u);  // another tenant's commit leaves acme's entry

  ASSERT_TRUE(b->append(std::vector<Event>{make_event("acme", "b2", "query", "5", at)}));
  auto seen = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  while (read("acme") != "7" && std::chrono::steady_clock::now() < seen)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  EXPECT_EQ(read("acme"), "7");
  cache.stop();
  EXPECT_FALSE(cache.listening());
}

// Verifies a plan change and a quota change made through two nodes at once both stick.
TEST_F(PostgresTest, SettingsChangedThroughTwoNodesBothStick) {
  auto a = open_store();
  auto b = open_store();
  ASSERT_TRUE(a && b);
  constexpr int kRounds = 30;
  auto plans = std::async(std::launch::async, [&] {
    for (int i = 0; i <= kRounds; ++i) {
      auto s = a->update_settings("acme", [i](store::TenantSettings& t) -> Status {
        t.plan = "plan_" + std::to_string(i);
        return {};
      });
      if (!s) ADD_FAILURE() << s.error().message;
    }
  });
  for (int i = 0; i <= kRounds; ++i) {
    auto s = b->update_settings("acme", [i](store::TenantSettings& t) -> Status {
      if (!t.quota) t.quota.emplace().time_zone = "Asia/Kolkata";
      (*t.quota)[quota::Meter::kTokens].per_month = *Decimal::parse(std::to_string(i) + ".25");
      return {};
    });
    ASSERT_TRUE(s) << s.error().message;
  }
  plans.get();
  auto acme = a->settings("acme");
  ASSERT_TRUE(acme && *acme && (*acme)->quota);
  EXPECT_EQ((*acme)->plan, "plan_" + std::to_string(kRounds));
  EXPECT_EQ((*acme)->quota->time_zone, "Asia/Kolkata");
  EXPECT_EQ((*(*acme)->quota)[quota::Meter::kTokens].per_month->to_string(), std::to_string(kRounds) + ".25");
  auto refused = b->update_settings("acme", [](store::TenantSettings& t) -> Status {
    t.plan = "never";
    return fail(Error::invalid("plan", "no"));
  });
  EXPECT_FALSE(refused);
  EXPECT_EQ(*a->plan("acme"), std::optional<std::string>("plan_" + std::to_string(kRounds)));
  auto all = b->list_settings();
  ASSERT_TRUE(all);
  EXPECT_EQ(all->size(), 1u);
}

// Verifies a node following the change counter gets exactly the tenants changed through another
// node since it last looked, and everything on its first look.
TEST_F(PostgresTest, NodesFollowSettingsChangedElsewhere) {
  auto a = open_store();
  auto b = open_store();
  ASSERT_TRUE(a && b);
  auto set_zone = [](PgStore& node, const std::string& tenant, const std::string& zone) {
    return node.update_settings(tenant, [&](store::TenantSettings& t) -> Status {
      t.quota.emplace().time_zone = zone;
      return {};
    });
  };
  ASSERT_TRUE(set_zone(*a, "acme", "Asia/Kolkata"));
  ASSERT_TRUE(set_zone(*a, "globex", "Europe/Berlin"));
  auto first = b->settings_changed_since(0);
  ASSERT_TRUE(first);
  EXPECT_EQ(first->changed.size(), 2u);
  auto nothing = b->settings_changed_since(first->version);
  ASSERT_TRUE(nothing);
  EXPECT_TRUE(nothing->changed.empty());
  EXPECT_EQ(nothing->version, first->version);
  ASSERT_TRUE(set_zone(*a, "globex", "UTC"));
  auto next = b->settings_changed_since(first->version);
  ASSERT_TRUE(next);
  ASSERT_EQ(next->changed.size(), 1u);
  EXPECT_EQ(next->changed[0].first, "globex");
  EXPECT_EQ(next->changed[0].second.quota->time_zone, "UTC");
  EXPECT_GT(next->version, first->version);
}

// Verifies API keys created and revoked through one node's store are what every node reads, and
// that the version the authenticators poll moves with each change.
TEST_F(PostgresTest, KeysAreSharedByEveryNode) {
  ASSERT_TRUE(open_store());  // migrates
  store::postgres::PgKeyStore a(server_->url(db_), std::chrono::seconds(10));
  store::postgres::PgKeyStore b(server_->url(db_), std::chrono::seconds(10));
  auto v0 = b.version();
  ASSERT_TRUE(v0);
  Timestamp now = *parse_rfc3339("2026-11-20T10:00:00Z");
  auto key = a.create(false, "acme", "ci", now);
  ASSERT_TRUE(key) << key.error().message;
  auto admin = a.create(true, "", "ops", now);
  ASSERT_TRUE(admin);
  auto v1 = b.version();
  ASSERT_TRUE(v1);
  EXPECT_GT(*v1, *v0);
  auto keys = b.list();
  ASSERT_TRUE(keys);
  ASSERT_EQ(keys->size(), 2u);
  const auto& tenant_key = (*keys)[0].admin ? (*keys)[1] : (*keys)[0];
  EXPECT_EQ(tenant_key.tenant_id, "acme");
  EXPECT_EQ(tenant_key.hash.size(), 64u);
  EXPECT_NE(tenant_key.hash, *key);  // only the hash is kept
  ASSERT_TRUE(b.revoke(tenant_key.key_id, now));
  auto again = a.revoke(tenant_key.key_id, now);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, ErrorCode::kNotFound);
  EXPECT_GT(*a.version(), *v1);
  auto after = a.list();
  ASSERT_TRUE(after);
  for (const auto& k : *after) EXPECT_EQ(k.revoked_at.has_value(), k.key_id == tenant_key.key_id);
}

// Verifies finalized invoices are immutable and alerts fire once, as on the embedded store.
TEST_F(PostgresTest, InvoicesAndAlertsAreRecordedOnce) {
  auto pg = open_store();
  ASSERT_TRUE(pg);
  Timestamp now = *parse_rfc3339("2026-11-02T00:00:00Z");
  store::FinalizedInvoice invoice{"acme", 202610, "{\"total\":\"1.5\"}", "a,b\n", now};
  ASSERT_TRUE(pg->put_finalized_invoice(invoice));
  auto again = pg->put_finalized_invoice(invoice);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, ErrorCode::kConflict);
  auto read = pg->finalized_invoice("acme", 202610);
  ASSERT_TRUE(read && *read);
  EXPECT_EQ((*read)->json, invoice.json);
  EXPECT_EQ(pg->finalized_invoices(202610)->size(), 1u);

  quota::Alert alert{"acme", quota::Meter::kTokens,    quota::Period::kDay,     now,
                     80,     *Decimal::parse("800.5"), *Decimal::parse("1000"), now};
  auto id = pg->record_alert(alert);
  ASSERT_TRUE(id && *id);
  auto twice = pg->record_alert(alert);
  ASSERT_TRUE(twice);
  EXPECT_FALSE(*twice);
  ASSERT_TRUE(pg->update_alert_delivery(**id, "delivered", 2));
  auto alerts = pg->list_alerts("acme", 10, false);
  ASSERT_TRUE(alerts && alerts->size() == 1);
  EXPECT_EQ((*alerts)[0].delivery, "delivered");
  EXPECT_EQ((*alerts)[0].alert.used.to_string(), "800.5");
  EXPECT_TRUE(pg->list_alerts("", 10, true)->empty());
}

// Verifies a group whose usage sum would leave the decimal range is refused as the data's
// fault, storing nothing, and that retention drops a month with its rollups.
TEST_F(PostgresTest, OverflowIsRefusedAndMonthsDrop) {
  auto pg = open_store();
  ASSERT_TRUE(pg);
  Timestamp at = *parse_rfc3339("2026-10-20T10:00:00Z");
  std::string big = "90000000000000000000000000";  // 9e25: two of them pass 1e26
  ASSERT_TRUE(pg->append(std::vector<Event>{make_event("acme", "a", "query", big, at)}));
  auto over = pg->append(std::vector<Event>{make_event("acme", "b", "query", big, at)});
  ASSERT_FALSE(over);
  EXPECT_EQ(over.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(count("SELECT count(*) FROM usage_events"), 1);
  EXPECT_EQ(count("SELECT count(*) FROM event_ids WHERE id = 'b'"), 0);  // the refused id stays free

  ASSERT_TRUE(
      pg->append(std::vector<Event>{make_event("acme", "c", "query", "1", at + std::chrono::days(20))}));
  ASSERT_TRUE(pg->drop_month(202610));
  EXPECT_EQ(*pg->months(), std::vector<int>{202611});
  EXPECT_EQ(count("SELECT count(*) FROM usage_daily"), 1);
  EXPECT_EQ(count("SELECT count(*) FROM usage_events"), 1);
}

// Verifies claims are forgotten once past the dedupe window, by the appends that follow, and
// that an id is then stored again as new.
TEST_F(PostgresTest, ClaimsExpireAfterTheWindow) {
  SimulatedClock clock(*parse_rfc3339("2026-11-20T10:00:00Z"));
  auto opened = PgStore::open({server_->url(db_), std::chrono::seconds(10), &clock, std::chrono::days(1)});
  ASSERT_TRUE(opened) << opened.error().message;
  PgStore& pg = **opened;
  ASSERT_TRUE(pg.append(std::vector<Event>{make_event("acme", "old", "query", "1", clock.now())}));
  clock.advance(std::chrono::hours(12));
  ASSERT_TRUE(pg.append(std::vector<Event>{make_event("acme", "recent", "query", "1", clock.now())}));
  EXPECT_EQ(count("SELECT count(*) FROM event_ids"), 2);  // "old" is within the window still
  clock.advance(std::chrono::hours(13));
  ASSERT_TRUE(pg.append(std::vector<Event>{make_event("acme", "new", "query", "1", clock.now())}));
  EXPECT_EQ(count("SELECT count(*) FROM event_ids WHERE id = 'old'"), 0);
  EXPECT_EQ(count("SELECT count(*) FROM event_ids"), 2);
  auto again = pg.append(std::vector<Event>{make_event("acme", "old", "query", "1", clock.now())});
  ASSERT_TRUE(again);
  EXPECT_TRUE(again->empty());
  EXPECT_EQ(count("SELECT count(*) FROM usage_events WHERE id = 'old'"), 2);
}

// Verifies a server that goes away fails appends as unavailable (never a crash or a hang), and
// that the store reconnects by itself once the server is back.
TEST_F(PostgresTest, ReconnectsAfterTheServerComesBack) {
  auto pg = open_store();
  ASSERT_TRUE(pg);
  Timestamp at = *parse_rfc3339("2026-11-20T10:00:00Z");
  ASSERT_TRUE(pg->append(std::vector<Event>{make_event("acme", "before", "query", "1", at)}));
  server_->stop();
  auto down = pg->append(std::vector<Event>{make_event("acme", "during", "query", "1", at)});
  ASSERT_FALSE(down);
  EXPECT_EQ(down.error().code, ErrorCode::kUnavailable) << down.error().message;
  auto read_down = pg->usage({"acme", std::nullopt, at - std::chrono::days(1), at + std::chrono::days(1)});
  ASSERT_FALSE(read_down);
  EXPECT_EQ(read_down.error().code, ErrorCode::kUnavailable);
  ASSERT_TRUE(server_->start());
  auto after = pg->append(std::vector<Event>{make_event("acme", "during", "query", "1", at)});
  ASSERT_TRUE(after) << after.error().message;
  EXPECT_TRUE(after->empty());
  auto usage = pg->usage({"acme", std::nullopt, at - std::chrono::days(1), at + std::chrono::days(1)});
  ASSERT_TRUE(usage) << usage.error().message;
  ASSERT_EQ(usage->size(), 1u);
  EXPECT_EQ((*usage)[0].events, 2);
}

}  // namespace
}  // namespace meter::testing
