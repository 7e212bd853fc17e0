#include "meter/tracker.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <thread>

#include "meter/store_sink.h"
#include "support/meterd_process.h"
#include "support/temp_dir.h"

namespace meter::testing {
namespace {

TrackedEvent query(std::string tenant, std::string id = "") {
  TrackedEvent e;
  e.tenant_id = std::move(tenant);
  e.event_type = "query";
  e.id = std::move(id);
  return e;
}

// Events this tenant has stored in meterd this month (from /v1/usage's totals).
std::string stored(MeterdProcess& meterd, const std::string& tenant) {
  std::string body = meterd.get("/v1/usage?tenant_id=" + tenant + "&window=month").body;
  auto at = body.find("\"totals\":[{\"event_type\":\"query\",\"quantity\":\"");
  if (at == std::string::npos) return "0";
  at += std::string("\"totals\":[{\"event_type\":\"query\",\"quantity\":\"").size();
  return body.substr(at, body.find('"', at) - at);
}

class TrackerTest : public ::testing::Test {
 protected:
  TrackerOptions options() {
    TrackerOptions o;
    o.url = "http://127.0.0.1:" + std::to_string(port_);
    o.batch_size = 100;
    o.flush_interval = std::chrono::milliseconds(50);
    o.spill_path = dir_ / "spill.jsonl";
    o.retry_backoff = std::chrono::milliseconds(10);
    return o;
  }
  // Room for 10 events that leave only on flush(): what happens to the 11th is the policy's.
  TrackerOptions full_after_ten(OverflowPolicy policy) {
    TrackerOptions o = options();
    o.capacity = 10;
    o.batch_size = 1000;                       // nothing leaves on size
    o.flush_interval = std::chrono::hours(1);  // nor on time
    o.overflow = policy;
    return o;
  }
  TempDir dir_;
  // Where options() sends: meterd's port once a test started it; before that, a free one
  // (SpillsWhileUnreachableAndShipsOnce starts meterd there later).
  int port_ = free_port();
};

// Verifies tracked events reach meterd in batches, from several threads, each once.
TEST_F(TrackerTest, ShipsToMeterd) {
  MeterdProcess meterd((dir_ / "data").string());
  port_ = meterd.port();
  Tracker tracker(options());
  std::vector<std::thread> producers;
  for (int t = 0; t < 2; ++t) {
    producers.emplace_back([&tracker] {
      for (int i = 0; i < 1250; ++i) tracker.track(query("acme"));
    });
  }
  for (auto& p : producers) p.join();
  tracker.flush();
  EXPECT_EQ(tracker.stats().sent, 2500u);
  EXPECT_EQ(tracker.stats().tracked, 2500u);
  EXPECT_EQ(stored(meterd, "acme"), "2500");
  EXPECT_FALSE(std::filesystem::exists(dir_ / "spill.jsonl"));
}

// Verifies events tracked while meterd is down are spilled, then shipped exactly once when it
// is back, also when the spill is shipped again (a crash before it was removed).
TEST_F(TrackerTest, SpillsWhileUnreachableAndShipsOnce) {
  {
    Tracker tracker(options());
    for (int i = 0; i < 150; ++i) tracker.track(query("down", "down-" + std::to_string(i)));
    tracker.flush();
    EXPECT_EQ(tracker.stats().spilled, 150u);
    EXPECT_EQ(tracker.stats().sent, 0u);
    const std::string error = tracker.stats().last_error;
    EXPECT_NE(error.find("cannot reach meterd at http://127.0.0.1:" + std::to_string(port_)),
              std::string::npos)
        << error;
    EXPECT_NE(error.find("spill file"), std::string::npos) << error;
  }  // the application stops while meterd is still down
  ASSERT_TRUE(std::filesystem::exists(dir_ / "spill.jsonl"));
  std::filesystem::copy_file(dir_ / "spill.jsonl", dir_ / "copy.jsonl");

  MeterdProcess meterd(port_, (dir_ / "data").string());
  {
    Tracker tracker(options());
    tracker.flush();
    EXPECT_EQ(tracker.stats().sent, 150u);
  }
  EXPECT_EQ(stored(meterd, "down"), "150");
  EXPECT_FALSE(std::filesystem::exists(dir_ / "spill.jsonl"));
  // The same spill again: meterd already has every id.
  std::filesystem::rename(dir_ / "copy.jsonl", dir_ / "spill.jsonl");
  Tracker again(options());
  again.flush();
  EXPECT_EQ(stored(meterd, "down"), "150");
}

// Verifies a refused API key is said in stats().last_error, naming the option to set, and that
// the right key then ships the events that waited.
TEST_F(TrackerTest, RefusedKeyIsExplained) {
  std::string data = (dir_ / "data").string();
  std::string command = std::string(METERD_BIN) + " keys create --admin --data-dir " + data + " 2>/dev/null";
  std::FILE* out = ::popen(command.c_str(), "r");
  ASSERT_NE(out, nullptr);
  std::string printed;
  for (char buffer[256]; std::fgets(buffer, sizeof buffer, out) != nullptr;) printed += buffer;
  ASSERT_EQ(::pclose(out), 0);
  std::string key = printed.substr(printed.find("mk_"));
  key = key.substr(0, key.find_first_of(" \n"));
  MeterdProcess meterd(data);
  port_ = meterd.port();

  TrackerOptions o = options();
  o.api_key = "mk_not_a_key";
  {
    Tracker tracker(o);
    tracker.track(query("keyed", "keyed-1"));
    tracker.flush();
    EXPECT_EQ(tracker.stats().sent, 0u);
    const std::string error = tracker.stats().last_error;
    EXPECT_NE(error.find("answered 401"), std::string::npos) << error;
    EXPECT_NE(error.find("TrackerOptions::api_key"), std::string::npos) << error;
  }
  o.api_key = key;
  Tracker tracker(o);
  tracker.flush();
  EXPECT_EQ(tracker.stats().sent, 1u);
  EXPECT_EQ(tracker.stats().last_error, "");
}

// Verifies events that can be neither sent nor spilled are counted as dropped and explained,
// never counted as spilled.
TEST_F(TrackerTest, UnwritableSpillIsExplained) {
  TrackerOptions o = options();
  o.spill_path = dir_ / "missing-folder" / "spill.jsonl";
  Tracker tracker(o);
  for (int i = 0; i < 5; ++i) tracker.track(query("lost"));
  tracker.flush();
  EXPECT_EQ(tracker.stats().spilled, 0u);
  EXPECT_EQ(tracker.stats().dropped, 5u);
  const std::string error = tracker.stats().last_error;
  EXPECT_NE(error.find("cannot write the spill file"), std::string::npos) << error;
  EXPECT_NE(error.find("5 events were lost"), std::string::npos) << error;
}

// Verifies the drop policy refuses, and counts, what does not fit.
TEST_F(TrackerTest, DropPolicyCounts) {
  Tracker tracker(full_after_ten(OverflowPolicy::kDrop));
  int refused = 0;
  for (int i = 0; i < 25; ++i) refused += tracker.track(query("drop")) ? 0 : 1;
  EXPECT_EQ(refused, 15);
  EXPECT_EQ(tracker.stats().dropped, 15u);
  EXPECT_EQ(tracker.stats().tracked, 10u);
}

// Verifies the spill policy writes what does not fit to the spill file, and that flush() ships
// both the buffer and the spill: every event once.
TEST_F(TrackerTest, SpillPolicyShipsOverflowOnce) {
  MeterdProcess meterd((dir_ / "data").string());
  port_ = meterd.port();
  Tracker tracker(full_after_ten(OverflowPolicy::kSpill));
  for (int i = 0; i < 25; ++i) EXPECT_TRUE(tracker.track(query("overflow", "overflow-" + std::to_string(i))));
  EXPECT_EQ(tracker.stats().tracked, 25u);
  EXPECT_EQ(tracker.stats().spilled, 15u);
  tracker.flush();
  EXPECT_EQ(tracker.stats().sent, 25u);
  EXPECT_EQ(stored(meterd, "overflow"), "25");
  EXPECT_FALSE(std::filesystem::exists(dir_ / "spill.jsonl"));
}

// Verifies the block policy waits for room instead of losing events.
TEST_F(TrackerTest, BlockPolicyLosesNothing) {
  MeterdProcess meterd((dir_ / "data").string());
  port_ = meterd.port();
  TrackerOptions o = options();
  o.capacity = 20;
  o.overflow = OverflowPolicy::kBlock;
  Tracker tracker(o);
  for (int i = 0; i < 500; ++i) ASSERT_TRUE(tracker.track(query("block")));
  tracker.flush();
  EXPECT_EQ(tracker.stats().sent, 500u);
  EXPECT_EQ(stored(meterd, "block"), "500");
}

// Verifies an invalid event is rejected by meterd alone and never retried.
TEST_F(TrackerTest, InvalidEventsAreRejectedAlone) {
  MeterdProcess meterd((dir_ / "data").string());
  port_ = meterd.port();
  Tracker tracker(options());
  tracker.track(query("mixed"));
  TrackedEvent bad = query("mixed");
  bad.quantity = "a lot";
  tracker.track(bad);
  tracker.flush();
  EXPECT_EQ(tracker.stats().sent, 1u);
  EXPECT_EQ(tracker.stats().rejected, 1u);
  EXPECT_EQ(stored(meterd, "mixed"), "1");
}

// Verifies a tracker with the store sink writes straight into a data folder: valid events once
// each (a repeated id is known, an invalid event rejected alone), and the real meterd serving
// that folder afterwards answers usage over them.
TEST_F(TrackerTest, StoreSinkWritesStraightToTheStore) {
  std::filesystem::path data = dir_ / "data";
  {
    Tracker tracker(options(), store_sink(data));
    for (int i = 0; i < 300; ++i) tracker.track(query("direct", "direct-" + std::to_string(i)));
    tracker.flush();
    for (int i = 0; i < 50; ++i) tracker.track(query("direct", "direct-" + std::to_string(i)));
    TrackedEvent bad = query("direct");
    bad.metadata = "[1, 2]";
    tracker.track(bad);
    tracker.flush();
    EXPECT_EQ(tracker.stats().sent, 350u);
    EXPECT_EQ(tracker.stats().rejected, 1u);
    EXPECT_EQ(tracker.stats().spilled, 0u);
  }
  {
    Tracker reopened(options(), store_sink(data));  // resumes the dedupe index on disk
    for (int i = 0; i < 10; ++i) reopened.track(query("direct", "direct-" + std::to_string(i)));
    reopened.flush();
    EXPECT_EQ(reopened.stats().sent, 10u);
  }
  EXPECT_TRUE(std::filesystem::is_directory(data / "dedupe"));
  MeterdProcess meterd(data.string());
  port_ = meterd.port();
  EXPECT_EQ(stored(meterd, "direct"), "300");
}

// Verifies a store that cannot be opened is said at once, naming the file.
TEST_F(TrackerTest, StoreSinkNamesAStoreItCannotOpen) {
  std::filesystem::create_directories(dir_ / "taken" / "meterd.db");  // a folder where the file goes
  try {
    store_sink(dir_ / "taken");
    FAIL() << "expected an error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("meterd.db"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace meter::testing
