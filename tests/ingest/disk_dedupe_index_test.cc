#include "ingest/disk_dedupe_index.h"

#include <gtest/gtest.h>

#include <fstream>

#include "support/temp_dir.h"

namespace meter::ingest {
namespace {

class DiskDedupeIndexTest : public ::testing::Test {
 protected:
  std::unique_ptr<DiskDedupeIndex> open() {
    auto index = DiskDedupeIndex::open(dir_ / "dedupe", {});
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

}  // namespace
}  // namespace meter::ingest
