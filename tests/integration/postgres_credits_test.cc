// The credit ledger on PostgreSQL against the embedded store's (store/credit_ledger.h): the same
// calls give the same lots, transactions, lines, rules and notices; and what only a shared
// ledger does: change counts, a void that takes what the lot holds as stored, ids stored by
// another writer.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <future>

#include "postgres_fixture.h"
#include "store/sqlite/sqlite_store.h"
#include "support/events.h"
#include "support/temp_dir.h"

namespace meter::testing {
namespace {

Decimal dec(std::string_view text) { return *Decimal::parse(text); }
Timestamp at(std::string_view text) { return *parse_rfc3339(text); }

credits::Lot lot(std::string id, std::string key, std::string_view amount, credits::Category category) {
  credits::Lot l;
  l.id = std::move(id);
  l.tenant_id = "t";
  l.name = l.id;
  l.amount = dec(amount);
  l.category = category;
  l.effective_at = at("2026-12-01T00:00:00Z");
  l.expires_at = at("2027-01-01T00:00:00Z");
  l.created_at = at("2026-12-01T00:00:00Z");
  l.idempotency_key = std::move(key);
  l.request_hash = "h-" + l.idempotency_key;
  return l;
}

credits::Entry entry(credits::Account account, std::string grant, std::string_view amount) {
  return {"t", account, std::move(grant), 202612, "api_call", dec(amount)};
}

// Everything a ledger answers about tenant t, as text: what the two stores must agree on.
std::string dump(store::CreditLedger& ledger) {
  std::string out;
  auto lots = ledger.grants("t");
  EXPECT_TRUE(lots);
  for (const auto& r : *lots) {
    fmt::format_to(std::back_inserter(out), "lot {} {} consumed {} voided {} rolled {} remaining {}\n",
                   r.lot.id, r.lot.amount.to_string(), r.consumed.to_string(), r.voided.to_string(),
                   r.rolled.to_string(), r.remaining().to_string());
  }
  auto txns = store::all_transactions(ledger, "t");
  EXPECT_TRUE(txns);
  for (const auto& t : *txns) {
    Decimal sum;
    fmt::format_to(std::back_inserter(out), "{}:", t.kind);
    for (const auto& e : t.entries) {
      sum = *sum.checked_add(e.amount);
      fmt::format_to(std::back_inserter(out), " {}/{}/{}/{}", credits::account_name(e.account), e.grant_id,
                     e.event_type, e.amount.to_string());
    }
    EXPECT_TRUE(sum.is_zero()) << t.kind;
    out += '\n';
  }
  auto month = ledger.month_ledger("t", 202612);
  EXPECT_TRUE(month);
  for (const auto& [key, amount] : month->burnt)
    fmt::format_to(std::back_inserter(out), "burnt {} {} {}\n", key.first, key.second, amount.to_string());
  for (const auto& [type, amount] : month->due)
    fmt::format_to(std::back_inserter(out), "due {} {}\n", type, amount.to_string());
  auto consumed = ledger.consumed_between("t", at("2026-01-01T00:00:00Z"), at("2028-01-01T00:00:00Z"));
  EXPECT_TRUE(consumed);
  fmt::format_to(std::back_inserter(out), "consumed {}\n", consumed->to_string());
  auto notices = ledger.notices("t", 10, false);
  EXPECT_TRUE(notices);
  for (const auto& n : *notices)
    fmt::format_to(std::back_inserter(out), "notice {} {} {} {}\n", n.notice.type, n.notice.ref, n.delivery,
                   n.attempts);
  auto rules = ledger.rules("t");
  EXPECT_TRUE(rules);
  fmt::format_to(std::back_inserter(out), "rules {}\n", rules->size());
  return out;
}

// The same calls on a ledger that stores events (`log`): grants, a group's burns, a void, a
// rollover, a true-up, a note's restore, a rule and notices.
void exercise(store::CreditLedger& ledger, store::EventLog& log) {
  ASSERT_TRUE(ledger.put_grant(lot("paid", "k1", "10", credits::Category::kPaid)));
  ASSERT_TRUE(ledger.put_grant(lot("promo", "k2", "5", credits::Category::kPromotional)));
  auto again = ledger.put_grant(lot("other", "k1", "10", credits::Category::kPaid));
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, ErrorCode::kConflict);
  auto by_key = ledger.grant_by_key("t", "k1");
  ASSERT_TRUE(by_key && *by_key);
  EXPECT_EQ((*by_key)->lot.id, "paid");

  // A group: 3 burnt from paid, 1 from promo, 0.5 due; its events in the same transaction.
  store::StagedCredit staged;
  staged.burns = {
      entry(credits::Account::kCredit, "paid", "-3"),  entry(credits::Account::kUsage, "paid", "3"),
      entry(credits::Account::kCredit, "promo", "-1"), entry(credits::Account::kUsage, "promo", "1"),
      entry(credits::Account::kDue, "", "-0.5"),       entry(credits::Account::kUsage, "", "0.5")};
  staged.notices = {
      credits::make_notice("t", "credits.low", at("2026-12-02T00:00:00Z"), {{"balance", "11"}})};
  staged.notices.back().ref = "low-1";
  ledger.stage(std::move(staged));
  std::vector<Event> events = {make_event("t", "e1", "api_call", "450", at("2026-12-02T00:00:00Z"))};
  ASSERT_TRUE(log.append(events));

  auto lots = ledger.grants("t");
  ASSERT_TRUE(lots);
  credits::LotRecord paid = lots->front();
  paid.lot.voided_at = at("2026-12-03T00:00:00Z");
  paid.voided = paid.remaining();
  ASSERT_TRUE(ledger.put_void(paid));
  ASSERT_TRUE(ledger.put_void(paid));  // again: booked once

  credits::Lot into = lot("rolled", "roll-1", "0", credits::Category::kPromotional);
  into.created_at = at("2027-01-01T00:00:00Z");
  auto rolled = ledger.put_rollover(lots->back().lot, dec("2.5"), into);
  ASSERT_TRUE(rolled);
  EXPECT_TRUE(*rolled);
  EXPECT_EQ(into.amount, dec("2.5"));
  auto rolled_again = ledger.put_rollover(lots->back().lot, dec("2.5"), into);
  ASSERT_TRUE(rolled_again);
  EXPECT_FALSE(*rolled_again);

  std::vector<credits::Entry> trueup = {entry(credits::Account::kCredit, "promo", "-0.25"),
                                        entry(credits::Account::kUsage, "promo", "0.25")};
  auto booked = ledger.put_trueup("t", 202612, trueup);
  ASSERT_TRUE(booked);
  EXPECT_TRUE(*booked);
  booked = ledger.put_trueup("t", 202612, trueup);
  ASSERT_TRUE(booked);
  EXPECT_FALSE(*booked);

  std::vector<credits::Entry> restore = {entry(credits::Account::kCredit, "promo", "0.5"),
                                         entry(credits::Account::kUsage, "promo", "-0.5")};
  auto restored = ledger.put_restore("t", "INV-202612-t-CN1", restore);
  ASSERT_TRUE(restored);
  EXPECT_TRUE(*restored);
  restored = ledger.put_restore("t", "INV-202612-t-CN1", restore);
  ASSERT_TRUE(restored);
  EXPECT_FALSE(*restored);

  credits::Rule rule;
  rule.id = "rule-1";
  rule.tenant_id = "t";
  rule.threshold = dec("2");
  rule.created_at = at("2026-12-01T00:00:00Z");
  rule.idempotency_key = "rk";
  ASSERT_TRUE(ledger.put_rule(rule));
  auto found = ledger.rule_by_key("t", "rk");
  ASSERT_TRUE(found && *found);
  EXPECT_EQ((*found)->threshold, dec("2"));
  auto deleted = ledger.delete_rule("t", "rule-1", at("2026-12-04T00:00:00Z"));
  ASSERT_TRUE(deleted);
  EXPECT_TRUE(*deleted);
  deleted = ledger.delete_rule("t", "rule-1", at("2026-12-04T00:00:00Z"));
  ASSERT_TRUE(deleted);
  EXPECT_FALSE(*deleted);

  auto notice = credits::make_notice("t", "credits.expiring_soon", at("2026-12-05T00:00:00Z"), {});
  notice.ref = "promo:P7D";
  auto put = ledger.put_notice(notice);
  ASSERT_TRUE(put);
  EXPECT_TRUE(*put);
  put = ledger.put_notice(notice);
  ASSERT_TRUE(put);
  EXPECT_FALSE(*put);
  ASSERT_TRUE(ledger.update_notice_delivery(notice.id, "delivered", 1));
  ASSERT_TRUE(ledger.put_enforcement("t", credits::Enforcement::kHard));
  auto e = ledger.enforcement("t");
  ASSERT_TRUE(e && *e);
  EXPECT_EQ(**e, credits::Enforcement::kHard);
}

// Verifies the ledger on PostgreSQL answers every call as the embedded store does.
TEST_F(PostgresTest, CreditLedgerAnswersAsTheEmbeddedStores) {
  auto pg = open_store();
  ASSERT_TRUE(pg);
  TempDir dir;
  store::sqlite::SqliteStore local({dir / "meterd.db"});
  exercise(local, local);
  exercise(*pg, *pg);
  std::string expected = dump(local);
  EXPECT_EQ(dump(*pg), expected);
  EXPECT_NE(expected.find("lot paid 10 consumed 3 voided 7 rolled 0 remaining 0"), std::string::npos)
      << expected;
  EXPECT_NE(expected.find("lot promo 5 consumed 0.75 voided 0 rolled 2.5 remaining 1.75"), std::string::npos)
      << expected;
}

// Verifies what only a shared ledger does: a group counts a change of its tenants' credit and
// answers the count before (another writer's group of the tenant waits for it to commit); a
// change outside groups tells the other nodes; a void takes what the lot holds as stored,
// whatever the caller believed; a group that burnt for an id another writer stored is redone.
TEST_F(PostgresTest, SharedLedgerCountsChangesAndVoidsWhatIsStored) {
  auto a = open_store();
  auto b = open_store();
  ASSERT_TRUE(a && b);
  auto seen = b->changed_since(-1);
  ASSERT_TRUE(seen);
  ASSERT_TRUE(a->put_grant(lot("paid", "k1", "10", credits::Category::kPaid)));
  auto changes = b->changed_since(seen->version);
  ASSERT_TRUE(changes);
  EXPECT_EQ(changes->tenants, std::vector<std::string>{"t"});
  EXPECT_GT(changes->version, seen->version);

  std::vector<std::string> tenants = {"t", "u"};
  std::vector<Event> events = {make_event("t", "e1", "api_call", "400", at("2026-12-02T00:00:00Z"))};
  const Event* mine[] = {&events[0]};
  auto sync = a->sync_group(tenants, mine);
  ASSERT_TRUE(sync);
  EXPECT_EQ(sync->before, (std::vector<std::int64_t>{1, 0}));  // the grant counted one
  EXPECT_EQ(sync->stored, std::vector<bool>{false});
  // b's group of the tenant waits for a's to commit, then sees its count and its event.
  auto waiting = std::async(std::launch::async, [&] { return b->sync_group(tenants, mine); });
  EXPECT_EQ(waiting.wait_for(std::chrono::milliseconds(300)), std::future_status::timeout);
  a->stage({{entry(credits::Account::kCredit, "paid", "-4"), entry(credits::Account::kUsage, "paid", "4")},
            {},
            {}});
  ASSERT_TRUE(a->append(events));
  auto seen_by_b = waiting.get();
  ASSERT_TRUE(seen_by_b);
  EXPECT_EQ(seen_by_b->before, (std::vector<std::int64_t>{2, 1}));
  EXPECT_EQ(seen_by_b->stored, std::vector<bool>{false});  // ids are asked for after a conflict only
  // b burns for the event a stored: its append finds the id stored and asks for the group again,
  // whose sync then says which ids are stored (the failed group's count rolled back with it).
  b->stage({{entry(credits::Account::kCredit, "paid", "-4"), entry(credits::Account::kUsage, "paid", "4")},
            {},
            {}});
  EXPECT_FALSE(b->append(events));
  EXPECT_TRUE(b->take_redo());
  EXPECT_FALSE(b->take_redo());
  auto again = b->sync_group(tenants, mine);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->before, (std::vector<std::int64_t>{2, 1}));
  EXPECT_EQ(again->stored, std::vector<bool>{true});
  auto duplicate = b->append(events);
  ASSERT_TRUE(duplicate);
  EXPECT_EQ(*duplicate, store::EventLog::AlreadyStored{0});

  // b believes the lot holds 10 (it never saw a's burn): the store voids the 6 it holds.
  credits::LotRecord stale{lot("paid", "k1", "10", credits::Category::kPaid), {}, dec("10"), {}};
  stale.lot.voided_at = at("2026-12-03T00:00:00Z");
  ASSERT_TRUE(b->put_void(stale));
  auto lots = b->grants("t");
  ASSERT_TRUE(lots);
  EXPECT_EQ(lots->front().voided, dec("6"));
  EXPECT_EQ(lots->front().remaining(), Decimal());
  sync = b->sync_group(tenants, {});
  ASSERT_TRUE(sync);
  EXPECT_EQ(sync->before, (std::vector<std::int64_t>{4, 2}));  // a's group, b's, then the void
  ASSERT_TRUE(b->append({}));
}

}  // namespace
}  // namespace meter::testing
