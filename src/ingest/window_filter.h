#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>

#include "core/error.h"
#include "core/sync.h"
#include "ingest/dedupe_index.h"

namespace meter::ingest {

// A bloom filter of every id the dedupe index on disk holds, in memory: a new id (almost every id
// a client sends) is answered here with one cache line, instead of a probe of each RocksDB file's
// own filter. It never says "absent" for an id it was given; about 2.5 % of absent ids come out
// "maybe" at capacity (far fewer below it), and those are then looked up on disk.
// Split-block layout (as Parquet's and Impala's): each key sets one bit in each of the 8 words of
// one 32-byte block, so a probe touches one cache line. DedupeKey is already a 128-bit hash: its
// low half picks the block, its high half the bits. Inserts may come from several threads, one
// at a time; may_contain() takes no lock, and sees an insert once it has synchronized with the
// inserting thread.
class WindowFilter {
 public:
  // Room for `capacity` ids at 8 bits each.
  explicit WindowFilter(std::size_t capacity);

  // Inserts may come from several threads; they take turns (a lock per call, so pass many).
  void insert(std::span<const DedupeKey> keys);
  void insert(const DedupeKey& key) { insert(std::span<const DedupeKey>(&key, 1)); }
  bool may_contain(const DedupeKey& key) const;
  // Starts loading the cache line may_contain(key) reads: a group asks for many keys.
  void prefetch(const DedupeKey& key) const { __builtin_prefetch(&data_[block_of(key)]); }

  std::size_t capacity() const { return capacity_; }
  // Inserts so far, repeats included; past capacity() false positives grow, and the index
  // builds a larger filter.
  std::size_t added() const { return added_.load(std::memory_order_relaxed); }
  std::size_t bytes() const { return blocks_ * sizeof(Block); }

  // Writes the filter to `path` (a temporary file, fsynced, renamed over it) with `nonce`, the
  // value that ties it to the index's state when it was saved.
  Status save(const std::filesystem::path& path, std::uint64_t nonce) const;
  // Reads a filter saved with `nonce`; nullptr, with `why`, when there is none, or it is damaged
  // or of another state.
  static std::unique_ptr<WindowFilter> load(const std::filesystem::path& path, std::uint64_t nonce,
                                            std::string& why);

 private:
  struct alignas(32) Block {  // within one cache line
    std::atomic<std::uint32_t> words[8];
  };
  WindowFilter(std::size_t capacity, std::size_t blocks);
  std::size_t block_of(const DedupeKey& key) const;

  std::size_t capacity_;
  std::size_t blocks_;
  std::unique_ptr<Block[]> data_;
  std::atomic<std::size_t> added_{0};
  Mutex inserting_;
};

}  // namespace meter::ingest
