#include "credits/credit_book.h"

#include <gtest/gtest.h>

namespace meter::credits {
namespace {

Decimal dec(const char* text) { return *Decimal::parse(text); }
Timestamp at(const char* text) { return *parse_rfc3339(text); }

class CreditBookTest : public ::testing::Test {
 protected:
  CreditBookTest() {
    pricing::Plan plan;
    pricing::MeterPrice call;
    call.event_type = "api_call";
    call.unit_price = dec("0.01");
    plan.prices.push_back(call);
    pricing::MeterPrice volume;
    volume.event_type = "volume_call";
    volume.model = pricing::Model::kVolume;
    volume.tiers = {{dec("10"), dec("1"), {}}, {std::nullopt, dec("0.5"), {}}};
    plan.prices.push_back(volume);
    prices_.plans.push_back(plan);
  }

  Lot lot(const char* id, const char* amount, int priority) {
    Lot l;
    l.id = id;
    l.tenant_id = "acme";
    l.amount = dec(amount);
    l.priority = priority;
    l.effective_at = at("2026-01-01T00:00:00Z");
    return l;
  }

  Event event(const char* type, const char* quantity) {
    Event e;
    e.id = "e" + std::to_string(++events_);
    e.tenant_id = "acme";
    e.event_type = type;
    e.quantity = dec(quantity);
    e.timestamp = e.received_at = at("2026-11-10T00:00:00Z");
    return e;
  }

  Decimal remaining(const char* id) { return book_.lot("acme", id)->remaining(); }

  static Decimal sum(const std::vector<Entry>& entries) {
    Decimal total;
    for (const auto& e : entries) total = *total.checked_add(e.amount);
    return total;
  }

  pricing::PriceBook prices_;
  CreditBook book_{prices_, [this](std::string_view) -> const pricing::Plan& { return prices_.plans[0]; },
                   [](std::string_view) { return quota::Zone::utc(); }};
  int events_ = 0;
};

// Verifies lots burn in priority order, a rolled-back group restores every lot and line, and a
// group's journal sums to zero.
TEST_F(CreditBookTest, BurnsInOrderAndRollsBack) {
  book_.add_lot({lot("late", "1", 60), {}, {}, {}});
  book_.add_lot({lot("first", "0.05", 10), {}, {}, {}});
  book_.set_enforcement("acme", Enforcement::kHard);
  book_.load_month("acme", 202611, {}, {});
  EXPECT_FALSE(book_.admit(event("api_call", "3")));
  EXPECT_EQ(remaining("first"), dec("0.02"));
  book_.settle();
  EXPECT_FALSE(book_.admit(event("api_call", "4")));
  EXPECT_EQ(remaining("first"), Decimal());
  EXPECT_EQ(remaining("late"), dec("0.98"));
  auto journal = book_.journal();
  EXPECT_EQ(journal.size(), 4u);  // credit and usage, for each of two lots
  EXPECT_TRUE(sum(journal).is_zero());
  book_.rollback();
  EXPECT_EQ(remaining("first"), dec("0.02"));
  EXPECT_EQ(remaining("late"), dec("1"));
  EXPECT_TRUE(book_.journal().empty());
  // The line went back too: the same event costs the same again.
  EXPECT_FALSE(book_.admit(event("api_call", "4")));
  EXPECT_EQ(remaining("late"), dec("0.98"));
}

// Verifies a refusal by the admission asked after the credit (a quota) burns nothing, and a
// hard refusal says what is usable.
TEST_F(CreditBookTest, RefusalsBurnNothing) {
  book_.add_lot({lot("only", "0.05", 50), {}, {}, {}});
  book_.set_enforcement("acme", Enforcement::kHard);
  book_.load_month("acme", 202611, {}, {});
  auto quota = [] { return std::optional<Error>(Error{ErrorCode::kRateLimited, "over", "queries_per_day"}); };
  auto refused = book_.admit(event("api_call", "1"), quota);
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->code, ErrorCode::kRateLimited);
  EXPECT_EQ(remaining("only"), dec("0.05"));
  auto unpaid = book_.admit(event("api_call", "6"));
  ASSERT_TRUE(unpaid);
  EXPECT_EQ(unpaid->code, ErrorCode::kPaymentRequired);
  EXPECT_NE(unpaid->message.find("0.05 of usable credit"), std::string::npos) << unpaid->message;
  EXPECT_EQ(remaining("only"), dec("0.05"));
}

// Verifies a cheaper volume tier gives back what the line no longer costs: first what no credit
// covered (soft mode), then credit, from the lot burnt last.
TEST_F(CreditBookTest, GivesBackDueFirstThenTheLastLot) {
  book_.add_lot({lot("a", "6", 10), {}, {}, {}});
  book_.add_lot({lot("b", "3", 20), {}, {}, {}});
  book_.set_enforcement("acme", Enforcement::kSoft);
  book_.load_month("acme", 202611, {}, {});
  EXPECT_FALSE(book_.admit(event("volume_call", "10")));  // 10 x 1: a 6, b 3, 1 due
  EXPECT_EQ(remaining("b"), Decimal());
  EXPECT_FALSE(book_.admit(event("volume_call", "6")));  // 16 x 0.5 = 8: 2 back (1 due, then 1 to b)
  EXPECT_EQ(remaining("a"), Decimal());
  EXPECT_EQ(remaining("b"), dec("1"));
  EXPECT_TRUE(sum(book_.journal()).is_zero());
}

// Verifies the state loaded for a month (after a restart) prices the next event from where the
// month stands, and its burns unwind to the lots the ledger says paid.
TEST_F(CreditBookTest, LoadedMonthContinuesWhereItStood) {
  LotRecord a{lot("a", "20", 10), dec("10"), {}, {}};
  book_.add_lot(a);
  book_.set_enforcement("acme", Enforcement::kHard);
  MonthLedger ledger;
  ledger.burnt[{"a", "volume_call"}] = dec("10");
  book_.load_month("acme", 202611, {{"volume_call", dec("10")}}, ledger);
  EXPECT_FALSE(book_.admit(event("volume_call", "2")));  // 12 x 0.5 = 6: 4 back to a
  EXPECT_EQ(remaining("a"), dec("14"));
  auto quote = book_.quote(event("volume_call", "1"));
  ASSERT_TRUE(quote);
  EXPECT_EQ(quote->cost, dec("0.5"));
  EXPECT_TRUE(quote->admitted);
}

}  // namespace
}  // namespace meter::credits

namespace meter::credits {
namespace {

// Verifies a group that takes the balance below a rule's threshold crosses it once, zero is a
// crossing of its own, a top-up with a lot awaiting payment is not asked again, and a group that
// stays below crosses nothing.
TEST_F(CreditBookTest, GroupsCrossThresholdsOnce) {
  book_.add_lot({lot("a", "0.05", 10), {}, {}, {}});
  book_.set_enforcement("acme", Enforcement::kSoft);
  book_.load_month("acme", 202611, {}, {});
  Rule low;
  low.id = "low";
  low.kind = RuleKind::kLowBalance;
  low.threshold = dec("0.03");
  Rule top = low;
  top.id = "top";
  top.kind = RuleKind::kTopUp;
  book_.set_rules("acme", {low, top});
  Timestamp now = at("2026-11-10T00:00:00Z");
  ASSERT_FALSE(book_.admit(event("api_call", "1")));
  EXPECT_TRUE(book_.crossings(now).empty());  // 0.05 -> 0.04
  book_.settle();
  ASSERT_FALSE(book_.admit(event("api_call", "1")));
  ASSERT_FALSE(book_.admit(event("api_call", "1")));
  auto crossed = book_.crossings(now);  // 0.04 -> 0.02
  ASSERT_EQ(crossed.size(), 2u);
  EXPECT_EQ(crossed[0].rule->id, "low");
  EXPECT_EQ(crossed[1].rule->id, "top");
  EXPECT_EQ(crossed[0].before, dec("0.04"));
  EXPECT_EQ(crossed[0].after, dec("0.02"));
  book_.settle();
  Lot pending = lot("t1", "1", 50);
  pending.rule_id = "top";
  pending.awaits_payment = true;
  book_.add_lot({pending, {}, {}, {}});
  ASSERT_FALSE(book_.admit(event("api_call", "1")));
  EXPECT_TRUE(book_.crossings(now).empty());  // 0.02 -> 0.01: below already
  book_.settle();
  ASSERT_FALSE(book_.admit(event("api_call", "5")));
  crossed = book_.crossings(now);  // 0.01 -> 0, the rest due
  ASSERT_EQ(crossed.size(), 1u);
  EXPECT_FALSE(crossed[0].rule);
  book_.settle();
  // Paid: the top-up is spendable, and the next crossing of 0.03 asks again.
  ASSERT_TRUE(book_.activate("acme", "t1"));
  for (int i = 0; i < 98; ++i) ASSERT_FALSE(book_.admit(event("api_call", "1")));
  crossed = book_.crossings(now);  // 1.00 -> 0.02
  ASSERT_EQ(crossed.size(), 2u);
  EXPECT_EQ(crossed[1].rule->id, "top");
}

}  // namespace
}  // namespace meter::credits
