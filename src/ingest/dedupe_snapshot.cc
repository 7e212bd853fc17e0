#include "ingest/dedupe_snapshot.h"

#include <spdlog/spdlog.h>
#include <xxhash.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "core/replace_file.h"

namespace meter::ingest {
namespace {

// Layout, native byte order (the file never leaves the machine that wrote it):
//   "MTRDDUP1", complete_since (i64 ms), partitions (u64), {month i64, row i64} each,
//   ids (u64), {low u64, high u64, hour u32} each, XXH64 of everything before (u64).
constexpr char kMagic[8] = {'M', 'T', 'R', 'D', 'D', 'U', 'P', '1'};
constexpr std::size_t kIdBytes = 8 + 8 + 4;

// XXH64's streaming state (opaque in the shared library's header).
struct HashState {
  HashState() : state(XXH64_createState()) { XXH64_reset(state, 0); }
  ~HashState() { XXH64_freeState(state); }
  HashState(const HashState&) = delete;
  HashState& operator=(const HashState&) = delete;
  XXH64_state_t* state;
};

// Appends to a file descriptor through a buffer, hashing what it writes.
class HashedWriter {
 public:
  explicit HashedWriter(int fd) : fd_(fd) { buffer_.reserve(1 << 20); }
  template <class T>
  void put(const T& value) {
    const char* bytes = reinterpret_cast<const char*>(&value);
    buffer_.append(bytes, sizeof value);
    if (buffer_.size() >= (1 << 20)) flush();
  }
  bool finish() {
    flush();
    std::uint64_t sum = XXH64_digest(hash_.state);
    return ok_ && write_all(fd_, &sum, sizeof sum);
  }

 private:
  void flush() {
    XXH64_update(hash_.state, buffer_.data(), buffer_.size());
    ok_ = ok_ && write_all(fd_, buffer_.data(), buffer_.size());
    buffer_.clear();
  }

  int fd_;
  bool ok_ = true;
  std::string buffer_;
  HashState hash_;
};

template <class T>
bool get(std::istream& in, T& value) {
  return static_cast<bool>(in.read(reinterpret_cast<char*>(&value), sizeof value));
}

// The header, checked against the file's size: nullopt and `why` when unusable. The checksum is
// checked as the ids are read.
struct Header {
  DedupeSnapshot snapshot;
  std::uint64_t ids = 0;
  std::streamoff ids_at = 0;  // where the ids begin
};

std::optional<Header> read_header(std::istream& in, std::uintmax_t size, std::string& why) {
  char magic[sizeof kMagic];
  std::int64_t since_ms = 0;
  std::uint64_t partitions = 0;
  Header h;
  if (!in.read(magic, sizeof magic) || std::memcmp(magic, kMagic, sizeof kMagic) != 0) {
    why = "not a dedupe snapshot of this meterd version";
    return std::nullopt;
  }
  if (!get(in, since_ms) || !get(in, partitions) || partitions > 100'000) {
    why = "its header is damaged";
    return std::nullopt;
  }
  h.snapshot.complete_since = from_unix_ms(since_ms);
  for (std::uint64_t i = 0; i < partitions; ++i) {
    std::int64_t month = 0, row = 0;
    if (!get(in, month) || !get(in, row)) {
      why = "its header is damaged";
      return std::nullopt;
    }
    h.snapshot.cursor[static_cast<int>(month)] = row;
  }
  if (!get(in, h.ids)) {
    why = "its header is damaged";
    return std::nullopt;
  }
  h.ids_at = in.tellg();
  if (size != static_cast<std::uintmax_t>(h.ids_at) + h.ids * kIdBytes + sizeof(std::uint64_t)) {
    why = "it is cut short or has bytes too many";
    return std::nullopt;
  }
  return h;
}

// Inserts the ids received at or after `received_since` into `index`, hashing every byte of the
// file as it goes; false (the index then holds whatever was read) when the checksum differs.
bool read_ids(std::istream& in, const Header& header, InMemoryDedupeIndex& index, Timestamp received_since) {
  HashState hash;
  std::vector<char> bytes(static_cast<std::size_t>(header.ids_at));
  in.seekg(0);
  if (!in.read(bytes.data(), header.ids_at)) return false;
  XXH64_update(hash.state, bytes.data(), bytes.size());
  index.reserve(header.ids);
  auto first_hour = std::chrono::floor<std::chrono::hours>(received_since);
  constexpr std::size_t kChunk = 4096;
  bytes.resize(kChunk * kIdBytes);
  std::vector<std::pair<DedupeKey, Timestamp>> ids;
  ids.reserve(kChunk);
  for (std::uint64_t left = header.ids; left > 0;) {
    std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(left, kChunk));
    if (!in.read(bytes.data(), static_cast<std::streamsize>(n * kIdBytes))) return false;
    XXH64_update(hash.state, bytes.data(), n * kIdBytes);
    for (std::size_t i = 0; i < n; ++i) {
      const char* at = bytes.data() + i * kIdBytes;
      DedupeKey key;
      std::uint32_t hour = 0;
      std::memcpy(&key.low, at, 8);
      std::memcpy(&key.high, at + 8, 8);
      std::memcpy(&hour, at + 16, 4);
      Timestamp received{std::chrono::hours(hour)};
      if (received >= first_hour) ids.emplace_back(key, received);
    }
    index.insert_all(ids);
    ids.clear();
    left -= n;
  }
  std::uint64_t sum = 0;
  return get(in, sum) && sum == XXH64_digest(hash.state);
}

}  // namespace

Status save_dedupe_snapshot(const std::filesystem::path& path, const InMemoryDedupeIndex& index,
                            const DedupeSnapshot& snapshot) {
  auto started = std::chrono::steady_clock::now();
  auto saved = replace_file(path, [&](int fd) {
    HashedWriter out(fd);
    out.put(kMagic);
    out.put(static_cast<std::int64_t>(to_unix_ms(snapshot.complete_since)));
    out.put(static_cast<std::uint64_t>(snapshot.cursor.size()));
    for (const auto& [month, row] : snapshot.cursor) {
      out.put(static_cast<std::int64_t>(month));
      out.put(static_cast<std::int64_t>(row));
    }
    out.put(static_cast<std::uint64_t>(index.size()));
    index.for_each([&](const DedupeKey& key, std::uint32_t hour) {
      out.put(key.low);
      out.put(key.high);
      out.put(hour);
    });
    return out.finish();
  });
  if (!saved) return saved;
  spdlog::info(
      "dedupe index saved to {}: {} ids in {} ms", path.string(), index.size(),
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started)
          .count());
  return {};
}

std::optional<store::RowCursor> load_dedupe_snapshot(const std::filesystem::path& path,
                                                     InMemoryDedupeIndex& index, Timestamp received_since,
                                                     const store::RowCursor& stored) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return std::nullopt;
  auto started = std::chrono::steady_clock::now();
  std::string why;
  std::ifstream in(path, std::ios::binary);
  auto header = read_header(in, std::filesystem::file_size(path, ec), why);
  if (header && header->snapshot.complete_since > received_since) {
    why = "it does not reach back to the start of the dedupe window (was the window made longer?)";
    header.reset();
  }
  if (header && !store::has_rows(stored, header->snapshot.cursor)) {
    why = "it counts events the store no longer has (a month dropped since?)";
    header.reset();
  }
  if (header && !read_ids(in, *header, index, received_since)) {
    why = "its checksum does not match";
    index.clear();
    header.reset();
  }
  std::filesystem::remove(path, ec);  // read once: a crash from here on means a full rebuild
  if (!header) {
    spdlog::warn("dedupe snapshot {} not used: {}; rebuilding the index from the stored events",
                 path.string(), why);
    return std::nullopt;
  }
  spdlog::info(
      "dedupe index: {} ids read from {} in {} ms", index.size(), path.string(),
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started)
          .count());
  return std::move(header->snapshot.cursor);
}

}  // namespace meter::ingest
