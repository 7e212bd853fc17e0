#pragma once

#include <absl/container/flat_hash_map.h>

#include <filesystem>
#include <memory>
#include <optional>

#include "core/error.h"
#include "ingest/dedupe_index.h"
#include "store/event_log.h"

namespace meter::ingest {

// The dedupe window's ids in RocksDB under a folder of their own (docs/storage.md, "The dedupe
// index"). Memory is bounded by the block cache, the bloom filters (RocksDB's, about 1.3 bytes per
// id, and the window filter's, 1 to 2 bytes per id) and the recent ids not yet written (at most
// twice `flush_ids`), not by the window.
//
// Exactness: claims wait in memory until stored(), which the writer calls only once their events
// are durable. Stored ids gather in memory and go to RocksDB in sorted files of `flush_ids`, written
// and added by a thread of the index's own, so the writer never waits for a file, and no id goes
// through RocksDB's memtable, whose inserts cost more than the rest of ingest. Each file also
// carries the last checkpoint given: every event stored up to that row has its id in the files.
// A start reads the rows past it again (inserting is idempotent), so after a crash the index and
// the store agree. Ids received before the cutoff given to expire() count as absent, and
// compactions drop them from the disk. Not thread-safe: owned by the ingest writer.
class DiskDedupeIndex final : public DedupeIndex {
 public:
  struct Options {
    std::size_t cache_bytes = std::size_t{128} << 20;
    std::size_t flush_ids = 1'000'000;  // ids gathered before they are written as one file
  };
  static Result<std::unique_ptr<DiskDedupeIndex>> open(const std::filesystem::path& dir,
                                                       const Options& options);
  ~DiskDedupeIndex() override;
  DiskDedupeIndex(const DiskDedupeIndex&) = delete;
  DiskDedupeIndex& operator=(const DiskDedupeIndex&) = delete;

  bool contains(const DedupeKey& key) const override;
  bool insert(const DedupeKey& key, Timestamp received_at) override;
  void insert_new(const DedupeKey& key, Timestamp received_at) override;
  // Records stored events' ids without looking them up: one already on disk is written again,
  // which is harmless, and a start after a crash does not wait for the filter.
  void insert_all(std::span<const std::pair<DedupeKey, Timestamp>> ids) override;
  void erase(const DedupeKey& key) override { recent_.erase(key); }
  // Sets the cutoff and returns 0: the ids are dropped by compactions, not counted one by one.
  std::size_t expire(Timestamp cutoff) override;
  // An estimate (RocksDB's count of keys, which includes ids not yet compacted away).
  std::size_t size() const override { return count_ + recent_.size(); }
  void prefetch(const DedupeKey& key) const override { recent_.prefetch(key); }
  // Looks the group's keys up on disk in one batch (RocksDB's MultiGet), which costs a fraction of
  // a lookup per key; inserting them in the same order then takes the answers.
  void lookup(std::span<const DedupeKey> keys) override;
  Status stored(const store::RowCursor* checkpoint) override;
  bool persistent() const override { return true; }
  // Takes a file written and a filter built meanwhile (and starts one if due).
  void idle() override;

  // Where a start goes on from, given the store's rows now: the checkpoint, when the store still
  // has every row it names. nullopt when there is none or the store holds another history (a
  // partition with fewer rows, or a recent one gone); the index is then cleared, to be rebuilt
  // from every event of the window.
  Result<std::optional<store::RowCursor>> resume_point(const store::RowCursor& stored);
  // The checkpoint last written (nullopt for a new index).
  const std::optional<store::RowCursor>& checkpoint() const { return checkpoint_; }
  // True once the window filter (window_filter.h) answers for the disk: read back after a clean
  // stop, else built from the disk by a thread of its own while lookups go to RocksDB.
  bool filter_ready() const override;
  // Writes every stored id to the disk and waits until a filter answers for them and is not
  // full, building one if need be: the state a long run settles in (benchmarks, tests). Call it
  // after stored(): claims not yet stored would be written too.
  Status settle();

 private:
  using Ids = absl::flat_hash_map<DedupeKey, std::uint32_t>;  // value: the hour received
  struct Db;
  explicit DiskDedupeIndex(std::unique_ptr<Db> db);
  // Starts writing recent_ as a file, unless a file is being written; `wait` waits for it.
  Status flush(bool wait);
  // Takes the result of a finished file: its ids are on disk, or back among the recent ones.
  Status collect(bool wait);
  Status clear();
  // Starts building a filter of the disk, sized for twice the ids now.
  void rebuild_filter();
  // Takes a filter built (`wait`: waits for one being built), and starts a new one when there is
  // none or the current one is full.
  Status poll_filter(bool wait);
  Status take_built_filter(bool wait);

  std::unique_ptr<Db> db_;
  // The hour on disk of `key` (kAbsent if none): from the last lookup() when `key` is the next
  // key it was given, else from RocksDB.
  std::uint32_t disk_hour(const DedupeKey& key) const;
  bool live(std::uint32_t hour) const;

  Ids recent_;                          // stored and not yet in a file, and the group's claims
  std::vector<DedupeKey> claims_;       // the group's claims, until stored()
  std::unique_ptr<const Ids> writing_;  // stored, in the file being written
  std::vector<DedupeKey> batch_;        // the last lookup()'s keys
  std::vector<std::uint32_t> found_;    // and the hour found on disk for each
  std::size_t batch_next_ = 0;          // the next key insert() expects
  static constexpr std::uint32_t kAbsent = ~std::uint32_t{0};
  std::optional<store::RowCursor> latest_;      // the last checkpoint given: recent_ and the files cover it
  std::optional<store::RowCursor> checkpoint_;  // the checkpoint in the files
  std::size_t count_ = 0;
};

// Opens the index in `dir` beside the store `log`, with the stored rows it already covers (a
// start reads the rest into it): what `meterd serve` and a tracker's store sink both do.
struct OpenedDiskIndex {
  std::unique_ptr<DiskDedupeIndex> index;
  std::optional<store::RowCursor> covered;
};
Result<OpenedDiskIndex> open_disk_dedupe_index(const std::filesystem::path& dir,
                                               const DiskDedupeIndex::Options& options, store::EventLog& log);

}  // namespace meter::ingest
