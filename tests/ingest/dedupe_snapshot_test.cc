#include "ingest/dedupe_snapshot.h"

#include <gtest/gtest.h>

#include <fstream>

#include "support/temp_dir.h"

namespace meter::ingest {
namespace {

class DedupeSnapshotTest : public ::testing::Test {
 protected:
  // An index of three ids received on three days, saved with a cursor over two partitions.
  void SetUp() override {
    index_.insert(dedupe_key("acme", "old"), day1_);
    index_.insert(dedupe_key("acme", "a"), day1_ + std::chrono::days(20));
    index_.insert(dedupe_key("globex", "a"), day1_ + std::chrono::days(30));
    ASSERT_TRUE(save_dedupe_snapshot(path_, index_, {day1_, cursor_}));
  }

  std::optional<store::RowCursor> load(InMemoryDedupeIndex& into, Timestamp received_since,
                                       const store::RowCursor& stored) {
    return load_dedupe_snapshot(path_, into, received_since, stored);
  }

  testing::TempDir dir_;
  std::filesystem::path path_ = dir_ / "dedupe.snapshot";
  Timestamp day1_ = *parse_rfc3339("2026-10-01T00:00:00Z");
  store::RowCursor cursor_{{202610, 40}, {202611, 7}};
  InMemoryDedupeIndex index_;
};

// Verifies a saved index comes back whole with its cursor, and the file is read only once.
TEST_F(DedupeSnapshotTest, RoundTripsAndIsReadOnce) {
  InMemoryDedupeIndex loaded;
  auto cursor = load(loaded, day1_, {{202610, 40}, {202611, 9}});
  ASSERT_TRUE(cursor);
  EXPECT_EQ(*cursor, cursor_);
  EXPECT_EQ(loaded.size(), 3u);
  EXPECT_TRUE(loaded.contains(dedupe_key("acme", "old")));
  EXPECT_TRUE(loaded.contains(dedupe_key("globex", "a")));
  EXPECT_FALSE(loaded.contains(dedupe_key("globex", "old")));
  EXPECT_FALSE(std::filesystem::exists(path_));
  InMemoryDedupeIndex again;
  EXPECT_FALSE(load(again, day1_, cursor_));
}

// Verifies ids received before the window are left out of the index.
TEST_F(DedupeSnapshotTest, SkipsIdsBeforeTheWindow) {
  InMemoryDedupeIndex loaded;
  ASSERT_TRUE(load(loaded, day1_ + std::chrono::days(10), cursor_));
  EXPECT_EQ(loaded.size(), 2u);
  EXPECT_FALSE(loaded.contains(dedupe_key("acme", "old")));
}

// Verifies a snapshot that starts later than the window asked for is not used: it may lack ids.
TEST_F(DedupeSnapshotTest, RefusesAWindowReachingFurtherBack) {
  InMemoryDedupeIndex loaded;
  EXPECT_FALSE(load(loaded, day1_ - std::chrono::hours(1), cursor_));
  EXPECT_EQ(loaded.size(), 0u);
  EXPECT_FALSE(std::filesystem::exists(path_));
}

// Verifies a snapshot naming rows the store does not have (a dropped or shorter partition) is
// not used.
TEST_F(DedupeSnapshotTest, RefusesRowsTheStoreLacks) {
  InMemoryDedupeIndex loaded;
  EXPECT_FALSE(load(loaded, day1_, {{202611, 7}}));
  ASSERT_TRUE(save_dedupe_snapshot(path_, index_, {day1_, cursor_}));
  EXPECT_FALSE(load(loaded, day1_, {{202610, 39}, {202611, 7}}));
  EXPECT_EQ(loaded.size(), 0u);
}

// Verifies a damaged or cut file is not used, whichever byte is wrong.
TEST_F(DedupeSnapshotTest, RefusesDamagedFiles) {
  auto size = std::filesystem::file_size(path_);
  for (std::uintmax_t at : {std::uintmax_t{3}, std::uintmax_t{20}, size / 2, size - 1}) {
    ASSERT_TRUE(save_dedupe_snapshot(path_, index_, {day1_, cursor_}));
    {
      std::fstream f(path_, std::ios::in | std::ios::out | std::ios::binary);
      f.seekg(static_cast<std::streamoff>(at));
      char c = 0;
      f.read(&c, 1);
      c = static_cast<char>(c ^ 0x5a);
      f.seekp(static_cast<std::streamoff>(at));
      f.write(&c, 1);
    }
    InMemoryDedupeIndex loaded;
    EXPECT_FALSE(load(loaded, day1_, cursor_)) << "byte " << at;
    EXPECT_EQ(loaded.size(), 0u);
  }
  ASSERT_TRUE(save_dedupe_snapshot(path_, index_, {day1_, cursor_}));
  std::filesystem::resize_file(path_, size - 5);
  InMemoryDedupeIndex loaded;
  EXPECT_FALSE(load(loaded, day1_, cursor_));
}

// Verifies the index can be saved again over an old file, and an unwritable folder is an error.
TEST_F(DedupeSnapshotTest, OverwritesAndReportsUnwritableFolders) {
  ASSERT_TRUE(save_dedupe_snapshot(path_, index_, {day1_, cursor_}));
  auto status = save_dedupe_snapshot(dir_ / "missing" / "dedupe.snapshot", index_, {day1_, cursor_});
  ASSERT_FALSE(status);
  EXPECT_NE(status.error().message.find("missing"), std::string::npos);
}

}  // namespace
}  // namespace meter::ingest
