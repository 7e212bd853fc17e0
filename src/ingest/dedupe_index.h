#pragma once

#include <absl/container/flat_hash_map.h>

#include <cstdint>
#include <span>
#include <string_view>
#include <utility>

#include "core/time.h"
#include "store/event_log.h"

namespace meter::ingest {

// A 128-bit hash of (tenant_id, id): the identity of an event for exactly-once counting.
// Collisions are negligible (about 2^-64 for 2^32 events).
struct DedupeKey {
  std::uint64_t low = 0;
  std::uint64_t high = 0;
  friend bool operator==(const DedupeKey&, const DedupeKey&) = default;
  template <class H>
  friend H AbslHashValue(H h, const DedupeKey& k) {
    return H::combine(std::move(h), k.low);  // already a good hash: one word is enough
  }
};

DedupeKey dedupe_key(std::string_view tenant_id, std::string_view id);
// The hour (since the epoch) an id was received in: what an index keeps beside it, to expire it.
std::uint32_t dedupe_hour(Timestamp received_at);

// The ids seen within the dedupe window. Consulted and updated only by the ingest writer: it
// claims ids just before the store write and withdraws them when the write fails, so outside
// that step an id is in the index only with its event on disk.
// Implementations: in memory (rebuilt from the events at start) and on disk (disk_dedupe_index.h).
class DedupeIndex {
 public:
  virtual ~DedupeIndex() = default;
  virtual bool contains(const DedupeKey& key) const = 0;
  // Adds the key; false (and no change) when it was already there.
  virtual bool insert(const DedupeKey& key, Timestamp received_at) = 0;
  // Adds a key that cannot be there yet (Event::id_generated): an index on disk skips the lookup.
  virtual void insert_new(const DedupeKey& key, Timestamp received_at) { insert(key, received_at); }
  virtual void erase(const DedupeKey& key) = 0;
  // Forgets ids received before `cutoff`; returns how many.
  virtual std::size_t expire(Timestamp cutoff) = 0;
  virtual std::size_t size() const = 0;
  // A hint that `key` is about to be inserted: an index in memory fetches its slot meanwhile.
  virtual void prefetch(const DedupeKey&) const {}
  // The keys a group is about to insert, all at once: an index on disk looks them up in one pass.
  virtual void lookup(std::span<const DedupeKey>) {}
  // The claims made since the last call are stored with their events. An index on disk writes
  // them now, with `checkpoint` when given: every event stored up to that row has its id here.
  virtual Status stored(const store::RowCursor* /*checkpoint*/) { return {}; }
  // True for an index that outlives the process: the ingest writer hands it checkpoints.
  virtual bool persistent() const { return false; }
  // False while new ids cannot be answered from memory (the disk index building its filter after
  // a crash): lookups are then right, only slower.
  virtual bool filter_ready() const { return true; }
  // The writer has nothing to store: an index on disk takes in work finished in the background.
  virtual void idle() {}

  // Inserts the ids of stored events (a restart's millions), each slot fetched a few keys ahead so
  // that the cache misses of an index far larger than the cache overlap.
  virtual void insert_all(std::span<const std::pair<DedupeKey, Timestamp>> ids);
};

// In-process index: about 24 bytes per id. Not thread-safe; owned by the writer thread.
class InMemoryDedupeIndex final : public DedupeIndex {
 public:
  bool contains(const DedupeKey& key) const override { return ids_.contains(key); }
  bool insert(const DedupeKey& key, Timestamp received_at) override;
  void erase(const DedupeKey& key) override { ids_.erase(key); }
  std::size_t expire(Timestamp cutoff) override;
  std::size_t size() const override { return ids_.size(); }
  void prefetch(const DedupeKey& key) const override { ids_.prefetch(key); }

  // For a snapshot of the index (dedupe_snapshot.h): room for `n` ids, and every id with the hour
  // it was received in.
  void reserve(std::size_t n) { ids_.reserve(n); }
  void clear() { ids_.clear(); }
  template <class Visit>
  void for_each(Visit&& visit) const {
    for (const auto& [key, hour] : ids_) visit(key, hour);
  }

 private:
  // Value: the hour (since the epoch) the id was received; hours keep the entry small.
  absl::flat_hash_map<DedupeKey, std::uint32_t> ids_;
};

}  // namespace meter::ingest
