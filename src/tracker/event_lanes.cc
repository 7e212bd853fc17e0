#include "tracker/event_lanes.h"

#include <algorithm>
#include <atomic>
#include <cstring>

namespace meter {
namespace {

// What precedes an event's bytes in a lane: the lengths of its five strings, then its time.
struct Header {
  std::size_t sizes[5];
  std::int64_t timestamp_ms;
};

// A buffer's first capacity; it then grows to twice the largest batch a lane held.
constexpr std::size_t kInitialBytes = 256 * 1024;

std::size_t this_threads_lane(std::size_t lanes) {
  static std::atomic<std::size_t> next{0};
  thread_local const std::size_t mine = next.fetch_add(1, std::memory_order_relaxed);
  return mine % lanes;
}

// Gives `buffer` room for `bytes` and writes to every page of it, so that appends up to that
// size find their memory already mapped.
void prepare(std::string& buffer, std::size_t bytes) {
  buffer.clear();
  if (buffer.capacity() >= bytes) return;
  buffer.reserve(bytes);
  buffer.resize(bytes);
  buffer.clear();
}

// Makes room for `bytes` more in a full buffer, keeping its content: the whole new capacity is
// touched at once, so a burst that outgrows the buffer pays for its memory in a few calls
// (the buffer doubles) instead of a page fault every thirty events.
void grow(std::string& buffer, std::size_t bytes) {
  std::string bigger;
  prepare(bigger, 2 * (buffer.size() + bytes));
  bigger.append(buffer);
  buffer.swap(bigger);
}

}  // namespace

void EventLanes::append(const PackedEvent& e) {
  const std::string_view fields[5] = {e.id, e.tenant_id, e.event_type, e.quantity, e.metadata};
  Header header{{}, e.timestamp_ms};
  for (int i = 0; i < 5; ++i) header.sizes[i] = fields[i].size();
  Lane& lane = lanes_[this_threads_lane(kLanes)];
  MutexLock lock(lane.mutex);
  std::size_t bytes = sizeof header;
  for (auto field : fields) bytes += field.size();
  if (lane.filling.capacity() < kInitialBytes) prepare(lane.filling, kInitialBytes);  // once per lane
  if (lane.filling.size() + bytes > lane.filling.capacity()) grow(lane.filling, bytes);
  lane.filling.append(reinterpret_cast<const char*>(&header), sizeof header);
  for (auto field : fields) lane.filling.append(field);
  ++lane.appended;
}

std::size_t EventLanes::drain(const std::function<void(const PackedEvent&)>& visit) {
  std::size_t events = 0;
  for (Lane& lane : lanes_) {
    {
      MutexLock lock(lane.mutex);
      if (lane.filling.empty()) continue;
      lane.filling.swap(lane.draining);  // the lane gets the buffer prepared after its last drain
    }
    const char* at = lane.draining.data();
    const char* end = at + lane.draining.size();
    while (at < end) {
      Header header;
      std::memcpy(&header, at, sizeof header);
      at += sizeof header;
      std::string_view fields[5];
      for (int i = 0; i < 5; ++i) {
        fields[i] = std::string_view(at, header.sizes[i]);
        at += header.sizes[i];
      }
      visit({fields[0], fields[1], fields[2], fields[3], fields[4], header.timestamp_ms});
      ++events;
    }
    // Ready for the lane's next batch: twice this one, pages touched, outside the lock.
    prepare(lane.draining, std::max(kInitialBytes, 2 * lane.draining.size()));
  }
  return events;
}

std::uint64_t EventLanes::appended() {
  std::uint64_t total = 0;
  for (Lane& lane : lanes_) {
    MutexLock lock(lane.mutex);
    total += lane.appended;
  }
  return total;
}

}  // namespace meter
