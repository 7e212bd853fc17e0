#include "ingest/rate_limiter.h"

#include <gtest/gtest.h>

namespace meter::ingest {
namespace {

// Verifies bursts, refill over simulated time, per-tenant independence and retry hints.
TEST(RateLimiter, BucketsPerTenant) {
  SimulatedClock clock(*parse_rfc3339("2026-11-27T10:00:00Z"));
  RateLimiter limiter(clock, 10, 20);
  EXPECT_FALSE(limiter.acquire("a", 20));
  auto wait = limiter.acquire("a", 5);
  ASSERT_TRUE(wait);
  EXPECT_EQ(wait->count(), 500);           // 5 events at 10/s
  EXPECT_FALSE(limiter.acquire("b", 20));  // another tenant has its own bucket
  clock.advance(std::chrono::milliseconds(500));
  EXPECT_FALSE(limiter.acquire("a", 5));
  EXPECT_TRUE(limiter.acquire("a", 1));
  limiter.refund("a", 5);
  EXPECT_FALSE(limiter.acquire("a", 5));
}

// Verifies a batch larger than the burst passes on a full bucket and leaves it in debt.
TEST(RateLimiter, LargeBatchGoesIntoDebt) {
  SimulatedClock clock(*parse_rfc3339("2026-11-27T10:00:00Z"));
  RateLimiter limiter(clock, 100, 100);
  EXPECT_FALSE(limiter.acquire("a", 1000));
  auto wait = limiter.acquire("a", 1);
  ASSERT_TRUE(wait);
  EXPECT_EQ(wait->count(), 9010);  // 900 of debt plus 1, at 100/s
}

// Verifies rate 0 never limits.
TEST(RateLimiter, ZeroRateIsOff) {
  SimulatedClock clock(*parse_rfc3339("2026-11-27T10:00:00Z"));
  RateLimiter limiter(clock, 0, 1);
  for (int i = 0; i < 100; ++i) EXPECT_FALSE(limiter.acquire("a", 1'000'000));
}

}  // namespace
}  // namespace meter::ingest
