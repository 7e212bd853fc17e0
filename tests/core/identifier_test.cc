#include "core/identifier.h"

#include <gtest/gtest.h>

#include <set>
#include <thread>
#include <vector>

namespace meter {
namespace {

// Verifies the identifier charset and length limit.
TEST(Identifier, ChecksCharsetAndLength) {
  EXPECT_FALSE(check_identifier("tenant_acme"));
  EXPECT_FALSE(check_identifier("org:42/proj.a-b@x+y=z"));
  EXPECT_TRUE(check_identifier(""));
  EXPECT_TRUE(check_identifier("has space"));
  EXPECT_TRUE(check_identifier(std::string("nul\0byte", 8)));
  EXPECT_TRUE(check_identifier("quote'"));
  EXPECT_TRUE(check_identifier("caf\xc3\xa9"));
  EXPECT_FALSE(check_identifier(std::string(kMaxIdentifierLength, 'a')));
  EXPECT_TRUE(check_identifier(std::string(kMaxIdentifierLength + 1, 'a')));
}

// Verifies generated ids are valid identifiers, UUIDv7-shaped, time-ordered and distinct.
TEST(Identifier, GeneratesDistinctOrderedUuid7) {
  std::set<std::string> seen;
  std::string previous;
  for (int i = 0; i < 10000; ++i) {
    auto id = new_event_id(from_unix_ms(1795773600000 + i));
    ASSERT_EQ(id.size(), 36u);
    EXPECT_EQ(id[14], '7');
    EXPECT_FALSE(check_identifier(id));
    EXPECT_GT(id, previous);
    previous = id;
    seen.insert(id);
  }
  EXPECT_EQ(seen.size(), 10000u);
}

// Verifies ids made in the same millisecond on several threads never collide (each thread's
// random state is seeded on its own).
TEST(Identifier, SameMillisecondOnSeveralThreadsIsDistinct) {
  constexpr int kThreads = 4, kEach = 20000;
  std::vector<std::vector<std::string>> made(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&made, t] {
      for (int i = 0; i < kEach; ++i) made[t].push_back(new_event_id(from_unix_ms(1795773600000)));
    });
  }
  for (auto& thread : threads) thread.join();
  std::set<std::string> seen;
  for (const auto& ids : made) seen.insert(ids.begin(), ids.end());
  EXPECT_EQ(seen.size(), static_cast<std::size_t>(kThreads * kEach));
}

}  // namespace
}  // namespace meter
