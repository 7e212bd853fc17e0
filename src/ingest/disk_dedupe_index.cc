#include "ingest/disk_dedupe_index.h"

#include <fmt/format.h>
#include <rocksdb/cache.h>
#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/sst_file_reader.h>
#include <rocksdb/sst_file_writer.h>
#include <rocksdb/table.h>
#include <rocksdb/table_properties.h>
#include <rocksdb/utilities/options_util.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <charconv>
#include <cstring>
#include <future>
#include <map>
#include <random>

#include "ingest/window_filter.h"

namespace meter::ingest {
namespace {

// Ids are 'i' and their 16-byte key, with a 4-byte hour; the checkpoint's key sorts before them
// (it leads each file) and can never be taken for an id.
constexpr std::string_view kCheckpointKey = "checkpoint";
// The nonce of the window filter saved at the last clean stop: the file is believed only while
// the database holds the same nonce, which a start deletes before it changes anything.
constexpr std::string_view kFilterKey = "filter";
constexpr std::string_view kFilterFile = "window.filter";
constexpr std::size_t kKeySize = 1 + sizeof(DedupeKey);
// The smallest window filter built: 1 MB.
constexpr std::size_t kMinFilterIds = 1'000'000;

struct EncodedKey {
  char bytes[kKeySize];
  explicit EncodedKey(const DedupeKey& key) {
    bytes[0] = 'i';
    std::memcpy(bytes + 1, &key.low, 8);
    std::memcpy(bytes + 9, &key.high, 8);
  }
  rocksdb::Slice slice() const { return {bytes, kKeySize}; }
  static DedupeKey decode(const rocksdb::Slice& slice) {
    DedupeKey key;
    std::memcpy(&key.low, slice.data() + 1, 8);
    std::memcpy(&key.high, slice.data() + 9, 8);
    return key;
  }
};

std::uint32_t decode_hour(const rocksdb::Slice& value) {
  std::uint32_t hour = 0;
  if (value.size() == sizeof hour) std::memcpy(&hour, value.data(), sizeof hour);
  return hour;
}

// Records in each file the newest hour among its ids, so that expire() can drop the file whole
// once the window has passed it.
constexpr const char* kLastHourProperty = "meterd.last_hour";
class LastHour final : public rocksdb::TablePropertiesCollector {
 public:
  rocksdb::Status AddUserKey(const rocksdb::Slice& key, const rocksdb::Slice& value,
                             rocksdb::EntryType /*type*/, rocksdb::SequenceNumber /*seq*/,
                             std::uint64_t /*file_size*/) override {
    if (key.size() == kKeySize) last_ = std::max(last_, decode_hour(value));
    return rocksdb::Status::OK();
  }
  rocksdb::Status Finish(rocksdb::UserCollectedProperties* properties) override {
    (*properties)[kLastHourProperty] = std::to_string(last_);
    return rocksdb::Status::OK();
  }
  rocksdb::UserCollectedProperties GetReadableProperties() const override {
    return {{kLastHourProperty, std::to_string(last_)}};
  }
  const char* Name() const override { return "meterd.LastHour"; }

 private:
  std::uint32_t last_ = 0;
};

class LastHourFactory final : public rocksdb::TablePropertiesCollectorFactory {
 public:
  rocksdb::TablePropertiesCollector* CreateTablePropertiesCollector(Context /*context*/) override {
    return new LastHour();
  }
  const char* Name() const override { return "meterd.LastHourFactory"; }
};

// The newest hour recorded in a file's properties (0 for a file without ids, or from before).
std::uint32_t last_hour(const rocksdb::TableProperties& properties) {
  auto it = properties.user_collected_properties.find(kLastHourProperty);
  std::uint32_t hour = 0;
  if (it != properties.user_collected_properties.end())
    std::from_chars(it->second.data(), it->second.data() + it->second.size(), hour);
  return hour;
}

// "YYYYMM:row,YYYYMM:row"
std::string encode_cursor(const store::RowCursor& cursor) {
  std::string text;
  for (const auto& [month, row] : cursor) text += fmt::format("{}{}:{}", text.empty() ? "" : ",", month, row);
  return text;
}

std::optional<store::RowCursor> decode_cursor(std::string_view text) {
  store::RowCursor cursor;
  while (!text.empty()) {
    auto comma = text.find(',');
    auto item = text.substr(0, comma);
    auto colon = item.find(':');
    if (colon == std::string_view::npos) return std::nullopt;
    int month = 0;
    std::int64_t row = 0;
    auto m = std::from_chars(item.data(), item.data() + colon, month);
    auto r = std::from_chars(item.data() + colon + 1, item.data() + item.size(), row);
    if (m.ec != std::errc() || r.ec != std::errc() || r.ptr != item.data() + item.size()) return std::nullopt;
    cursor[month] = row;
    text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
  }
  return cursor;
}

// The store still has every row the checkpoint counts, leaving out partitions older than every
// one still there: retention dropped them, and their ids are past the window.
bool store_has(const store::RowCursor& stored, const store::RowCursor& checkpoint) {
  int oldest_stored = stored.empty() ? 0 : stored.begin()->first;
  return store::has_rows(stored, store::RowCursor(checkpoint.lower_bound(oldest_stored), checkpoint.end()));
}

Error disk_error(std::string_view what, const rocksdb::Status& s) {
  return Error::unavailable(fmt::format("dedupe index: {}: {}", what, s.ToString()));
}

}  // namespace

struct DiskDedupeIndex::Db {
  std::filesystem::path dir;
  Options options;
  std::atomic<std::uint32_t> cutoff_hour{0};  // ids received before it count as absent
  std::shared_ptr<rocksdb::Cache> cache;
  rocksdb::Options rocks;
  std::unique_ptr<rocksdb::DB> db;
  rocksdb::ReadOptions read;
  std::future<Status> writing;  // the file being written, on a thread of its own
  std::optional<store::RowCursor> writing_checkpoint;
  // Every id on disk, in memory (window_filter.h): null until one is built or read back.
  std::shared_ptr<WindowFilter> filter;
  // The next filter, being filled from the disk by a thread of its own (after a crash, or when
  // `filter` is full). Files written meanwhile go into both.
  std::shared_ptr<WindowFilter> building;
  std::future<Status> rebuilding;
  std::atomic<bool> stopping{false};
  std::chrono::steady_clock::time_point next_rebuild;  // after a failed build
  std::uint64_t files = 0;
  std::vector<std::size_t> lookup_positions;  // lookup()'s, kept between groups
  std::vector<EncodedKey> lookup_keys;
  std::vector<rocksdb::PinnableSlice> lookup_values;
  std::vector<rocksdb::Slice> lookup_slices;
  std::vector<rocksdb::Status> lookup_statuses;

  Status open() {
    rocksdb::BlockBasedTableOptions table;
    table.block_cache = cache;
    // Most lookups are of new ids: a bloom filter answers them without reading a block. Filters
    // and indexes stay in memory beside the cache (about 1.3 bytes per id in all).
    table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
    rocks = rocksdb::Options();
    rocks.create_if_missing = true;
    rocks.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
    rocks.compression = rocksdb::kNoCompression;  // hashes do not compress
    // Files are never rewritten: ids are random, so every file overlaps every other, and any
    // compaction rewrites each id several times (universal compaction cost a third of ingest's CPU
    // at 10M ids). FIFO keeps the files as written, in order; expire() drops the oldest whole once
    // the window has passed all of their ids. The window filter keeps lookups from visiting them
    // one by one. RocksDB's own limits on the number of files are lifted accordingly.
    rocks.compaction_style = rocksdb::kCompactionStyleFIFO;
    rocks.num_levels = 1;  // or a file added that overlaps none would go to a lower level
    rocks.compaction_options_fifo.max_table_files_size = std::uint64_t{1} << 60;
    rocks.level0_file_num_compaction_trigger = 1 << 30;
    rocks.level0_slowdown_writes_trigger = 1 << 30;
    rocks.level0_stop_writes_trigger = 1 << 30;
    rocks.table_properties_collector_factories = {std::make_shared<LastHourFactory>()};
    rocks.max_background_jobs = 2;
    rocks.keep_log_file_num = 2;
    rocks.max_log_file_size = 8 << 20;
    rocks.info_log_level = rocksdb::InfoLogLevel::WARN_LEVEL;
    if (auto s = clear_other_layout(); !s) return s;
    rocksdb::DB* raw = nullptr;
    auto s = rocksdb::DB::Open(rocks, dir.string(), &raw);
    if (!s.ok()) return fail(disk_error("cannot open " + dir.string(), s));
    db.reset(raw);
    return {};
  }

  // An index written by an older meterd (universal compaction, files beyond level 0) cannot be
  // opened with a single level: it is cleared, and rebuilt from the stored events like a new one.
  Status clear_other_layout() {
    rocksdb::ConfigOptions config;
    config.ignore_unknown_options = true;
    config.ignore_unsupported_options = true;
    rocksdb::DBOptions previous;
    std::vector<rocksdb::ColumnFamilyDescriptor> families;
    auto s = rocksdb::LoadLatestOptions(config, dir.string(), &previous, &families);
    if (!s.ok() || families.empty()) return {};
    const auto& written = families[0].options;
    if (written.compaction_style == rocksdb::kCompactionStyleFIFO && written.num_levels == 1) return {};
    spdlog::warn("dedupe index in {} was written by an older meterd; rebuilding it from the stored events",
                 dir.string());
    if (s = rocksdb::DestroyDB(dir.string(), rocksdb::Options()); !s.ok())
      return fail(disk_error("cannot clear " + dir.string(), s));
    return {};
  }

  // Drops whole files whose ids have all left the window, oldest first (the only file RocksDB lets
  // go of at level 0), always keeping the newest, whose checkpoint a start needs.
  Status drop_expired_files() {
    rocksdb::ColumnFamilyMetaData family;
    db->GetColumnFamilyMetaData(&family);
    if (family.levels.empty()) return {};
    const auto& level0 = family.levels[0].files;  // FIFO keeps every file at level 0, newest first
    rocksdb::TablePropertiesCollection properties;
    if (auto s = db->GetPropertiesOfAllTables(&properties); !s.ok())
      return fail(disk_error("cannot read the files' properties", s));
    std::map<std::string, std::uint32_t> hours;  // by file name
    for (const auto& [path, table] : properties)
      hours[std::filesystem::path(path).filename().string()] = last_hour(*table);
    auto cutoff = cutoff_hour.load(std::memory_order_relaxed);
    for (std::size_t i = level0.size(); i > 1; --i) {
      const auto& oldest = level0[i - 1];
      auto hour = hours.find(oldest.relative_filename);
      if (hour == hours.end() || hour->second >= cutoff) break;
      if (auto s = db->DeleteFile(oldest.name); !s.ok())
        return fail(disk_error("cannot drop " + oldest.relative_filename, s));
      spdlog::debug("dedupe index: dropped {}, whose ids are all older than the window",
                    oldest.relative_filename);
    }
    return {};
  }

  bool has_ids() const {
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(read));
    it->Seek("i");
    return it->Valid();
  }

  std::size_t estimated_keys() const {
    std::uint64_t n = 0;
    db->GetIntProperty("rocksdb.estimate-num-keys", &n);
    return n;
  }

  // One sorted file of the ids, led by the checkpoint, added to the database whole; the ids go into
  // `filters` first, so that they are there before they are on disk.
  Status write_file(const Ids& ids, const std::optional<store::RowCursor>& checkpoint,
                    const std::vector<std::shared_ptr<WindowFilter>>& filters) {
    // Sorted as RocksDB orders the encoded keys (bytes, so each half byte-swapped), by integer
    // comparisons instead of memcmp.
    struct Sortable {
      std::uint64_t low, high;  // byte-swapped
      std::uint32_t hour;
      DedupeKey key() const { return {std::byteswap(low), std::byteswap(high)}; }
      bool operator<(const Sortable& o) const { return low != o.low ? low < o.low : high < o.high; }
    };
    std::vector<Sortable> sorted;
    std::vector<DedupeKey> keys;
    sorted.reserve(ids.size());
    keys.reserve(ids.size());
    for (const auto& [key, hour] : ids) {
      sorted.push_back({std::byteswap(key.low), std::byteswap(key.high), hour});
      keys.push_back(key);
    }
    for (const auto& each : filters) each->insert(keys);
    std::sort(sorted.begin(), sorted.end());
    auto path = (dir / fmt::format("add-{}.sst", ++files)).string();
    rocksdb::SstFileWriter writer(rocksdb::EnvOptions(), rocks);
    auto s = writer.Open(path);
    if (s.ok() && checkpoint) s = writer.Put(kCheckpointKey, encode_cursor(*checkpoint));
    for (std::size_t i = 0; s.ok() && i < sorted.size(); ++i) {
      s = writer.Put(EncodedKey(sorted[i].key()).slice(),
                     rocksdb::Slice(reinterpret_cast<const char*>(&sorted[i].hour), sizeof(std::uint32_t)));
    }
    if (s.ok()) s = writer.Finish();
    if (s.ok()) {
      rocksdb::IngestExternalFileOptions add;
      add.move_files = true;
      s = db->IngestExternalFile({path}, add);
    }
    if (!s.ok()) {
      std::error_code ignored;
      std::filesystem::remove(path, ignored);
      return fail(disk_error("cannot add a file of " + std::to_string(ids.size()) + " ids", s));
    }
    return {};
  }

  // Every id on disk not yet expired into `into`; stops early when the index closes. The files are
  // read one by one, not through a merge of all of them (an id in two files is simply inserted
  // twice): a third of the work at a hundred files. Files added meanwhile go into `into` as they
  // are written; one dropped meanwhile stays readable until the end.
  Status fill_filter(WindowFilter& into) {
    if (auto s = db->DisableFileDeletions(); !s.ok()) return fail(disk_error("cannot hold the files", s));
    struct Held {
      rocksdb::DB* db;
      ~Held() { (void)db->EnableFileDeletions(/*force=*/false); }
    } held{db.get()};
    std::vector<rocksdb::LiveFileMetaData> live;
    db->GetLiveFilesMetaData(&live);
    rocksdb::ReadOptions scan;
    scan.fill_cache = false;
    scan.readahead_size = std::size_t{2} << 20;
    // In chunks, so that a file being written meanwhile waits for the filter only briefly.
    std::vector<DedupeKey> chunk;
    chunk.reserve(65536);
    auto add_chunk = [&] {
      into.insert(chunk);
      chunk.clear();
    };
    for (const auto& file : live) {
      rocksdb::SstFileReader reader(rocks);
      auto path = file.directory + "/" + file.relative_filename;
      auto s = reader.Open(path);
      if (!s.ok()) return fail(disk_error("cannot read " + path + " for the filter", s));
      auto properties = reader.GetTableProperties();
      if (properties && last_hour(*properties) < cutoff_hour.load(std::memory_order_relaxed)) continue;
      std::unique_ptr<rocksdb::Iterator> it(reader.NewIterator(scan));
      for (it->Seek("i"); it->Valid(); it->Next()) {
        if (it->key().size() != kKeySize) continue;
        if (decode_hour(it->value()) < cutoff_hour.load(std::memory_order_relaxed)) continue;
        chunk.push_back(EncodedKey::decode(it->key()));
        if (chunk.size() < chunk.capacity()) continue;
        add_chunk();
        if (stopping.load(std::memory_order_relaxed))
          return fail(Error::unavailable("dedupe index: closed while its filter was being built"));
      }
      if (!it->status().ok())
        return fail(disk_error("cannot read " + path + " for the filter", it->status()));
    }
    add_chunk();
    return {};
  }

  // The filter saved at the last clean stop, when it still describes the disk; the file and the
  // nonce are removed either way, so that a crash from here on means a rebuild.
  std::unique_ptr<WindowFilter> read_saved_filter(std::string& why) {
    auto path = dir / kFilterFile;
    std::string nonce;
    auto got = db->Get(read, kFilterKey, &nonce);
    std::unique_ptr<WindowFilter> loaded;
    why = "the last stop was not clean";
    if (got.ok() && nonce.size() == sizeof(std::uint64_t)) {
      std::uint64_t value = 0;
      std::memcpy(&value, nonce.data(), sizeof value);
      loaded = WindowFilter::load(path, value, why);
    }
    if (got.ok()) {
      rocksdb::WriteOptions sync;
      sync.sync = true;
      if (auto s = db->Delete(sync, kFilterKey); !s.ok()) {
        why = "cannot delete its nonce: " + s.ToString();
        loaded.reset();
      }
    }
    std::error_code ignored;
    std::filesystem::remove(path, ignored);
    return loaded;
  }

  // Saves `filter` and ties it to the database with a fresh nonce, at a clean stop.
  Status save_filter() {
    std::uint64_t nonce = (std::uint64_t{std::random_device()()} << 32) | std::random_device()();
    auto saved = filter->save(dir / kFilterFile, nonce);
    if (!saved) return saved;
    rocksdb::WriteOptions sync;
    sync.sync = true;
    auto s = db->Put(sync, kFilterKey, rocksdb::Slice(reinterpret_cast<const char*>(&nonce), sizeof nonce));
    if (!s.ok()) return fail(disk_error("cannot record the filter saved", s));
    return {};
  }

  // Stops a filter being built and forgets it.
  void stop_rebuild() {
    if (!building) return;
    stopping = true;
    rebuilding.wait();
    stopping = false;
    building.reset();
  }
};

Result<std::unique_ptr<DiskDedupeIndex>> DiskDedupeIndex::open(const std::filesystem::path& dir,
                                                               const Options& options) {
  auto db = std::make_unique<Db>();
  db->dir = dir;
  db->options = options;
  db->cache = rocksdb::NewLRUCache(options.cache_bytes);
  // A file being written when the process died was never added: RocksDB does not know it.
  std::error_code ignored;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ignored)) {
    if (entry.path().filename().string().starts_with("add-")) std::filesystem::remove(entry.path(), ignored);
  }
  if (auto s = db->open(); !s) return fail(s.error());
  std::unique_ptr<DiskDedupeIndex> index(new DiskDedupeIndex(std::move(db)));
  std::string text;
  if (index->db_->db->Get(index->db_->read, kCheckpointKey, &text).ok()) {
    index->checkpoint_ = decode_cursor(text);
    if (!index->checkpoint_) spdlog::warn("dedupe index: the checkpoint in {} is damaged", dir.string());
  }
  index->latest_ = index->checkpoint_;
  index->count_ = index->db_->estimated_keys();
  std::string why;
  index->db_->filter = index->db_->read_saved_filter(why);
  if (!index->db_->filter && !index->db_->has_ids())
    index->db_->filter = std::make_shared<WindowFilter>(kMinFilterIds);
  if (!index->db_->filter) {
    spdlog::info("dedupe index: the filter of {} is built again ({})", dir.string(), why);
    index->rebuild_filter();
  }
  return index;
}

DiskDedupeIndex::DiskDedupeIndex(std::unique_ptr<Db> db) : db_(std::move(db)) {}

DiskDedupeIndex::~DiskDedupeIndex() {
  // A clean stop writes every stored id out, so that the next start has nothing to read again;
  // claims never stored are withdrawn first.
  for (const DedupeKey& key : claims_) recent_.erase(key);
  if (!db_->db) return;
  if (auto s = flush(true); !s)
    spdlog::error("{}; the next start reads their events again", s.error().message);
  (void)take_built_filter(false);  // a filter just built is the one to save
  db_->stop_rebuild();
  if (db_->filter) {
    if (auto s = db_->save_filter(); !s)
      spdlog::warn("{}; the next start builds it again", s.error().message);
  }
}

void DiskDedupeIndex::rebuild_filter() {
  auto capacity = std::max(kMinFilterIds, 2 * (count_ + recent_.size()));
  db_->building = std::make_shared<WindowFilter>(capacity);
  db_->rebuilding = std::async(std::launch::async, [db = db_.get(), into = db_->building.get()] {
    auto started = std::chrono::steady_clock::now();
    auto built = db->fill_filter(*into);
    if (built) {
      spdlog::info(
          "dedupe index: filter built from the disk in {} ms: {} ids, {} MB",
          std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started)
              .count(),
          into->added(), into->bytes() >> 20);
    }
    return built;
  });
}

Status DiskDedupeIndex::take_built_filter(bool wait) {
  auto& db = *db_;
  if (!db.building || (!wait && db.rebuilding.wait_for(std::chrono::seconds(0)) != std::future_status::ready))
    return {};
  if (auto built = db.rebuilding.get(); !built) {
    db.building.reset();
    db.next_rebuild = std::chrono::steady_clock::now() + std::chrono::minutes(1);
    spdlog::warn("{}; trying again in a minute", built.error().message);
    return built;
  }
  db.filter = std::move(db.building);
  return {};
}

Status DiskDedupeIndex::poll_filter(bool wait) {
  auto& db = *db_;
  if (auto s = take_built_filter(wait); !s) return s;
  // A new filter is started between files, so that every file is either read by it from the disk
  // or written into it.
  bool wanted = !db.filter || db.filter->added() > db.filter->capacity();
  if (wanted && !db.building && !writing_ && std::chrono::steady_clock::now() >= db.next_rebuild)
    rebuild_filter();
  return {};
}

bool DiskDedupeIndex::filter_ready() const { return db_->filter != nullptr; }

void DiskDedupeIndex::idle() {
  // A file that failed keeps its ids in memory; the next group's stored() writes them again.
  if (auto s = collect(false); !s) spdlog::warn("{}; its ids stay in memory", s.error().message);
  (void)poll_filter(false);
}

Status DiskDedupeIndex::settle() {
  if (auto s = flush(true); !s) return s;  // a filter starts only between files
  do {
    if (auto s = poll_filter(true); !s) return s;
  } while (db_->building);
  return {};
}

bool DiskDedupeIndex::live(std::uint32_t hour) const {
  return hour != kAbsent && hour >= db_->cutoff_hour.load(std::memory_order_relaxed);
}

std::uint32_t DiskDedupeIndex::disk_hour(const DedupeKey& key) const {
  if (batch_next_ < batch_.size() && batch_[batch_next_] == key) return found_[batch_next_];
  if (db_->filter && !db_->filter->may_contain(key)) return kAbsent;
  EncodedKey encoded(key);
  rocksdb::PinnableSlice value;
  auto s = db_->db->Get(db_->read, db_->db->DefaultColumnFamily(), encoded.slice(), &value);
  return s.ok() ? decode_hour(value) : kAbsent;
}

bool DiskDedupeIndex::contains(const DedupeKey& key) const {
  for (const Ids* ids : {&recent_, writing_.get()}) {
    if (ids == nullptr) continue;
    if (auto it = ids->find(key); it != ids->end()) return live(it->second);
  }
  return live(disk_hour(key));
}

void DiskDedupeIndex::lookup(std::span<const DedupeKey> keys) {
  batch_.assign(keys.begin(), keys.end());
  batch_next_ = 0;
  found_.assign(keys.size(), kAbsent);
  // The keys the filter does not rule out go to RocksDB, in one MultiGet.
  auto& asked = db_->lookup_positions;
  asked.clear();
  const WindowFilter* filter = db_->filter.get();
  constexpr std::size_t kAhead = 8;  // a cache miss each: several in flight at once
  for (std::size_t i = 0; filter != nullptr && i < std::min(kAhead, keys.size()); ++i)
    filter->prefetch(keys[i]);
  for (std::size_t i = 0; i < keys.size(); ++i) {
    if (filter != nullptr && i + kAhead < keys.size()) filter->prefetch(keys[i + kAhead]);
    if (filter == nullptr || filter->may_contain(keys[i])) asked.push_back(i);
  }
  if (asked.empty()) return;
  auto& encoded = db_->lookup_keys;
  encoded.clear();
  encoded.reserve(asked.size());
  for (std::size_t i : asked) encoded.emplace_back(keys[i]);
  auto& slices = db_->lookup_slices;
  slices.resize(asked.size());
  for (std::size_t j = 0; j < asked.size(); ++j) slices[j] = encoded[j].slice();
  if (db_->lookup_values.size() < asked.size()) db_->lookup_values.resize(asked.size());
  db_->lookup_statuses.resize(asked.size());
  db_->db->MultiGet(db_->read, db_->db->DefaultColumnFamily(), asked.size(), slices.data(),
                    db_->lookup_values.data(), db_->lookup_statuses.data());
  for (std::size_t j = 0; j < asked.size(); ++j) {
    const auto& status = db_->lookup_statuses[j];
    if (status.ok()) found_[asked[j]] = decode_hour(db_->lookup_values[j]);
    if (!status.ok() && !status.IsNotFound()) {
      // Not known: the batch ends here, and insert() asks RocksDB itself from this key on.
      batch_.resize(asked[j]);
      break;
    }
    db_->lookup_values[j].Reset();
  }
}

bool DiskDedupeIndex::insert(const DedupeKey& key, Timestamp received_at) {
  // The next key of the batch looked up, or another (then RocksDB is asked below, if need be).
  bool batched = batch_next_ < batch_.size() && batch_[batch_next_] == key;
  std::uint32_t on_disk = batched ? found_[batch_next_++] : kAbsent;
  std::uint32_t hour = dedupe_hour(received_at);
  // Claimed at once (one probe of recent_ for a new id, the common case), let go if taken.
  auto [it, added] = recent_.try_emplace(key, hour);
  if (!added) {
    if (live(it->second)) return false;
    it->second = hour;  // expired: claimed anew
    claims_.push_back(key);
    return true;
  }
  bool taken = false;
  if (writing_) {
    auto w = writing_->find(key);
    taken = w != writing_->end() && live(w->second);
  }
  if (!taken) taken = live(batched ? on_disk : disk_hour(key));
  if (taken) {
    recent_.erase(it);
    return false;
  }
  claims_.push_back(key);
  return true;
}

void DiskDedupeIndex::insert_new(const DedupeKey& key, Timestamp received_at) {
  recent_.insert_or_assign(key, dedupe_hour(received_at));
  claims_.push_back(key);
}

void DiskDedupeIndex::insert_all(std::span<const std::pair<DedupeKey, Timestamp>> ids) {
  for (const auto& [key, received_at] : ids) insert_new(key, received_at);
}

std::size_t DiskDedupeIndex::expire(Timestamp cutoff) {
  db_->cutoff_hour.store(dedupe_hour(cutoff), std::memory_order_relaxed);
  if (auto s = db_->drop_expired_files(); !s) spdlog::warn("{}; trying again in an hour", s.error().message);
  count_ = db_->estimated_keys();
  return 0;
}

Status DiskDedupeIndex::stored(const store::RowCursor* checkpoint) {
  claims_.clear();
  batch_.clear();  // from here ids may move from memory to disk, where lookup() did not look
  if (checkpoint != nullptr) latest_ = *checkpoint;
  auto written = recent_.size() >= db_->options.flush_ids ? flush(false) : collect(false);
  // A filter that cannot be built is not the store's fault: lookups go to the disk meanwhile.
  (void)poll_filter(false);
  return written;
}

Status DiskDedupeIndex::flush(bool wait) {
  auto collected = collect(wait);
  if (writing_ || (recent_.empty() && latest_ == checkpoint_)) return collected;
  writing_ = std::make_unique<const Ids>(std::move(recent_));
  recent_ = Ids();
  // A full map will fill again: grown once now rather than rehashed on the way.
  if (writing_->size() >= db_->options.flush_ids) recent_.reserve(writing_->size());
  db_->writing_checkpoint = latest_;
  std::vector<std::shared_ptr<WindowFilter>> filters;
  for (const auto& each : {db_->filter, db_->building}) {
    if (each) filters.push_back(each);
  }
  db_->writing = std::async(std::launch::async, [db = db_.get(), ids = writing_.get(), filters] {
    return db->write_file(*ids, db->writing_checkpoint, filters);
  });
  if (!wait) return collected;
  auto written = collect(true);
  return collected ? written : collected;
}

Status DiskDedupeIndex::collect(bool wait) {
  if (!writing_) return {};
  if (!wait && db_->writing.wait_for(std::chrono::seconds(0)) != std::future_status::ready) return {};
  auto written = db_->writing.get();
  if (written) {
    count_ += writing_->size();
    if (db_->writing_checkpoint) checkpoint_ = db_->writing_checkpoint;
  } else {
    // Kept in memory, still claimed; the next file carries them again.
    for (const auto& [key, hour] : *writing_) recent_.try_emplace(key, hour);
  }
  writing_.reset();
  return written;
}

Result<std::optional<store::RowCursor>> DiskDedupeIndex::resume_point(const store::RowCursor& stored) {
  if (checkpoint_ && store_has(stored, *checkpoint_)) return checkpoint_;
  if (checkpoint_) {
    spdlog::warn(
        "dedupe index in {} names events the store no longer has (the store was replaced?); rebuilding it "
        "from the stored events",
        db_->dir.string());
  }
  if (checkpoint_ || count_ > 0) {
    if (auto s = clear(); !s) return fail(s.error());
  }
  return std::optional<store::RowCursor>();
}

Status DiskDedupeIndex::clear() {
  collect(true);
  db_->stop_rebuild();
  db_->filter = std::make_shared<WindowFilter>(kMinFilterIds);  // the database is empty
  std::error_code ignored;
  std::filesystem::remove(db_->dir / kFilterFile, ignored);
  claims_.clear();
  batch_.clear();
  recent_.clear();
  checkpoint_.reset();
  latest_.reset();
  count_ = 0;
  db_->db.reset();
  if (auto s = rocksdb::DestroyDB(db_->dir.string(), rocksdb::Options()); !s.ok())
    return fail(disk_error("cannot clear " + db_->dir.string(), s));
  return db_->open();
}

Result<OpenedDiskIndex> open_disk_dedupe_index(const std::filesystem::path& dir,
                                               const DiskDedupeIndex::Options& options,
                                               store::EventLog& log) {
  auto rows = log.row_cursor();
  if (!rows) return fail(Error::unavailable("cannot read the stored events: " + rows.error().message));
  auto index = DiskDedupeIndex::open(dir, options);
  if (!index) return fail(index.error());
  auto covered = (*index)->resume_point(*rows);
  if (!covered) return fail(covered.error());
  return OpenedDiskIndex{std::move(*index), std::move(*covered)};
}

}  // namespace meter::ingest
