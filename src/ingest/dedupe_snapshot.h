#pragma once

#include <filesystem>
#include <optional>

#include "core/error.h"
#include "core/time.h"
#include "ingest/dedupe_index.h"
#include "store/event_log.h"

namespace meter::ingest {

// The dedupe index as a file, written when meterd stops cleanly, so that the next start reads
// it back instead of hashing every event of the dedupe window again. It says up to which row of
// each partition it is complete; the start then reads only the events stored past that.
// The file is removed as soon as it is read: after a crash there is none, and the index is
// rebuilt from the events as before.
struct DedupeSnapshot {
  Timestamp complete_since;  // every id received from then on is in the file
  store::RowCursor cursor;   // every event stored up to here is in the file
};

// Writes the index and `snapshot` to `path`: a temporary file, fsynced, then renamed over it.
Status save_dedupe_snapshot(const std::filesystem::path& path, const InMemoryDedupeIndex& index,
                            const DedupeSnapshot& snapshot);

// Reads `path` into `index` (the ids received at or after `received_since`), removes it, and
// returns the cursor to go on from. nullopt, with the index left empty and the reason logged,
// when there is no file or it cannot be trusted: damaged, of another format, not reaching back
// to `received_since`, or naming rows the store no longer has (`stored` is the store's cursor).
std::optional<store::RowCursor> load_dedupe_snapshot(const std::filesystem::path& path,
                                                     InMemoryDedupeIndex& index, Timestamp received_since,
                                                     const store::RowCursor& stored);

}  // namespace meter::ingest
