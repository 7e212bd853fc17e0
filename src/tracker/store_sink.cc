#include "meter/store_sink.h"

#include <future>
#include <stdexcept>

#include "core/clock.h"
#include "ingest/disk_dedupe_index.h"
#include "ingest/event_json.h"
#include "ingest/ingestor.h"
#include "store/sqlite/data_dir_lock.h"
#include "store/sqlite/sqlite_store.h"

namespace meter {
namespace {

// meterd's write path without its HTTP server: parse and validate the lines, then the ingestor
// claims the ids and stores the fresh events in one durable group commit.
class StoreSink final : public Sink {
 public:
  explicit StoreSink(const std::filesystem::path& data_dir)
      : lock_(lock(data_dir)),
        store_(open(data_dir)),
        index_(open_index(data_dir, *store_)),
        ingestor_(*store_, *index_.index, clock_, ingest::IngestorOptions{}) {
    if (auto started = ingestor_.start(index_.covered ? &*index_.covered : nullptr); !started) {
      throw std::runtime_error("cannot rebuild the dedupe index of " + data_dir.string() + ": " +
                               started.error().message);
    }
  }

  Delivery deliver(const std::string& ndjson) override {
    auto parsed = ingest::parse_events(ndjson, ingest::BodyFormat::kNdjson, limits_, clock_.now());
    if (!parsed) return Delivery::failure("the batch could not be read: " + parsed.error().message);
    Delivery d{true, 0, 0, 0, {}};
    std::vector<Event> events;
    for (auto& item : *parsed) {
      if (item.error)
        ++d.rejected;
      else
        events.push_back(std::move(item.event));
    }
    if (events.empty()) return d;
    std::promise<Result<ingest::Outcomes>> done;
    auto outcome = done.get_future();
    ingestor_.submit(std::move(events),
                     [&done](Result<ingest::Outcomes> r) { done.set_value(std::move(r)); });
    auto stored = outcome.get();
    if (!stored) {  // not on disk: the tracker spills the batch and retries it
      return Delivery::failure("storing the batch failed: " + stored.error().message +
                               "; the events wait in the spill file");
    }
    for (const auto& o : *stored) {
      if (o.kind == ingest::Outcome::kStored)
        ++d.accepted;
      else if (o.kind == ingest::Outcome::kDuplicate)
        ++d.known;
      else
        ++d.rejected;
    }
    return d;
  }

 private:
  // Takes the folder's lock first: a meterd serving the same folder keeps a dedupe index of its
  // own, so both writing it would store a repeated id twice.
  static store::sqlite::DataDirLock lock(const std::filesystem::path& data_dir) {
    std::error_code ec;
    std::filesystem::create_directories(data_dir, ec);
    auto held = store::sqlite::DataDirLock::acquire(data_dir);
    if (!held) throw std::runtime_error(held.error().message);
    return std::move(*held);
  }

  // meterd's own index on disk, which it reads past its checkpoint at its next start.
  static ingest::OpenedDiskIndex open_index(const std::filesystem::path& data_dir, store::EventLog& log) {
    auto opened = ingest::open_disk_dedupe_index(data_dir / "dedupe", {}, log);
    if (!opened) throw std::runtime_error(opened.error().message);
    return std::move(*opened);
  }

  static std::unique_ptr<store::sqlite::SqliteStore> open(const std::filesystem::path& data_dir) {
    std::filesystem::path db = data_dir / "meterd.db";
    try {
      return std::make_unique<store::sqlite::SqliteStore>(store::sqlite::SqliteOptions{db});
    } catch (const std::exception& e) {
      throw std::runtime_error("cannot open the embedded store " + db.string() + ": " + e.what());
    }
  }

  SystemClock clock_;
  ingest::IngestLimits limits_;
  store::sqlite::DataDirLock lock_;  // before store_: held until the store is closed
  std::unique_ptr<store::sqlite::SqliteStore> store_;
  ingest::OpenedDiskIndex index_;  // before ingestor_, which uses it until it stops
  ingest::Ingestor ingestor_;
};

}  // namespace

std::unique_ptr<Sink> store_sink(const std::filesystem::path& data_dir) {
  return std::make_unique<StoreSink>(data_dir);
}

}  // namespace meter
