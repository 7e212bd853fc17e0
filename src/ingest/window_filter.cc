#include "ingest/window_filter.h"

#include <xxhash.h>

#include <cstring>
#include <fstream>

#include "core/replace_file.h"

namespace meter::ingest {
namespace {

constexpr std::size_t kBitsPerId = 8;
constexpr std::size_t kBlockBits = 256;

// One odd multiplier per word: the top 5 bits of hash * salt pick the word's bit (Parquet's salts).
constexpr std::uint32_t kSalt[8] = {0x47b6137bU, 0x44974d91U, 0x8824ad5bU, 0xa2b7289dU,
                                    0x705495c7U, 0x2df1424bU, 0x9efc4947U, 0x5c6bfb31U};

// Layout, native byte order (the file never leaves the machine that wrote it):
//   "MTRDFLT1", nonce u64, capacity u64, added u64, blocks u64, the blocks' words,
//   XXH64 of the words (u64).
constexpr char kMagic[8] = {'M', 'T', 'R', 'D', 'F', 'L', 'T', '1'};
struct Header {
  char magic[8];
  std::uint64_t nonce;
  std::uint64_t capacity;
  std::uint64_t added;
  std::uint64_t blocks;
};

}  // namespace

WindowFilter::WindowFilter(std::size_t capacity)
    : WindowFilter(capacity,
                   std::max<std::size_t>(1, (capacity * kBitsPerId + kBlockBits - 1) / kBlockBits)) {}

WindowFilter::WindowFilter(std::size_t capacity, std::size_t blocks)
    : capacity_(capacity), blocks_(blocks), data_(new Block[blocks]) {
  // Zeroed: atomics are value-initialized since C++20.
  static_assert(sizeof(Block) == 32 && std::atomic<std::uint32_t>::is_always_lock_free);
}

std::size_t WindowFilter::block_of(const DedupeKey& key) const {
  // The low half scaled onto [0, blocks): uniform without a division.
  __extension__ using Wide = unsigned __int128;
  return static_cast<std::size_t>((static_cast<Wide>(key.low) * blocks_) >> 64);
}

void WindowFilter::insert(std::span<const DedupeKey> keys) {
  // Plain loads and stores, not atomic read-modify-writes (8 locked instructions a key): the lock
  // keeps two inserting threads from losing each other's bits.
  MutexLock lock(inserting_);
  for (const DedupeKey& key : keys) {
    Block& block = data_[block_of(key)];
    auto hash = static_cast<std::uint32_t>(key.high);
    for (int i = 0; i < 8; ++i) {
      auto& word = block.words[i];
      word.store(word.load(std::memory_order_relaxed) | (std::uint32_t{1} << ((hash * kSalt[i]) >> 27)),
                 std::memory_order_relaxed);
    }
  }
  added_.store(added_.load(std::memory_order_relaxed) + keys.size(), std::memory_order_relaxed);
}

bool WindowFilter::may_contain(const DedupeKey& key) const {
  const Block& block = data_[block_of(key)];
  auto hash = static_cast<std::uint32_t>(key.high);
  for (int i = 0; i < 8; ++i) {
    std::uint32_t bit = std::uint32_t{1} << ((hash * kSalt[i]) >> 27);
    if ((block.words[i].load(std::memory_order_relaxed) & bit) == 0) return false;
  }
  return true;
}

Status WindowFilter::save(const std::filesystem::path& path, std::uint64_t nonce) const {
  // Saved once the inserting threads are done: the words are read as plain bytes.
  const void* words = static_cast<const void*>(data_.get());
  return replace_file(path, [&](int fd) {
    Header header{};
    std::memcpy(header.magic, kMagic, sizeof kMagic);
    header.nonce = nonce;
    header.capacity = capacity_;
    header.added = added();
    header.blocks = blocks_;
    std::uint64_t sum = XXH64(words, bytes(), 0);
    return write_all(fd, &header, sizeof header) && write_all(fd, words, bytes()) &&
           write_all(fd, &sum, sizeof sum);
  });
}

std::unique_ptr<WindowFilter> WindowFilter::load(const std::filesystem::path& path, std::uint64_t nonce,
                                                 std::string& why) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    why = "there is none";
    return nullptr;
  }
  Header header{};
  std::error_code ec;
  auto size = std::filesystem::file_size(path, ec);
  if (!in.read(reinterpret_cast<char*>(&header), sizeof header) ||
      std::memcmp(header.magic, kMagic, sizeof kMagic) != 0) {
    why = "it is not a filter of this meterd version";
    return nullptr;
  }
  if (header.nonce != nonce) {
    why = "it was saved at another state of the index";
    return nullptr;
  }
  if (ec || header.blocks == 0 || header.blocks > (std::uint64_t{1} << 40) ||
      size != sizeof header + header.blocks * sizeof(Block) + sizeof(std::uint64_t)) {
    why = "it is cut short or has bytes too many";
    return nullptr;
  }
  std::unique_ptr<WindowFilter> filter(new WindowFilter(header.capacity, header.blocks));
  char* words = reinterpret_cast<char*>(filter->data_.get());
  std::uint64_t sum = 0;
  if (!in.read(words, static_cast<std::streamsize>(filter->bytes())) ||
      !in.read(reinterpret_cast<char*>(&sum), sizeof sum) || sum != XXH64(words, filter->bytes(), 0)) {
    why = "its checksum does not match";
    return nullptr;
  }
  filter->added_.store(header.added, std::memory_order_relaxed);
  return filter;
}

}  // namespace meter::ingest
