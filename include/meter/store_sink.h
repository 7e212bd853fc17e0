#pragma once

// meter::store_sink(): a meter::Tracker that writes straight into meterd's embedded store,
// for a service that meters itself without running meterd beside it. Events go through the
// same validation, dedupe (by tenant and id) and group commit as meterd's /v1/events, so a
// spill shipped twice is still stored once. Library: meter::tracker_store.
//
// The folder is meterd's --data-dir: `meterd serve --data-dir DIR` later answers usage, quotas
// and invoices over these events, and with --clickhouse ships them on. One writer at a time:
// while a tracker writes to DIR, no meterd should serve it (its dedupe index and quota counters
// would not see the tracker's events until it restarts).

#include <filesystem>
#include <memory>

#include "meter/tracker.h"

namespace meter {

// Opens (creating it if needed) the embedded store in `data_dir` and its dedupe index on disk
// (`data_dir`/dedupe, the one meterd keeps by default), which it brings up to date with the store.
// Throws std::runtime_error naming the file when the store cannot be opened.
std::unique_ptr<Sink> store_sink(const std::filesystem::path& data_dir);

}  // namespace meter
