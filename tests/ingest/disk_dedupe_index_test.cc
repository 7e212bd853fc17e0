#include "ingest/disk_dedupe_index.h"

#include <gtest/gtest.h>
#include <rocksdb/db.h>

#include <fstream>
#include <thread>

#include "support/temp_dir.h"

namespace meter::ingest {
namespace {

class DiskDedupeIndexTest : public ::testing::Test {
 protected:
  std::unique_ptr<DiskDedupeIndex> open(DiskDedupeIndex::Options options = {}) {
    auto index = DiskDedupeIndex::open(dir_ / "dedupe", options);
    EXPECT_TRUE(index) << index.error().message;
    return index ? std::move(*index) : nullptr;
  }

  testing::TempDir dir_;
  Timestamp t0_ = *parse_rfc3339("2026-11-01T00:00:00Z");
  DedupeKey a_ = dedupe_key("acme", "a");
  DedupeKey b_ = dedupe_key("acme", "b");
  store::RowCursor cursor_{{202610, 40}, {202611, 7}};
};

// Verifies a claim reaches the disk only through stored(), with the checkpoint beside it.
TEST_F(DiskDedupeIndexTest, ClaimsReachTheDiskOnlyWhenStored) {
  {
    auto index = open();
    EXPECT_FALSE(index->checkpoint());
    EXPECT_TRUE(index->insert(a_, t0_));
    EXPECT_FALSE(index->insert(a_, t0_));
    EXPECT_TRUE(index->contains(a_));
  }  // never stored: its event was not written
  {
    auto index = open();
    EXPECT_FALSE(index->contains(a_));
    EXPECT_TRUE(index->insert(a_, t0_));
    ASSERT_TRUE(index->stored(&cursor_));
    EXPECT_TRUE(index->insert(b_, t0_));
    ASSERT_TRUE(index->stored(nullptr));
  }
  auto index = open();
  EXPECT_TRUE(index->contains(a_));
  EXPECT_TRUE(index->contains(b_));
  EXPECT_FALSE(index->insert(b_, t0_));
  EXPECT_EQ(index->checkpoint(), cursor_);
}

// Verifies a file left half written by a process that died is removed, and the ids already
// added are still there.
TEST_F(DiskDedupeIndexTest, RemovesAFileLeftHalfWritten) {
  {
    auto index = open();
    index->insert(a_, t0_);
    ASSERT_TRUE(index->stored(&cursor_));
  }
  auto left = dir_ / "dedupe" / "add-1.sst";
  std::ofstream(left) << "half a file";
  auto index = open();
  EXPECT_FALSE(std::filesystem::exists(left));
  EXPECT_TRUE(index->contains(a_));
  EXPECT_EQ(index->checkpoint(), cursor_);
}

// Verifies a withdrawn claim leaves the id free.
TEST_F(DiskDedupeIndexTest, ErasedClaimIsFree) {
  auto index = open();
  EXPECT_TRUE(index->insert(a_, t0_));
  index->erase(a_);
  EXPECT_FALSE(index->contains(a_));
  EXPECT_TRUE(index->insert(a_, t0_));
}

// Verifies ids received before the cutoff count as absent and may be claimed again.
TEST_F(DiskDedupeIndexTest, ExpiredIdsAreAbsent) {
  auto index = open();
  index->insert(a_, t0_);
  index->insert(b_, t0_ + std::chrono::days(10));
  ASSERT_TRUE(index->stored(nullptr));
  index->expire(t0_ + std::chrono::days(1));
  EXPECT_FALSE(index->contains(a_));
  EXPECT_TRUE(index->contains(b_));
  EXPECT_TRUE(index->insert(a_, t0_ + std::chrono::days(2)));
  ASSERT_TRUE(index->stored(nullptr));
  EXPECT_TRUE(index->contains(a_));
}

// Verifies a start goes on from the checkpoint only when the store still has every row it
// names; otherwise the index is cleared, to be rebuilt from the events.
TEST_F(DiskDedupeIndexTest, ResumesOnlyFromRowsTheStoreHas) {
  auto stored_with_checkpoint = [&] {
    {
      auto index = open();
      index->insert(a_, t0_);
      EXPECT_TRUE(index->stored(&cursor_));
    }  // a clean stop writes the ids out
    return open();
  };
  for (const store::RowCursor& fine : {store::RowCursor{{202610, 40}, {202611, 9}},
                                       store::RowCursor{{202611, 7}, {202612, 1}}}) {  // 202610 dropped
    auto index = stored_with_checkpoint();
    auto resume = index->resume_point(fine);
    ASSERT_TRUE(resume);
    EXPECT_EQ(*resume, cursor_);
    EXPECT_TRUE(index->contains(a_));
  }
  for (const store::RowCursor& other :
       {store::RowCursor{{202610, 39}, {202611, 7}}, store::RowCursor{{202610, 40}}, store::RowCursor{}}) {
    auto index = stored_with_checkpoint();
    auto resume = index->resume_point(other);
    ASSERT_TRUE(resume);
    EXPECT_FALSE(*resume);
    EXPECT_FALSE(index->contains(a_));
    EXPECT_FALSE(index->checkpoint());
  }
}

// Verifies the window filter saved at a clean stop answers at once at the next start, and is
// read once: a start after a crash (no file) or with a file from an earlier stop (its nonce gone)
// builds it again from the disk, answering from RocksDB meanwhile.
TEST_F(DiskDedupeIndexTest, TrustsOnlyTheFilterOfTheLastCleanStop) {
  auto filter = dir_ / "dedupe" / "window.filter";
  {
    auto index = open();
    index->insert(a_, t0_);
    ASSERT_TRUE(index->stored(&cursor_));
  }
  ASSERT_TRUE(std::filesystem::exists(filter));
  auto earlier = dir_ / "earlier.filter";
  std::filesystem::copy_file(filter, earlier);
  {
    auto index = open();
    EXPECT_TRUE(index->filter_ready());
    EXPECT_FALSE(std::filesystem::exists(filter));  // read once
    EXPECT_TRUE(index->contains(a_));
    EXPECT_TRUE(index->insert(b_, t0_));
    ASSERT_TRUE(index->stored(&cursor_));
  }
  std::filesystem::copy_file(earlier, filter, std::filesystem::copy_options::overwrite_existing);
  for (bool file_left : {true, false}) {  // an earlier stop's file; none, as after a crash
    if (!file_left) std::filesystem::remove(filter);
    auto index = open();
    // b_ is on disk but not in the earlier filter: it must not be ruled out by it.
    std::vector<DedupeKey> group{a_, b_, dedupe_key("acme", "c")};
    index->lookup(group);
    EXPECT_FALSE(index->insert(a_, t0_));
    EXPECT_FALSE(index->insert(b_, t0_));
    EXPECT_TRUE(index->insert(group[2], t0_));
    index->erase(group[2]);
    auto settled = index->settle();
    ASSERT_TRUE(settled) << settled.error().message;
    EXPECT_TRUE(index->filter_ready());
    EXPECT_TRUE(index->contains(a_));
    EXPECT_TRUE(index->contains(b_));
  }
}

// Verifies an index with nothing to store takes in the filter built after a crash (the ingest
// writer calls idle() while it waits), not only at the next group.
TEST_F(DiskDedupeIndexTest, IdleTakesInTheFilterBuiltMeanwhile) {
  {
    auto index = open();
    index->insert(a_, t0_);
    ASSERT_TRUE(index->stored(&cursor_));
  }
  std::filesystem::remove(dir_ / "dedupe" / "window.filter");  // as after a crash
  auto index = open();
  EXPECT_FALSE(index->filter_ready());  // built on a thread, taken only by the writer
  for (int i = 0; i < 1000 && !index->filter_ready(); ++i) {
    index->idle();
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_TRUE(index->filter_ready());
  EXPECT_TRUE(index->contains(a_));
}

// Verifies a filter full of ids is replaced by a larger one built from the disk, and that ids
// written while it was built are in it.
TEST_F(DiskDedupeIndexTest, GrowsItsFilterWhenFull) {
  auto index = open({.flush_ids = 100'000});
  constexpr int kIds = 2'500'000;  // past the smallest filter's million
  std::vector<DedupeKey> keys;
  for (int i = 0; i < kIds; ++i) {
    keys.push_back(dedupe_key("acme", std::to_string(i)));
    index->insert_new(keys.back(), t0_);
    if (i % 50'000 == 0) {
      ASSERT_TRUE(index->stored(nullptr));
    }
  }
  ASSERT_TRUE(index->stored(&cursor_));
  ASSERT_TRUE(index->settle());
  for (int i = 0; i < kIds; i += 997) ASSERT_TRUE(index->contains(keys[i])) << i;
  EXPECT_FALSE(index->contains(a_));
}

// Verifies expiry drops whole files once all of their ids are older than the window, oldest
// first, and keeps the newest file (and its checkpoint) even when it is old.
TEST_F(DiskDedupeIndexTest, DropsFilesTheWindowHasPassed) {
  auto files = [&] {
    std::size_t n = 0;
    for (const auto& entry : std::filesystem::directory_iterator(dir_ / "dedupe"))
      n += entry.path().extension() == ".sst" ? 1 : 0;
    return n;
  };
  {
    auto index = open({.flush_ids = 1});
    for (int day = 0; day < 3; ++day) {
      index->insert(dedupe_key("acme", std::to_string(day)), t0_ + std::chrono::days(day));
      ASSERT_TRUE(index->stored(&cursor_));
      ASSERT_TRUE(index->settle());
    }
    std::size_t before = files();
    index->expire(t0_ + std::chrono::days(1) + std::chrono::hours(1));
    EXPECT_EQ(files(), before - 2);  // days 0 and 1 gone
    EXPECT_TRUE(index->contains(dedupe_key("acme", "2")));
    EXPECT_TRUE(index->insert(dedupe_key("acme", "0"), t0_ + std::chrono::days(3)));
    index->erase(dedupe_key("acme", "0"));
    index->expire(t0_ + std::chrono::days(30));
  }
  auto index = open();
  EXPECT_EQ(index->checkpoint(), cursor_);
}

// Verifies an index written by an older meterd (universal compaction, a file beyond level 0)
// is cleared at open, to be rebuilt from the events, instead of refusing to start.
TEST_F(DiskDedupeIndexTest, ClearsAnIndexOfTheOlderLayout) {
  {
    rocksdb::Options options;
    options.create_if_missing = true;
    options.compaction_style = rocksdb::kCompactionStyleUniversal;
    rocksdb::DB* raw = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(options, (dir_ / "dedupe").string(), &raw).ok());
    std::unique_ptr<rocksdb::DB> db(raw);
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), "checkpoint", "202611:7").ok());
    ASSERT_TRUE(db->CompactRange(rocksdb::CompactRangeOptions(), nullptr, nullptr).ok());
  }
  auto index = open();
  ASSERT_TRUE(index);
  EXPECT_FALSE(index->checkpoint());
}

}  // namespace
}  // namespace meter::ingest
