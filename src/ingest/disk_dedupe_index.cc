#include "ingest/disk_dedupe_index.h"

#include <fmt/format.h>
#include <rocksdb/cache.h>
#include <rocksdb/compaction_filter.h>
#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/sst_file_writer.h>
#include <rocksdb/table.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <cstring>
#include <future>

namespace meter::ingest {
namespace {

// Ids are 'i' and their 16-byte key, with a 4-byte hour; the checkpoint's key sorts before them
// (it leads each file) and can never be taken for an id.
constexpr std::string_view kCheckpointKey = "checkpoint";
constexpr std::size_t kKeySize = 1 + sizeof(DedupeKey);

struct EncodedKey {
  char bytes[kKeySize];
  explicit EncodedKey(const DedupeKey& key) {
    bytes[0] = 'i';
    std::memcpy(bytes + 1, &key.low, 8);
    std::memcpy(bytes + 9, &key.high, 8);
  }
  rocksdb::Slice slice() const { return {bytes, kKeySize}; }
  friend bool operator<(const EncodedKey& a, const EncodedKey& b) {
    return std::memcmp(a.bytes, b.bytes, kKeySize) < 0;
  }
};

std::uint32_t decode_hour(const rocksdb::Slice& value) {
  std::uint32_t hour = 0;
  if (value.size() == sizeof hour) std::memcpy(&hour, value.data(), sizeof hour);
  return hour;
}

// Drops ids received before the cutoff when compactions rewrite their files.
class ExpiredIds final : public rocksdb::CompactionFilter {
 public:
  bool Filter(int /*level*/, const rocksdb::Slice& key, const rocksdb::Slice& value,
              std::string* /*new_value*/, bool* /*value_changed*/) const override {
    return key.size() == kKeySize && decode_hour(value) < cutoff_hour.load(std::memory_order_relaxed);
  }
  const char* Name() const override { return "meterd.ExpiredIds"; }

  std::atomic<std::uint32_t> cutoff_hour{0};
};

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
  ExpiredIds expired;
  std::shared_ptr<rocksdb::Cache> cache;
  rocksdb::Options rocks;
  std::unique_ptr<rocksdb::DB> db;
  rocksdb::ReadOptions read;
  std::future<Status> writing;  // the file being written, on a thread of its own
  std::optional<store::RowCursor> writing_checkpoint;
  std::uint64_t files = 0;
  std::vector<EncodedKey> lookup_keys;  // lookup()'s, kept between groups
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
    rocks.compaction_filter = &expired;
    rocks.compression = rocksdb::kNoCompression;  // hashes do not compress
    // Ids are random, so every file overlaps every other: leveled compaction would rewrite each id
    // some 20 times, universal (size-tiered) about log2(files) times.
    rocks.compaction_style = rocksdb::kCompactionStyleUniversal;
    rocks.compaction_options_universal.size_ratio = 10;
    rocks.compaction_options_universal.min_merge_width = 4;
    rocks.max_background_jobs = 2;
    rocks.periodic_compaction_seconds = 24 * 3600;  // expired ids leave the disk within about a day
    rocks.keep_log_file_num = 2;
    rocks.max_log_file_size = 8 << 20;
    rocks.info_log_level = rocksdb::InfoLogLevel::WARN_LEVEL;
    rocksdb::DB* raw = nullptr;
    auto s = rocksdb::DB::Open(rocks, dir.string(), &raw);
    if (!s.ok()) return fail(disk_error("cannot open " + dir.string(), s));
    db.reset(raw);
    return {};
  }

  std::size_t estimated_keys() const {
    std::uint64_t n = 0;
    db->GetIntProperty("rocksdb.estimate-num-keys", &n);
    return n;
  }

  // One sorted file of the ids, led by the checkpoint, added to the database whole.
  Status write_file(const Ids& ids, const std::optional<store::RowCursor>& checkpoint) {
    std::vector<std::pair<EncodedKey, std::uint32_t>> sorted;
    sorted.reserve(ids.size());
    for (const auto& [key, hour] : ids) sorted.emplace_back(EncodedKey(key), hour);
    std::sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    auto path = (dir / fmt::format("add-{}.sst", ++files)).string();
    rocksdb::SstFileWriter writer(rocksdb::EnvOptions(), rocks);
    auto s = writer.Open(path);
    if (s.ok() && checkpoint) s = writer.Put(kCheckpointKey, encode_cursor(*checkpoint));
    for (std::size_t i = 0; s.ok() && i < sorted.size(); ++i) {
      s = writer.Put(sorted[i].first.slice(),
                     rocksdb::Slice(reinterpret_cast<const char*>(&sorted[i].second), sizeof(std::uint32_t)));
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
  return index;
}

DiskDedupeIndex::DiskDedupeIndex(std::unique_ptr<Db> db) : db_(std::move(db)) {}

DiskDedupeIndex::~DiskDedupeIndex() {
  // A clean stop writes every stored id out, so that the next start has nothing to read again;
  // claims never stored are withdrawn first.
  for (const DedupeKey& key : claims_) recent_.erase(key);
  if (db_->db) {
    if (auto s = flush(true); !s)
      spdlog::error("{}; the next start reads their events again", s.error().message);
  }
}

bool DiskDedupeIndex::live(std::uint32_t hour) const {
  return hour != kAbsent && hour >= db_->expired.cutoff_hour.load(std::memory_order_relaxed);
}

std::uint32_t DiskDedupeIndex::disk_hour(const DedupeKey& key) const {
  if (batch_next_ < batch_.size() && batch_[batch_next_] == key) return found_[batch_next_];
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
  if (keys.empty()) return;
  auto& encoded = db_->lookup_keys;
  encoded.clear();
  encoded.reserve(keys.size());
  for (const DedupeKey& key : keys) encoded.emplace_back(key);
  auto& slices = db_->lookup_slices;
  slices.resize(keys.size());
  for (std::size_t i = 0; i < keys.size(); ++i) slices[i] = encoded[i].slice();
  if (db_->lookup_values.size() < keys.size()) db_->lookup_values.resize(keys.size());
  db_->lookup_statuses.resize(keys.size());
  db_->db->MultiGet(db_->read, db_->db->DefaultColumnFamily(), keys.size(), slices.data(),
                    db_->lookup_values.data(), db_->lookup_statuses.data());
  for (std::size_t i = 0; i < keys.size(); ++i) {
    const auto& status = db_->lookup_statuses[i];
    if (status.ok()) found_[i] = decode_hour(db_->lookup_values[i]);
    if (!status.ok() && !status.IsNotFound()) {
      // Not known: the batch ends here, and insert() asks RocksDB itself from this key on.
      batch_.resize(i);
      break;
    }
    db_->lookup_values[i].Reset();
  }
}

bool DiskDedupeIndex::insert(const DedupeKey& key, Timestamp received_at) {
  // The next key of the batch looked up, or another (then RocksDB is asked below, if need be).
  bool batched = batch_next_ < batch_.size() && batch_[batch_next_] == key;
  std::uint32_t on_disk = batched ? found_[batch_next_++] : kAbsent;
  std::uint32_t hour = dedupe_hour(received_at);
  if (auto it = recent_.find(key); it != recent_.end()) {
    if (live(it->second)) return false;
    it->second = hour;  // expired: claimed anew
    claims_.push_back(key);
    return true;
  }
  if (writing_) {
    if (auto it = writing_->find(key); it != writing_->end() && live(it->second)) return false;
  }
  if (!batched) on_disk = disk_hour(key);
  if (live(on_disk)) return false;
  recent_.emplace(key, hour);
  claims_.push_back(key);
  return true;
}

void DiskDedupeIndex::insert_new(const DedupeKey& key, Timestamp received_at) {
  recent_.insert_or_assign(key, dedupe_hour(received_at));
  claims_.push_back(key);
}

std::size_t DiskDedupeIndex::expire(Timestamp cutoff) {
  db_->expired.cutoff_hour.store(dedupe_hour(cutoff), std::memory_order_relaxed);
  count_ = db_->estimated_keys();
  return 0;
}

Status DiskDedupeIndex::stored(const store::RowCursor* checkpoint) {
  claims_.clear();
  batch_.clear();  // from here ids may move from memory to disk, where lookup() did not look
  if (checkpoint != nullptr) latest_ = *checkpoint;
  if (recent_.size() >= db_->options.flush_ids) return flush(false);
  return collect(false);
}

Status DiskDedupeIndex::flush(bool wait) {
  auto collected = collect(wait);
  if (writing_ || (recent_.empty() && latest_ == checkpoint_)) return collected;
  writing_ = std::make_unique<const Ids>(std::move(recent_));
  recent_ = Ids();
  db_->writing_checkpoint = latest_;
  db_->writing = std::async(std::launch::async, [db = db_.get(), ids = writing_.get()] {
    return db->write_file(*ids, db->writing_checkpoint);
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
