#include "ingest/credit_calendar.h"

#include <gtest/gtest.h>

#include "credits/statement.h"
#include "ingest/credit_admission.h"
#include "store/sqlite/sqlite_store.h"
#include "support/events.h"
#include "support/temp_dir.h"

namespace meter::ingest {
namespace {

Decimal dec(const char* text) { return *Decimal::parse(text); }
Timestamp at(const char* text) { return *parse_rfc3339(text); }

// A recurring rule on a real store, in simulated time; usage burnt through the book as the
// ingest writer would.
class CreditCalendarTest : public ::testing::Test {
 protected:
  CreditCalendarTest() {
    pricing::Plan plan;
    plan.name = "api";
    pricing::MeterPrice call;
    call.event_type = "api_call";
    call.unit_price = dec("0.01");
    plan.prices.push_back(call);
    prices_.plans.push_back(plan);
    prices_.default_plan = "api";
    EXPECT_TRUE(credits_.load({}));
    EXPECT_TRUE(credits_.set_enforcement("acme", credits::Enforcement::kHard));
  }

  // `count` api_call events at `when`, stored with their burns as the ingest writer stores them:
  // what was admitted.
  int use(int count, const char* when) {
    auto& book = credits_.book();
    std::vector<Event> admitted;
    for (int i = 0; i < count; ++i) {
      Event e = testing::make_event("acme", "e" + std::to_string(++events_), "api_call", "1", at(when));
      if (auto month = book.month_to_load(e)) book.load_month("acme", *month, {}, {});
      if (!book.admit(e)) admitted.push_back(e);
    }
    store_.stage({book.journal(), {}, {}});
    EXPECT_TRUE(store_.append(admitted));
    book.settle();
    return static_cast<int>(admitted.size());
  }

  credits::Statement statement(const char* from, const char* to) {
    auto lots = store_.grants("acme");
    auto txns = store::all_transactions(store_, "acme");
    EXPECT_TRUE(lots && txns);
    return credits::statement(*lots, *txns, at(from), at(to));
  }

  std::map<std::string, credits::LotRecord> lots() {
    std::map<std::string, credits::LotRecord> out;
    auto balance = credits_.book().balance("acme", clock_.now());
    for (auto& r : balance->lots) out[r.lot.name] = r;
    return out;
  }

  testing::TempDir dir_;
  store::sqlite::SqliteStore store_{{dir_.path() / "meter.db"}};
  pricing::PriceBook prices_;
  quota::QuotaBook tenants_{quota::TenantQuota{}};
  CreditService credits_{prices_, tenants_, store_};
  SimulatedClock clock_{at("2026-01-10T00:00:00Z")};
  std::vector<std::vector<credits::Notice>> sent_;
  CreditCalendar calendar_{credits_, clock_, [this](auto notices) { sent_.push_back(std::move(notices)); }};
  int events_ = 0;
};

// Golden case 20: a monthly $10.00 lot whose end rolls at most $5.00 into a priority-40 lot
// expiring 2 months later. January uses $3.00: on Feb 1, 5.00 rolls over and 2.00 expires;
// February uses $6.00: the rolled lot pays 5.00 first, February's lot 1.00. Runs repeat
// without booking anything twice, also from a fresh calendar (a restart).
TEST_F(CreditCalendarTest, RecurringLotRollsOverCapped) {
  credits::Rule rule;
  rule.id = "r1";
  rule.tenant_id = "acme";
  rule.kind = credits::RuleKind::kRecurring;
  rule.amount = dec("10");
  rule.starts = 202601;
  rule.rollover_max = dec("5");
  rule.rollover_priority = 40;
  rule.rollover_expires_after = "P2M";
  rule.created_at = clock_.now();
  ASSERT_TRUE(credits_.add_rule(rule));
  ASSERT_TRUE(calendar_.run());
  ASSERT_TRUE(calendar_.run());
  ASSERT_EQ(lots().size(), 1u);
  EXPECT_EQ(lots()["2026-01"].lot.expires_at, at("2026-02-01T00:00:00Z"));
  EXPECT_EQ(use(300, "2026-01-20T00:00:00Z"), 300);

  clock_.set(at("2026-02-01T00:00:05Z"));
  ASSERT_TRUE(calendar_.run());
  CreditCalendar restarted{credits_, clock_, nullptr};
  ASSERT_TRUE(restarted.run());
  auto all = lots();
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all["2026-01"].rolled, dec("5"));
  EXPECT_EQ(all["2026-01"].remaining(), dec("2"));  // breakage, unless a late January event draws it
  const auto& rolled = all["rollover of 2026-01"];
  EXPECT_EQ(rolled.lot.amount, dec("5"));
  EXPECT_EQ(rolled.lot.priority, 40);
  EXPECT_EQ(rolled.lot.effective_at, at("2026-02-01T00:00:00Z"));
  EXPECT_EQ(rolled.lot.expires_at, at("2026-04-01T00:00:00Z"));
  EXPECT_EQ(use(600, "2026-02-10T00:00:00Z"), 600);
  all = lots();
  EXPECT_EQ(all["rollover of 2026-01"].consumed, dec("5"));
  EXPECT_EQ(all["2026-02"].consumed, dec("1"));
  EXPECT_EQ(all["2026-02"].remaining(), dec("9"));

  // The store agrees: lots, the rollover transaction, and the projections.
  auto stored = store_.grants("acme");
  ASSERT_TRUE(stored);
  ASSERT_EQ(stored->size(), 3u);
  EXPECT_EQ((*stored)[0].rolled, dec("5"));
  auto txns = store::all_transactions(store_, "acme");
  ASSERT_TRUE(txns);
  int rollovers = 0;
  for (const auto& t : *txns) {
    Decimal sum;
    for (const auto& e : t.entries) sum = *sum.checked_add(e.amount);
    EXPECT_TRUE(sum.is_zero()) << t.kind;
    if (t.kind == "rollover") ++rollovers;
  }
  EXPECT_EQ(rollovers, 1);

  // January: 10 granted, 3 consumed, 7 expired of which 5 rolled over. February: the rollover
  // lot granted 5 and consumed 5; February's lot granted 10, consumed 1, expired 9.
  clock_.set(at("2026-03-01T00:00:00Z"));
  auto jan = statement("2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z");
  ASSERT_EQ(jan.lots.size(), 1u);
  const auto& t = jan.total;
  EXPECT_EQ(std::tuple(t.opening, t.granted, t.consumed, t.expired, t.rolled_over, t.closing),
            std::tuple(dec("0"), dec("10"), dec("3"), dec("7"), dec("5"), dec("0")));
  auto feb = statement("2026-02-01T00:00:00Z", "2026-03-01T00:00:00Z");
  ASSERT_EQ(feb.lots.size(), 2u);
  std::map<std::string, credits::StatementLine> by_name;
  for (const auto& l : feb.lots) by_name[l.name] = l;
  const auto& r = by_name["rollover of 2026-01"];
  EXPECT_EQ(std::tuple(r.granted, r.consumed, r.closing), std::tuple(dec("5"), dec("5"), dec("0")));
  const auto& f = by_name["2026-02"];
  EXPECT_EQ(std::tuple(f.granted, f.consumed, f.expired, f.closing),
            std::tuple(dec("10"), dec("1"), dec("9"), dec("0")));
}

// Verifies credits.expiring_soon fires once per lot and horizon (30 days, then 7), only for a
// lot with credit left.
TEST_F(CreditCalendarTest, ExpiryNoticesOncePerHorizon) {
  credits::Lot lot;
  lot.id = "g1";
  lot.tenant_id = "acme";
  lot.name = "promo";
  lot.amount = dec("1");
  lot.effective_at = at("2026-01-01T00:00:00Z");
  lot.expires_at = at("2026-03-01T00:00:00Z");
  lot.created_at = clock_.now();
  lot.idempotency_key = "k1";
  ASSERT_TRUE(credits_.grant(lot));
  ASSERT_TRUE(calendar_.run());
  EXPECT_TRUE(sent_.empty());  // 50 days out
  clock_.set(at("2026-02-05T00:00:00Z"));
  ASSERT_TRUE(calendar_.run());
  ASSERT_TRUE(calendar_.run());
  ASSERT_EQ(sent_.size(), 1u);
  EXPECT_EQ(sent_[0][0].type, "credits.expiring_soon");
  EXPECT_EQ(sent_[0][0].ref, "g1:P30D");
  EXPECT_NE(sent_[0][0].body.find("\"remaining\":\"1\""), std::string::npos);
  clock_.set(at("2026-02-25T00:00:00Z"));
  ASSERT_TRUE(calendar_.run());
  ASSERT_TRUE(calendar_.run());
  ASSERT_EQ(sent_.size(), 2u);
  EXPECT_EQ(sent_[1][0].ref, "g1:P7D");
  auto recorded = store_.notices("acme", 10, false);
  ASSERT_TRUE(recorded);
  EXPECT_EQ(recorded->size(), 2u);
}

// Verifies a month whose invoice is finalized (asked when its line state is first loaded, as
// after a restart) burns nothing for a late event, while an open month burns.
TEST_F(CreditCalendarTest, FinalizedMonthLoadedAfterRestartBurnsNothing) {
  credits::Lot lot;
  lot.id = "g1";
  lot.tenant_id = "acme";
  lot.amount = dec("1");
  lot.effective_at = at("2026-01-01T00:00:00Z");
  lot.created_at = clock_.now();
  lot.idempotency_key = "k1";
  ASSERT_TRUE(credits_.grant(lot));
  auto no_usage = [](std::string_view, int) -> Result<std::map<std::string, Decimal>> {
    return std::map<std::string, Decimal>();
  };
  CreditAdmission admission(credits_.book(), store_, no_usage, nullptr, clock_,
                            [](std::string_view) { return std::string("USD"); });
  admission.finalized_by([](std::string_view, int month) -> Result<bool> { return month == 202512; });
  Event late = testing::make_event("acme", "late", "api_call", "10", at("2025-12-31T10:00:00Z"));
  Event now = testing::make_event("acme", "now", "api_call", "10", at("2026-01-10T00:00:00Z"));
  const Event* group[] = {&late, &now};
  ASSERT_TRUE(admission.prepare(group));
  EXPECT_FALSE(admission.admit(late));
  EXPECT_EQ(credits_.book().lot("acme", "g1")->remaining(), dec("1"));
  EXPECT_FALSE(admission.admit(now));
  EXPECT_EQ(credits_.book().lot("acme", "g1")->remaining(), dec("0.9"));
  admission.rollback();
}

}  // namespace
}  // namespace meter::ingest
