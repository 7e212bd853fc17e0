#include "tracker/event_lanes.h"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <thread>
#include <vector>

namespace meter {
namespace {

// Verifies every field of every event comes back from drain() as appended, from several
// threads, across drains taken while the threads are still appending, and with a field larger
// than a lane's first buffer (the lane grows and keeps what it held).
TEST(EventLanes, DrainReturnsEveryEventIntact) {
  EventLanes lanes;
  constexpr int kThreads = 3, kEach = 20000;
  const std::string big(300 * 1024, 'x');
  std::map<std::string, std::string> seen;  // id -> tenant|type|quantity|metadata-size|time
  auto collect = [&seen](const PackedEvent& e) {
    seen[std::string(e.id)] = std::string(e.tenant_id) + "|" + std::string(e.event_type) + "|" +
                              std::string(e.quantity) + "|" + std::to_string(e.metadata.size()) + "|" +
                              std::to_string(e.timestamp_ms);
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        std::string id = std::to_string(t) + "-" + std::to_string(i);
        std::string tenant = "tenant_" + std::to_string(t);
        std::string_view metadata = i == kEach / 2 ? std::string_view(big) : std::string_view("{}");
        lanes.append({id, tenant, "query", std::to_string(i), metadata, i});
      }
    });
  }
  std::size_t drained = 0;
  for (int i = 0; i < 5; ++i) drained += lanes.drain(collect);
  for (auto& thread : threads) thread.join();
  drained += lanes.drain(collect);

  EXPECT_EQ(drained, static_cast<std::size_t>(kThreads * kEach));
  EXPECT_EQ(lanes.appended(), static_cast<std::uint64_t>(kThreads * kEach));
  ASSERT_EQ(seen.size(), static_cast<std::size_t>(kThreads * kEach));
  EXPECT_EQ(seen["1-7"], "tenant_1|query|7|2|7");
  EXPECT_EQ(seen["2-10000"], "tenant_2|query|10000|" + std::to_string(big.size()) + "|10000");
  EXPECT_EQ(seen["0-19999"], "tenant_0|query|19999|2|19999");
  EXPECT_EQ(lanes.drain(collect), 0u);
}

}  // namespace
}  // namespace meter
