// Fills a data folder's dedupe index with N ids received over the last WINDOW_DAYS, as though
// meterd had taken them in, for bench/dedupe_scale.sh: on disk (DATA_DIR/dedupe, with a checkpoint
// at the store's rows) or in memory (saved as DATA_DIR/dedupe.snapshot, which the next start
// reads). The events themselves are not written: what is measured is the index, and a restart
// of either kind never reads events it has a checkpoint or snapshot for.
// Then prints what a lookup of a new id costs in that index (a million, in groups of 1,000 as
// the writer sees them): the part of ingest that grows with the window.
// Usage: dedupe_fill DATA_DIR disk|memory N [WINDOW_DAYS]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "core/clock.h"
#include "ingest/dedupe_snapshot.h"
#include "ingest/disk_dedupe_index.h"
#include "store/sqlite/sqlite_store.h"

namespace {

using namespace meter;

std::uint64_t splitmix64(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// Inserts n random ids spread over the window, a chunk at a time; `after_chunk` runs after each.
template <class AfterChunk>
void fill(ingest::DedupeIndex& index, std::uint64_t n, Timestamp now, int window_days,
          AfterChunk after_chunk) {
  std::uint64_t state = 42;
  std::vector<std::pair<ingest::DedupeKey, Timestamp>> chunk;
  auto window_ms = static_cast<std::uint64_t>(window_days) * 24 * 3600 * 1000;
  auto started = std::chrono::steady_clock::now();
  for (std::uint64_t done = 0; done < n;) {
    chunk.clear();
    for (; chunk.size() < 100'000 && done < n; ++done) {
      ingest::DedupeKey key{splitmix64(state), splitmix64(state)};
      chunk.emplace_back(key, now - std::chrono::milliseconds(splitmix64(state) % window_ms));
    }
    index.insert_all(chunk);
    after_chunk();
    if (done % 10'000'000 == 0 || done == n) {
      auto s = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
      std::fprintf(stderr, "dedupe_fill: %llu of %llu ids, %.0f s\n", static_cast<unsigned long long>(done),
                   static_cast<unsigned long long>(n), s);
    }
  }
}

// Claims a million new ids the way the ingest writer does (a group's lookup, then each insert)
// and prints the time per id; the claims are then dropped.
void time_new_ids(ingest::DedupeIndex& index, Timestamp now) {
  std::uint64_t state = 7;
  constexpr int kGroups = 1000;
  constexpr int kGroupSize = 1000;
  std::vector<ingest::DedupeKey> group(kGroupSize);
  auto started = std::chrono::steady_clock::now();
  for (int g = 0; g < kGroups; ++g) {
    for (auto& key : group) key = {splitmix64(state), splitmix64(state)};
    index.lookup(group);
    for (const auto& key : group) index.insert(key, now);
    for (const auto& key : group) index.erase(key);
  }
  auto ns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - started).count();
  std::printf("claiming a new id: %.0f ns (%d groups of %d)\n", ns / (kGroups * kGroupSize), kGroups,
              kGroupSize);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: dedupe_fill DATA_DIR disk|memory N [WINDOW_DAYS]\n");
    return 2;
  }
  std::filesystem::path data_dir = argv[1];
  std::string kind = argv[2];
  auto n = std::strtoull(argv[3], nullptr, 10);
  int window_days = argc > 4 ? std::atoi(argv[4]) : 35;
  std::filesystem::create_directories(data_dir);
  store::sqlite::SqliteStore store({data_dir / "meterd.db"});
  auto rows = store.row_cursor();
  if (!rows) {
    std::fprintf(stderr, "dedupe_fill: %s\n", rows.error().message.c_str());
    return 1;
  }
  Timestamp now = SystemClock().now();
  if (kind == "disk") {
    auto index = ingest::DiskDedupeIndex::open(data_dir / "dedupe", {});
    if (!index) {
      std::fprintf(stderr, "dedupe_fill: %s\n", index.error().message.c_str());
      return 1;
    }
    ingest::DiskDedupeIndex& disk = **index;
    Status written;
    fill(disk, n, now, window_days, [&] {
      if (written) written = disk.stored(nullptr);
    });
    if (written) written = disk.stored(&*rows);
    // Timed with the window filter in place, as meterd runs once it has built or read it back.
    if (written) written = disk.settle();
    if (!written) {
      std::fprintf(stderr, "dedupe_fill: %s\n", written.error().message.c_str());
      return 1;
    }
    time_new_ids(disk, now);
    return 0;
  }
  if (kind != "memory") {
    std::fprintf(stderr, "dedupe_fill: the kind is disk or memory, not %s\n", kind.c_str());
    return 2;
  }
  ingest::InMemoryDedupeIndex memory;
  memory.reserve(n);
  fill(memory, n, now, window_days, [] {});
  time_new_ids(memory, now);
  // Complete since before any window a start asks for (42 days by default).
  auto saved = ingest::save_dedupe_snapshot(data_dir / "dedupe.snapshot", memory,
                                            {now - std::chrono::days(400), *rows});
  if (!saved) {
    std::fprintf(stderr, "dedupe_fill: %s\n", saved.error().message.c_str());
    return 1;
  }
  return 0;
}
