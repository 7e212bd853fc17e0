#include "ingest/window_filter.h"

#include <gtest/gtest.h>

#include <fstream>

#include "support/temp_dir.h"

namespace meter::ingest {
namespace {

DedupeKey nth(int i) { return dedupe_key("acme", "id-" + std::to_string(i)); }

// Verifies every id inserted is found, and that at capacity few absent ones come out "maybe".
TEST(WindowFilterTest, NeverMissesAnIdAndRarelyClaimsOne) {
  constexpr int kIds = 100'000;
  WindowFilter filter(kIds);
  for (int i = 0; i < kIds; ++i) filter.insert(nth(i));
  EXPECT_EQ(filter.added(), static_cast<std::size_t>(kIds));
  for (int i = 0; i < kIds; ++i) ASSERT_TRUE(filter.may_contain(nth(i))) << i;
  int false_positives = 0;
  for (int i = kIds; i < 2 * kIds; ++i) false_positives += filter.may_contain(nth(i)) ? 1 : 0;
  EXPECT_LT(false_positives, kIds * 4 / 100);  // about 2.5 % at 8 bits an id
}

// Verifies a saved filter reads back whole with its nonce, and is refused with another nonce,
// cut short, or with a byte changed.
TEST(WindowFilterTest, ReadsBackOnlyWhatItSaved) {
  testing::TempDir dir;
  auto path = dir / "window.filter";
  WindowFilter filter(1000);
  for (int i = 0; i < 1000; ++i) filter.insert(nth(i));
  ASSERT_TRUE(filter.save(path, 42));
  std::string why;
  auto loaded = WindowFilter::load(path, 42, why);
  ASSERT_TRUE(loaded) << why;
  EXPECT_EQ(loaded->added(), 1000u);
  EXPECT_EQ(loaded->capacity(), 1000u);
  for (int i = 0; i < 1000; ++i) ASSERT_TRUE(loaded->may_contain(nth(i)));
  EXPECT_FALSE(WindowFilter::load(path, 43, why));
  EXPECT_EQ(why, "it was saved at another state of the index");

  auto size = std::filesystem::file_size(path);
  {
    std::fstream file(path, std::ios::in | std::ios::out | std::ios::binary);
    file.seekp(static_cast<std::streamoff>(size / 2));
    file.put('\x5a');
  }
  EXPECT_FALSE(WindowFilter::load(path, 42, why));
  EXPECT_EQ(why, "its checksum does not match");
  std::filesystem::resize_file(path, size - 1);
  EXPECT_FALSE(WindowFilter::load(path, 42, why));
  EXPECT_EQ(why, "it is cut short or has bytes too many");
  EXPECT_FALSE(WindowFilter::load(dir / "none", 42, why));
}

}  // namespace
}  // namespace meter::ingest
